//! Generators for the seeded property tests of Lichen's text parsers (each crate's
//! `fuzz_tests`, seeded from `LICHEN_PARSE_SEED`): random edits of a text, random JSON.

use crate::rng::Rng;

/// Cases per property test.
pub const CASES: usize = 2000;

/// The property tests' generator: seeded from `LICHEN_PARSE_SEED` when set (the seed is
/// printed, to replay a failure), else from the clock.
pub fn rng() -> Rng {
    Rng::from_env("LICHEN_PARSE_SEED")
}

/// `text` with `n` random byte-level edits (insert, delete, replace with one of `alphabet`).
pub fn mutate(rng: &mut Rng, text: &str, alphabet: &[&str], n: usize) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..n {
        let at = rng.below(s.len() + 1);
        let piece: Vec<char> = rng.pick(alphabet).chars().collect();
        match rng.below(3) {
            0 => {
                s.splice(at..at, piece);
            }
            1 if at < s.len() => {
                s.remove(at);
            }
            _ if at < s.len() => {
                s.splice(at..at + 1, piece);
            }
            _ => {}
        }
    }
    s.into_iter().collect()
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

/// A random JSON value of at most `depth` levels.
pub fn json_value(rng: &mut Rng, depth: usize, out: &mut String) {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => out.push_str(pick(rng, &["true", "false", "null"])),
        1 => out.push_str(&format!("{}", rng.next_u64() as i64 as f64 / 1e3)),
        2 => out.push_str(pick(
            rng,
            &[r#""a\"b""#, r#""\u00e9\n""#, r#""""#, r#""\ud83d\ude00""#],
        )),
        3 => out.push_str(&(rng.next_u64() % 100_000).to_string()),
        4 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                json_value(rng, depth - 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&format!("\"k{i}\": "));
                json_value(rng, depth - 1, out);
            }
            out.push('}');
        }
    }
}

/// The pieces JSON mutations insert.
pub const JSON_BITS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "1e999", "-", " ", "\u{0}", "é", "tru",
];
