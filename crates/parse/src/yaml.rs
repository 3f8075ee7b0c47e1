//! The YAML subset kubeconfigs are written in (what `kubectl config view --raw` and k3s print):
//! block mappings and block sequences by indentation, plain and quoted scalars, comments.
//! Flow collections other than the empty `{}`/`[]`, block scalars (`|`, `>`), anchors and
//! multi-document files are not supported: a kubeconfig using them fails to parse (with the
//! line) rather than being misread.
//!
//! The document is flattened into `(path, value)` pairs, the path joining keys and sequence
//! indexes with `.`: `clusters.0.cluster.server` → `https://127.0.0.1:6443`.

use std::collections::BTreeMap;

/// A flattened document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flat(pub BTreeMap<String, String>);

impl Flat {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0.get(path).map(String::as_str)
    }
}

/// What went wrong, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub what: &'static str,
}

struct Frame {
    indent: usize,
    segment: String,
    item: bool,
}

/// The flattener's state between lines.
#[derive(Default)]
struct Flattener {
    out: BTreeMap<String, String>,
    /// The open mappings and sequence items, outermost first.
    stack: Vec<Frame>,
    /// The items seen so far of each sequence, by the sequence's path.
    counters: BTreeMap<String, usize>,
}

/// The largest document read: kubeconfigs are a few KiB (tens with embedded certificates).
pub const MAX_BYTES: usize = 1 << 20;
/// The deepest nesting of mappings and sequence items read (a kubeconfig needs 4).
pub const MAX_DEPTH: usize = 32;

/// Flattens `text`; refuses documents over [`MAX_BYTES`] (at the line where the limit is
/// crossed) or nested deeper than [`MAX_DEPTH`], so hostile input costs no more than that.
pub fn flatten(text: &str) -> Result<Flat, YamlError> {
    if text.len() > MAX_BYTES {
        let line = 1 + text.as_bytes()[..MAX_BYTES]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        return Err(YamlError {
            line,
            what: "the document is larger than 1 MiB (a kubeconfig is a few KiB)",
        });
    }
    let mut f = Flattener::default();
    for (n, raw) in text.lines().enumerate() {
        let err = |what| YamlError { line: n + 1, what };
        f.line(raw).map_err(err)?;
        if f.stack.len() > MAX_DEPTH {
            return Err(err("nested more than 32 levels deep"));
        }
    }
    Ok(Flat(f.out))
}

impl Flattener {
    /// One line of the document.
    fn line(&mut self, raw: &str) -> Result<(), &'static str> {
        let trimmed = raw.trim_end();
        let content = trimmed.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') || content == "---" {
            return Ok(());
        }
        if content.starts_with('\t') {
            return Err("tab indentation");
        }
        let mut indent = trimmed.len() - content.len();
        let mut rest = content;
        // A sequence item; what follows the dash is read as if indented past it.
        if rest == "-" || rest.starts_with("- ") {
            self.open_item(indent);
            let after = rest[1..].trim_start_matches(' ');
            indent += rest.len() - after.len();
            rest = after;
            if rest.is_empty() {
                return Ok(());
            }
            if key_value(rest).is_none() {
                self.out
                    .insert(path(&self.stack), scalar(rest).ok_or("bad scalar")?);
                return Ok(());
            }
        }
        let Some((key, value)) = key_value(rest) else {
            return Err("expected `key: value`");
        };
        self.entry(indent, key, value)
    }

    /// A sequence item's dash at `indent`: closes what it ends (the sequence's previous item
    /// included) and opens the item, numbered next in its sequence.
    fn open_item(&mut self, indent: usize) {
        let stack = &mut self.stack;
        while stack.last().is_some_and(|f| f.indent > indent) {
            stack.pop();
        }
        if stack.last().is_some_and(|f| f.item && f.indent == indent) {
            stack.pop();
        }
        let list = path(stack);
        let counter = self.counters.entry(list).or_insert(0);
        stack.push(Frame {
            indent,
            segment: counter.to_string(),
            item: true,
        });
        *counter += 1;
    }

    /// `key: value` at `indent`: opens a mapping when the value is empty, else one leaf.
    fn entry(&mut self, indent: usize, key: &str, value: &str) -> Result<(), &'static str> {
        let stack = &mut self.stack;
        while stack.last().is_some_and(|f| f.indent >= indent) {
            stack.pop();
        }
        let key = scalar(key).ok_or("bad key")?;
        if value.is_empty() {
            stack.push(Frame {
                indent,
                segment: key,
                item: false,
            });
            return Ok(());
        }
        if value.starts_with('|') || value.starts_with('>') || value.starts_with('&') {
            return Err("block scalars and anchors are not supported");
        }
        if value == "{}" || value == "[]" {
            return Ok(());
        }
        if value.starts_with('{') || value.starts_with('[') {
            return Err("flow collections are not supported");
        }
        let mut p = path(stack);
        if !p.is_empty() {
            p.push('.');
        }
        p.push_str(&key);
        self.out.insert(p, scalar(value).ok_or("bad scalar")?);
        Ok(())
    }
}

