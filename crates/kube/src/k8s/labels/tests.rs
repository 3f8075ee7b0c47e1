use super::*;
use crate::k8s::json::from_json;

fn sel(json: &str) -> Result<LabelSelector, ParseError> {
    let raw: RawSelector = from_json(json.as_bytes())?;
    LabelSelector::from_raw(raw, "selector")
}

#[test]
fn empty_selector_matches_everything() {
    let s = sel("{}").unwrap();
    assert!(s.is_empty());
    assert!(s.matches(&Labels::default()));
    assert!(s.matches(&Labels::from([("a", "b")])));
    let s = sel(r#"{"matchLabels":null,"matchExpressions":[]}"#).unwrap();
    assert_eq!(s, LabelSelector::everything());
}

#[test]
fn match_labels_all_must_hold() {
    let s = sel(r#"{"matchLabels":{"app":"web","tier":"fe"}}"#).unwrap();
    assert!(s.matches(&Labels::from([("app", "web"), ("tier", "fe"), ("x", "y")])));
    assert!(!s.matches(&Labels::from([("app", "web")])));
    assert!(!s.matches(&Labels::from([("app", "web"), ("tier", "be")])));
}

#[test]
fn every_operator() {
    let l = |pairs: &[(&str, &str)]| {
        Labels(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        (
            r#"{"key":"env","operator":"In","values":["a","b"]}"#,
            &[("env", "b")],
            true,
        ),
        (
            r#"{"key":"env","operator":"In","values":["a","b"]}"#,
            &[("env", "c")],
            false,
        ),
        (
            r#"{"key":"env","operator":"In","values":["a"]}"#,
            &[],
            false,
        ),
        (
            r#"{"key":"env","operator":"NotIn","values":["a"]}"#,
            &[("env", "b")],
            true,
        ),
        (
            r#"{"key":"env","operator":"NotIn","values":["a"]}"#,
            &[("env", "a")],
            false,
        ),
        (
            r#"{"key":"env","operator":"NotIn","values":["a"]}"#,
            &[],
            true,
        ),
        (r#"{"key":"env","operator":"Exists"}"#, &[("env", "")], true),
        (
            r#"{"key":"env","operator":"Exists","values":[]}"#,
            &[("x", "env")],
            false,
        ),
        (r#"{"key":"env","operator":"DoesNotExist"}"#, &[], true),
        (
            r#"{"key":"env","operator":"DoesNotExist"}"#,
            &[("env", "a")],
            false,
        ),
    ];
    for (expr, labels, want) in cases {
        let s = sel(&format!(r#"{{"matchExpressions":[{expr}]}}"#)).unwrap();
        assert_eq!(s.matches(&l(labels)), *want, "{expr} on {labels:?}");
    }
}

#[test]
fn labels_and_expressions_combine_with_and() {
    let s = sel(r#"{"matchLabels":{"app":"db"},"matchExpressions":[
            {"key":"role","operator":"In","values":["primary"]},
            {"key":"canary","operator":"DoesNotExist"}]}"#)
    .unwrap();
    assert!(s.matches(&Labels::from([("app", "db"), ("role", "primary")])));
    assert!(!s.matches(&Labels::from([("app", "db"), ("role", "replica")])));
    assert!(!s.matches(&Labels::from([
        ("app", "db"),
        ("role", "primary"),
        ("canary", "1")
    ])));
    assert!(!s.matches(&Labels::from([("role", "primary")])));
}

#[test]
fn invalid_requirements_are_rejected() {
    for bad in [
        r#"{"key":"a","operator":"Equals","values":["x"]}"#,
        r#"{"key":"a","operator":"In","values":[]}"#,
        r#"{"key":"a","operator":"NotIn"}"#,
        r#"{"key":"a","operator":"Exists","values":["x"]}"#,
        r#"{"key":"","operator":"Exists"}"#,
    ] {
        let r = sel(&format!(r#"{{"matchExpressions":[{bad}]}}"#));
        assert!(
            matches!(
                r,
                Err(ParseError::InvalidField {
                    field: "selector",
                    ..
                })
            ),
            "{bad}: {r:?}"
        );
    }
}

#[test]
fn label_keys_and_values_are_unescaped() {
    let s = sel(r#"{"matchLabels":{"a\u002fb":"x\u0026y"}}"#).unwrap();
    assert_eq!(s.match_labels, Labels::from([("a/b", "x&y")]));
}
