//! The lexing half of the layers check: comments and strings stripped, tokens, and the
//! module paths a file imports (see `tests/layers.rs` for what counts as an import).

/// A module path, e.g. `["agent", "report"]`.
pub type ModPath = Vec<String>;

/// The source with comments, string and char literals blanked out (lifetimes kept).
pub fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    // Is the character before `i` part of an identifier?
    let ident = |i: usize| i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
    // An `r` opens a raw string unless it ends an identifier (`br` is a byte string's prefix).
    let starts_raw = |i: usize| !ident(i) || (c[i - 1] == 'b' && !ident(i - 1));
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            i = after_block_comment(&c, i);
            out.push(' ');
        } else if let Some((hashes, body)) = (c[i] == 'r' && starts_raw(i))
            .then(|| raw_start(&c, i))
            .flatten()
        {
            i = after_raw_string(&c, hashes, body);
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i = after_string(&c, i);
            out.push_str("\"\"");
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            i += 3; // the quote, the backslash and the escaped character

            while i < c.len() && c[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// At `/*`: the index after the comment (block comments nest).
fn after_block_comment(c: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// At `body`, just inside a raw string opened with `hashes` `#`: the index after its end.
fn after_raw_string(c: &[char], hashes: usize, body: usize) -> usize {
    let mut i = body;
    while i < c.len() && !(c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#'))) {
        i += 1;
    }
    i + 1 + hashes
}

/// At a string's opening quote: the index after its closing one.
fn after_string(c: &[char], mut i: usize) -> usize {
    i += 1;
    while i < c.len() && c[i] != '"' {
        i += if c[i] == '\\' { 2 } else { 1 };
    }
    i + 1
}

/// At `r#*"`: (number of `#`, index after the opening quote).
pub fn raw_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
    (c.get(i + 1 + hashes) == Some(&'"')).then_some((hashes, i + 2 + hashes))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

pub fn lex(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
            continue;
        }
        if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok::PathSep);
            i += 2;
            continue;
        }
        match ch {
            '{' => out.push(Tok::Open),
            '}' => out.push(Tok::Close),
            ',' => out.push(Tok::Comma),
            ';' => out.push(Tok::Semi),
            c if c.is_whitespace() => {}
            _ => out.push(Tok::Other),
        }
        i += 1;
    }
    out
}

/// The names a `pub use child::...;` brings in (the last segment of each leaf).
pub fn names_until_semicolon(tokens: &[Tok]) -> Vec<String> {
    let mut names = Vec::new();
    for (k, t) in tokens.iter().enumerate() {
        match t {
            Tok::Semi => break,
            Tok::Ident(n)
                if tokens.get(k + 1) != Some(&Tok::PathSep) && n != "as" && n != "self" =>
            {
                // `X as Y`: the name is Y.
                if k >= 1 && tokens[k - 1] == Tok::Ident("as".into()) {
                    names.pop();
                }
                names.push(n.clone());
            }
            _ => {}
        }
    }
    names
}

/// Every path the file's code names, resolved to a path from the library's root. `here` is the
/// file's module; inline `mod name { .. }` blocks extend it.
pub fn imports(text: &str, here: &[String], is_main: bool) -> Vec<ModPath> {
    let tokens = lex(text);
    let mut out = Vec::new();
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Ident(m) if m == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Open)) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    depth += 1;
                    inline.push((depth, name.clone()));
                    i += 3;
                    continue;
                }
            }
            Tok::Open => depth += 1,
            Tok::Close => {
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Tok::Ident(kw)
                if tokens.get(i + 1) == Some(&Tok::PathSep)
                    && (i == 0 || tokens[i - 1] != Tok::PathSep) =>
            {
                let module: ModPath = here
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(_, n)| n.clone()))
                    .collect();
                let base = match kw.as_str() {
                    "crate" | "self" | "super" if is_main => None,
                    "lichen" if is_main => Some(vec![]),
                    "crate" => Some(vec![]),
                    "self" => Some(module),
                    "super" => Some(module[..module.len().saturating_sub(1)].to_vec()),
                    _ => None,
                };
                if let Some(base) = base {
                    i = path_tree(&tokens, i + 2, base, &mut out);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads `seg :: seg :: .. [:: { tree, .. }]` from `i` below `prefix`; pushes every full path;
/// returns the index after it. `super` and `self` segments resolve against the prefix.
pub fn path_tree(
    tokens: &[Tok],
    mut i: usize,
    mut prefix: ModPath,
    out: &mut Vec<ModPath>,
) -> usize {
    loop {
        match tokens.get(i) {
            Some(Tok::Ident(s)) if s == "super" => {
                prefix.pop();
            }
            Some(Tok::Ident(s)) if s == "self" => {}
            Some(Tok::Ident(s)) => prefix.push(s.clone()),
            Some(Tok::Open) => {
                i += 1;
                while tokens.get(i).is_some_and(|t| *t != Tok::Close) {
                    if tokens[i] == Tok::Comma {
                        i += 1;
                        continue;
                    }
                    let before = i;
                    i = path_tree(tokens, i, prefix.clone(), out);
                    // `X as Y` and anything else that is not a path: step over it.
                    while tokens
                        .get(i)
                        .is_some_and(|t| *t != Tok::Comma && *t != Tok::Close)
                    {
                        i += 1;
                    }
                    if i == before {
                        i += 1;
                    }
                }
                return i + 1;
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
        i += 1;
        if tokens.get(i) != Some(&Tok::PathSep) {
            out.push(prefix);
            return i;
        }
        i += 1;
    }
}
