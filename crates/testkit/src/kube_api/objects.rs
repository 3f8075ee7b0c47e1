//! The Node objects the server stores: the k3s fixture as any node, and the JSON merge patch of
//! annotations the agent sends, applied as the API does (on one-line JSON, without a parser).

const NODE_TEMPLATE: &str = include_str!("../../../../tests/fixtures/k3s-node.json");

/// The k3s fixture as node `name`, on one line.
pub fn node_json(name: &str, pod_cidr: &str, ip: &str, rv: u64) -> String {
    node_json_stack(name, &[pod_cidr], &[ip], rv)
}

/// The k3s fixture as node `name` with one podCIDR and one InternalIP per address family, in
/// the order given (`spec.podCIDR` is the first podCIDR, as Kubernetes sets it; the fixture's
/// annotations name the first InternalIP), on one line.
pub fn node_json_stack(name: &str, pod_cidrs: &[&str], ips: &[&str], rv: u64) -> String {
    let quoted: Vec<String> = pod_cidrs.iter().map(|c| format!("\"{c}\"")).collect();
    let internal: Vec<String> = ips
        .iter()
        .map(|ip| format!(r#"{{"address":"{ip}","type":"InternalIP"}}"#))
        .collect();
    minify(&NODE_TEMPLATE.replace("edge-pi-01", name))
        .replace(
            r#""podCIDRs":["10.42.3.0/24"]"#,
            &format!(r#""podCIDRs":[{}]"#, quoted.join(",")),
        )
        .replace(
            r#"{"address":"198.51.100.21","type":"InternalIP"}"#,
            &internal.join(","),
        )
        .replace("10.42.3.0/24", pod_cidrs[0])
        .replace("198.51.100.21", ips[0])
        .replace("\"1849302\"", &format!("\"{rv}\""))
}

/// Applies a JSON merge patch `{"metadata":{"annotations":{"k":"v"|null,…}}}` (string values
/// only, what the agent sends) to a one-line Node; `None` if the patch has another shape.
pub fn patch_annotations(node: &str, patch: &str) -> Option<String> {
    let inner = patch
        .strip_prefix(r#"{"metadata":{"annotations":{"#)?
        .strip_suffix("}}}")?;
    let mut out = node.to_owned();
    let mut rest = inner;
    while !rest.is_empty() {
        let (key, r) = json_str(rest)?;
        let r = r.strip_prefix(':')?;
        let (value, r) = match r.strip_prefix("null") {
            Some(r) => (None, r),
            None => {
                let (v, r) = json_str(r)?;
                (Some(v), r)
            }
        };
        rest = r.strip_prefix(',').unwrap_or(r);
        // remove the key if present, then add the new value first
        let member = format!("{key}:");
        if let Some(i) = out.find(&member) {
            let (old, after) = json_str(&out[i + member.len()..])?;
            let end = i + member.len() + old.len();
            let (start, end) = match (after.starts_with(','), out[..i].ends_with(',')) {
                (true, _) => (i, end + 1),
                (false, true) => (i - 1, end),
                (false, false) => (i, end),
            };
            out.replace_range(start..end, "");
        }
        if let Some(v) = value {
            let at = out.find(r#""annotations":{"#)? + r#""annotations":{"#.len();
            let sep = if out[at..].starts_with('}') { "" } else { "," };
            out.insert_str(at, &format!("{key}:{v}{sep}"));
        }
    }
    Some(out)
}

/// The JSON string literal at the start of `s` (quotes and escapes kept) and what follows it.
fn json_str(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..=i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// Sets a one-line Node's `metadata.resourceVersion`.
pub(super) fn set_version(node: &str, rv: u64) -> String {
    let key = r#""resourceVersion":""#;
    match node.find(key) {
        Some(i) => {
            let start = i + key.len();
            let end = start + node[start..].find('"').unwrap_or(0);
            format!("{}{rv}{}", &node[..start], &node[end..])
        }
        None => node.to_owned(),
    }
}

/// Drops the whitespace outside strings.
fn minify(json: &str) -> String {
    let (mut out, mut in_str, mut esc) = (String::new(), false, false);
    for c in json.chars() {
        if in_str {
            out.push(c);
            match (esc, c) {
                (true, _) => esc = false,
                (false, '\\') => esc = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}