fn path(stack: &[Frame]) -> String {
    stack
        .iter()
        .map(|f| f.segment.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// Splits `key: value` (the value may be empty); `None` if the line is not a mapping entry.
fn key_value(s: &str) -> Option<(&str, &str)> {
    if s.starts_with('"') || s.starts_with('\'') {
        let q = s.as_bytes()[0] as char;
        let end = s[1..].find(q)? + 1;
        let after = s[end + 1..].strip_prefix(':')?;
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        return Some((&s[..=end], after.trim()));
    }
    let colon = s
        .find(": ")
        .or_else(|| s.strip_suffix(':').map(|k| k.len()))?;
    Some((&s[..colon], s[colon + 1..].trim()))
}

/// A scalar's value: quotes removed (with their escapes), trailing comments dropped.
fn scalar(s: &str) -> Option<String> {
    if let Some(body) = s.strip_prefix('\'') {
        let end = body.rfind('\'')?;
        return Some(body[..end].replace("''", "'"));
    }
    if let Some(body) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(match chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    c @ ('"' | '\\' | '/') => c,
                    _ => return None,
                }),
                c => out.push(c),
            }
        }
        return None;
    }
    let s = match s.find(" #") {
        Some(i) => &s[..i],
        None => s,
    };
    Some(s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_a_kubeconfig() {
        let doc = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: QUJD\n    server: https://127.0.0.1:6443 # local\n  name: default\n- name: \"other\"\n  cluster:\n    server: 'https://[::1]:443'\ncontexts:\n  - context:\n      cluster: default\n      user: default\n    name: default\ncurrent-context: default\nkind: Config\npreferences: {}\nusers:\n- name: default\n  user:\n    token: abc\n";
        let f = flatten(doc).unwrap();
        assert_eq!(
            f.get("clusters.0.cluster.server"),
            Some("https://127.0.0.1:6443")
        );
        assert_eq!(f.get("clusters.0.name"), Some("default"));
        assert_eq!(f.get("clusters.1.name"), Some("other"));
        assert_eq!(
            f.get("clusters.1.cluster.server"),
            Some("https://[::1]:443")
        );
        assert_eq!(f.get("contexts.0.context.user"), Some("default"));
        assert_eq!(f.get("contexts.0.name"), Some("default"));
        assert_eq!(f.get("current-context"), Some("default"));
        assert_eq!(f.get("users.0.user.token"), Some("abc"));
        assert_eq!(f.get("preferences"), None);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert_eq!(flatten("a: |\n  x\n").unwrap_err().line, 1);
        assert_eq!(flatten("a: 1\nb: {c: d}\n").unwrap_err().line, 2);
        assert_eq!(flatten("a: 1\njunk\n").unwrap_err().line, 2);
    }
}
