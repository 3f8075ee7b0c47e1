//! Rule userdata in libnftnl's format, which `nft` reads: a list of TLVs `{ u8 type, u8 len,
//! value[len] }`. Type 0 (NFTNL_UDATA_RULE_COMMENT) is the rule's comment, a NUL-terminated
//! string (the length counts the NUL); `nft list ruleset` prints it as `comment "…"`.

const RULE_COMMENT: u8 = 0;
/// `nft` refuses longer comments.
const MAX_COMMENT: usize = 128;

/// The userdata of a rule whose only annotation is `comment` (cut to 128 bytes).
pub fn comment(text: &str) -> Vec<u8> {
    let mut end = text.len().min(MAX_COMMENT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text.as_bytes()[..end];
    let mut out = Vec::with_capacity(text.len() + 3);
    out.push(RULE_COMMENT);
    out.push(text.len() as u8 + 1);
    out.extend_from_slice(text);
    out.push(0);
    out
}

/// The comment in a rule's userdata, if it has a well-formed one.
pub fn parse_comment(mut data: &[u8]) -> Option<&str> {
    while let [kind, len, rest @ ..] = data {
        let value = rest.get(..*len as usize)?;
        if *kind == RULE_COMMENT {
            let text = value.strip_suffix(&[0])?;
            return std::str::from_utf8(text).ok();
        }
        data = &rest[value.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_is_one_nul_terminated_tlv() {
        assert_eq!(comment("ab"), [0, 3, b'a', b'b', 0]);
        assert_eq!(parse_comment(&comment("lichen")), Some("lichen"));
    }

    #[test]
    fn other_tlvs_are_skipped_and_garbage_is_none() {
        let mut data = vec![1, 2, 9, 9];
        data.extend(comment("x"));
        assert_eq!(parse_comment(&data), Some("x"));
        assert_eq!(parse_comment(&[0, 5, b'a']), None);
        assert_eq!(parse_comment(&[0, 1, b'a']), None); // no NUL
        assert_eq!(parse_comment(&[]), None);
    }

    #[test]
    fn long_comments_are_cut() {
        let long = "é".repeat(100); // 200 bytes
        let data = comment(&long);
        assert_eq!(data[1] as usize, 128 + 1);
        assert_eq!(parse_comment(&data).unwrap().len(), 128);
    }
}
