//! The conflist as the installer sees it: is it Lichen's, which plugin types does its chain name,
//! and the same conflist with some chained plugins left out (those not on the node).
//!
//! The text is edited, not re-serialised: every plugin kept stays byte for byte as written.

use crate::cni::json::{self, Object};
use crate::cni::Code;

/// The plugin types of a conflist's `plugins` chain, in order, with each element's raw text.
pub struct Chain<'a> {
    text: &'a str,
    /// Byte range of the `plugins` array value within `text`.
    array: std::ops::Range<usize>,
    /// (type, raw element) per plugin.
    pub plugins: Vec<(String, &'a str)>,
}

impl<'a> Chain<'a> {
    /// Parses a conflist; the message says what is wrong with it.
    pub fn parse(text: &'a str) -> Result<Chain<'a>, String> {
        let bytes = text.as_bytes();
        json::check(bytes, "conflist").map_err(|e| e.msg)?;
        let top = Object::parse("", bytes, Code::InvalidConfig).map_err(|e| e.msg)?;
        let raw = top.raw("plugins").ok_or(
            "the conflist has no \"plugins\" list (a single-plugin .conf is not a conflist)",
        )?;
        let elements = json::array(raw).ok_or("\"plugins\" must be a list of plugin configs")?;
        let mut plugins = Vec::new();
        for (i, e) in elements.iter().enumerate() {
            let obj = Object::parse(&format!("plugins[{i}]"), e, Code::InvalidConfig)
                .map_err(|e| e.msg)?;
            let ty = obj
                .text("type")
                .map_err(|e| e.msg)?
                .ok_or(format!("plugins[{i}] has no \"type\""))?;
            plugins.push((ty, std::str::from_utf8(e).expect("a slice of a str")));
        }
        let start = raw.as_ptr() as usize - text.as_ptr() as usize;
        Ok(Chain {
            text,
            array: start..start + raw.len(),
            plugins,
        })
    }

    /// Is this Lichen's conflist: is its first plugin of type `lichen`?
    pub fn is_lichen(&self) -> bool {
        self.plugins.first().is_some_and(|(t, _)| t == "lichen")
    }

    /// The conflist with only the plugins whose type `keep` accepts, the rest of the text as it
    /// was.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> String {
        let kept: Vec<&str> = self
            .plugins
            .iter()
            .filter(|(t, _)| keep(t))
            .map(|(_, raw)| *raw)
            .collect();
        format!(
            "{}[\n    {}\n  ]{}",
            &self.text[..self.array.start],
            kept.join(",\n    "),
            &self.text[self.array.end..]
        )
    }
}

/// The built-in conflist with `"mode"` set in Lichen's plugin config (the text is edited: the
/// member goes right after its `"type": "lichen",`).
pub fn with_mode(builtin: &str, mode: crate::cni::Mode) -> String {
    const TYPE: &str = r#""type": "lichen","#;
    debug_assert!(builtin.contains(TYPE) && !builtin.contains(r#""mode""#));
    builtin.replacen(
        TYPE,
        &format!("{TYPE}\n      \"mode\": \"{}\",", mode.as_str()),
        1,
    )
}

/// Is this text a conflist of Lichen's (its first plugin is of type `lichen`)? Unparsable text
/// is not.
pub fn is_ours(text: &str) -> bool {
    Chain::parse(text).is_ok_and(|c| c.is_lichen())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_chain_and_leaves_plugins_out_verbatim() {
        let text = crate::install::DEFAULT_CONFLIST;
        let c = Chain::parse(text).unwrap();
        let types: Vec<&str> = c.plugins.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(types, ["lichen", "portmap", "bandwidth"]);
        assert!(c.is_lichen());
        let only = c.retain(|t| t != "bandwidth");
        let again = Chain::parse(&only).unwrap();
        let types: Vec<&str> = again.plugins.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(types, ["lichen", "portmap"]);
        assert_eq!(again.plugins[1].1, c.plugins[1].1, "kept byte for byte");
        assert!(
            only.contains(r#""cniVersions""#),
            "the rest is kept: {only}"
        );
    }

    #[test]
    fn the_mode_goes_into_lichens_plugin_config() {
        use crate::cni::Mode;
        for m in [Mode::Routed, Mode::Bridge] {
            let text = with_mode(crate::install::DEFAULT_CONFLIST, m);
            let c = Chain::parse(&text).unwrap();
            let (ty, raw) = &c.plugins[0];
            assert_eq!(ty, "lichen");
            let conf =
                crate::cni::json::Object::parse("", raw.as_bytes(), Code::InvalidConfig).unwrap();
            assert_eq!(conf.text("mode").unwrap().as_deref(), Some(m.as_str()));
            assert_eq!(c.plugins.len(), 3, "the chain is kept");
        }
        assert_eq!("routed".parse::<Mode>(), Ok(Mode::Routed));
        assert!("l3"
            .parse::<Mode>()
            .unwrap_err()
            .contains("routed or bridge"));
    }

    #[test]
    fn tells_ours_from_others() {
        assert!(!is_ours(
            r#"{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}"#
        ));
        assert!(!is_ours("not json"));
        assert!(!is_ours(
            r#"{"cniVersion":"1.0.0","name":"x","type":"lichen"}"#
        ));
        assert!(is_ours(
            r#"{"name":"x","plugins":[ {"type" : "lichen"}, {"type":"portmap"} ]}"#
        ));
        let e = Chain::parse(r#"{"plugins":[{"kind":"x"}]}"#).err().unwrap();
        assert!(e.contains("plugins[0]"), "{e}");
    }
}
