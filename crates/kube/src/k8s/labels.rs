//! Labels and label selectors (`matchLabels` + `matchExpressions`), parsed and matched.
//!
//! Labels are a map with arbitrary keys; serde-json-core's map-key deserializer only supports
//! `deserialize_str`, so both maps here are read through [`Key`](super::json::Key).
//!
//! Matching follows `k8s.io/apimachinery/pkg/labels`: every `matchLabels` pair and every
//! requirement must hold; `In` needs the key with one of the values, `NotIn` holds when the key
//! is absent or its value is not listed, `Exists`/`DoesNotExist` test the key only. The empty
//! selector matches everything. A nil selector (a field that is absent) is not a selector at all:
//! callers keep it as `Option<LabelSelector>` because its meaning depends on where it is.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::json::Key;
use super::ParseError;

/// A label map, sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(pub BTreeMap<String, String>);

/// The empty label map, for objects without labels.
pub static NO_LABELS: Labels = Labels(BTreeMap::new());

impl Labels {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Labels {
    fn from(pairs: [(&str, &str); N]) -> Labels {
        Labels(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of labels")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let mut labels = BTreeMap::new();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            labels.insert(key, map.next_value::<String>()?);
        }
        Ok(Labels(labels))
    }
}

/// The operator of one `matchExpressions` requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Sorted and deduplicated; empty for `Exists`/`DoesNotExist`.
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In => value.is_some_and(listed),
            Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

/// A `metav1.LabelSelector`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches everything (`{}`).
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .0
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v.as_str()))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Checks and converts the JSON form; `field` names the selector in errors.
    pub(crate) fn from_raw(
        raw: RawSelector,
        field: &'static str,
    ) -> Result<LabelSelector, ParseError> {
        let mut match_expressions = Vec::new();
        for r in raw.match_expressions.unwrap_or_default() {
            let operator = match r.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                _ => {
                    return Err(ParseError::InvalidField {
                        field,
                        value: format!("operator {}", r.operator),
                    })
                }
            };
            let mut values = r.values.unwrap_or_default();
            values.sort();
            values.dedup();
            let needs_values = matches!(operator, Operator::In | Operator::NotIn);
            if r.key.is_empty() || needs_values == values.is_empty() {
                return Err(ParseError::InvalidField {
                    field,
                    value: format!("{} {:?} {:?}", r.key, operator, values),
                });
            }
            match_expressions.push(Requirement {
                key: r.key,
                operator,
                values,
            });
        }
        Ok(LabelSelector {
            match_labels: raw.match_labels.unwrap_or_default(),
            match_expressions,
        })
    }
}

/// The JSON form of a selector, checked by [`LabelSelector::from_raw`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RawSelector {
    #[serde(rename = "matchLabels")]
    match_labels: Option<Labels>,
    #[serde(rename = "matchExpressions")]
    match_expressions: Option<Vec<RawRequirement>>,
}

#[derive(Debug, Deserialize)]
struct RawRequirement {
    #[serde(default)]
    key: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    values: Option<Vec<String>>,
}

#[cfg(test)]
mod tests;
