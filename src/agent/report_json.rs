//! `lichen status -o json` (`/status?format=json`): the same facts as the text page, for scripts.
//! Keys are camelCase as in Kubernetes objects; absent values are `null`, lists are never absent.
//! The `wireguard` section (null for the other backends) is `super::wireguard::status`'s.

use lichen_backends::{PeerState, Via};

use super::report::Report;
use crate::cni::json::Writer;

impl Report {
    pub fn render_json(&self) -> String {
        let mut w = Writer::new();
        w.begin_object();
        w.field_str("node", &self.node);
        w.field_str("backend", &self.backend);
        strings(&mut w, "subnets", &self.subnets);
        opt_str(&mut w, "waiting", self.waiting.as_deref());
        w.key("ready");
        w.bool(self.ready());
        let synced = self.last_sync.map(|t| crate::rfc3339::format(t, true));
        opt_str(&mut w, "lastSync", synced.as_deref());
        w.key("reconcileRuns");
        w.number(self.reconcile_runs);
        w.key("reconcileErrors");
        w.number(self.reconcile_errors);
        self.peers_json(&mut w);
        self.stale_json(&mut w);
        w.key("wireguard");
        match &self.wireguard {
            Some(wg) => wg.render_json(&mut w),
            None => w.null(),
        }
        strings(&mut w, "drift", &self.last_drift);
        self.policy_json(&mut w);
        self.node_rules_json(&mut w);
        strings(&mut w, "skipped", &self.skipped);
        strings(&mut w, "warnings", &self.warnings);
        let errors: Vec<String> = self.errors().cloned().collect();
        strings(&mut w, "errors", &errors);
        w.end_object();
        w.finish()
    }

    /// `peers`: each with its state, and how it is reached or why not.
    fn peers_json(&self, w: &mut Writer) {
        w.key("peers");
        w.begin_array();
        for p in &self.peers {
            let (state, via, reason) = match &p.state {
                PeerState::Programmed(Via::Direct) => ("programmed", Some("direct"), None),
                PeerState::Programmed(Via::Overlay) => ("programmed", Some("vxlan"), None),
                PeerState::Programmed(Via::Wireguard) => ("programmed", Some("wireguard"), None),
                PeerState::Unreachable(r) => ("unreachable", None, Some(r.as_str())),
                PeerState::Pending(r) => ("pending", None, Some(r.as_str())),
                PeerState::Failed(r) => ("failed", None, Some(r.as_str())),
            };
            w.begin_object();
            w.field_str("name", &p.name);
            let subnet = p.subnet.map(|s| s.to_string());
            opt_str(w, "subnet", subnet.as_deref());
            w.field_str("state", state);
            opt_str(w, "via", via);
            opt_str(w, "reason", reason);
            w.end_object();
        }
        w.end_array();
    }

    /// `stalePeers`: peers whose InternalIP is gone, since when, and their last addresses.
    fn stale_json(&self, w: &mut Writer) {
        w.key("stalePeers");
        w.begin_array();
        for p in &self.stale {
            w.begin_object();
            w.field_str("name", &p.name);
            w.field_str("since", &crate::rfc3339::format(p.since, false));
            let ips: Vec<String> = p.ips.iter().map(|ip| ip.to_string()).collect();
            strings(w, "ips", &ips);
            w.end_object();
        }
        w.end_array();
    }

    /// `policy`: enabled, the last apply, the ruleset's fingerprint.
    fn policy_json(&self, w: &mut Writer) {
        w.key("policy");
        w.begin_object();
        w.key("enabled");
        w.bool(self.policy.enabled);
        opt_str(w, "lastApply", self.policy.last_apply.as_deref());
        let fingerprint = self
            .policy
            .ruleset
            .as_ref()
            .map(|r| format!("{:016x}", r.fingerprint()));
        opt_str(w, "ruleset", fingerprint.as_deref());
        w.end_object();
    }

    /// `nodeRules`: the networks and masquerading in force (empty and `null` before the first
    /// apply), the last pass's error.
    fn node_rules_json(&self, w: &mut Writer) {
        let section = &self.node_rules;
        w.key("nodeRules");
        w.begin_object();
        w.key("networks");
        w.begin_array();
        for net in section.rules.iter().flat_map(|r| &r.cluster) {
            w.string(&net.to_string());
        }
        w.end_array();
        w.key("masquerade");
        match &section.rules {
            Some(r) => w.bool(r.masquerade),
            None => w.null(),
        }
        opt_str(w, "error", section.error.as_deref());
        w.end_object();
    }
}

fn strings(w: &mut Writer, key: &str, items: &[String]) {
    w.key(key);
    w.begin_array();
    for i in items {
        w.string(i);
    }
    w.end_array();
}

fn opt_str(w: &mut Writer, key: &str, v: Option<&str>) {
    w.key(key);
    match v {
        Some(s) => w.string(s),
        None => w.null(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cni::json::{check, Object};
    use crate::cni::Code;
    use lichen_backends::PeerStatus;

    #[test]
    fn status_as_json_parses_and_says_what_the_text_says() {
        let mut r = Report {
            node: "node1".into(),
            backend: "vxlan".into(),
            subnets: vec!["10.42.1.0/24".into()],
            warnings: vec!["a \"quoted\"\nline".into()],
            ..Report::default()
        };
        r.peers.push(PeerStatus {
            name: "node2".into(),
            subnet: Some("10.42.2.0/24".parse().unwrap()),
            state: PeerState::Failed("the kernel refused it".into()),
        });
        let text = r.render_json();
        check(text.as_bytes(), "status").unwrap();
        let top = Object::parse("", text.as_bytes(), Code::Decode).unwrap();
        assert_eq!(top.text("node").unwrap().as_deref(), Some("node1"));
        assert_eq!(top.get::<bool>("ready", "").unwrap(), Some(false));
        assert_eq!(top.raw("waiting"), Some(&b"null"[..]));
        let peers = crate::cni::json::array(top.raw("peers").unwrap()).unwrap();
        let p = Object::parse("p", peers[0], Code::Decode).unwrap();
        assert_eq!(p.text("state").unwrap().as_deref(), Some("failed"));
        assert_eq!(
            p.text("reason").unwrap().as_deref(),
            Some("the kernel refused it")
        );
        let warnings = crate::cni::json::array(top.raw("warnings").unwrap()).unwrap();
        assert_eq!(warnings, [&br#""a \"quoted\"\nline""#[..]]);
    }

    #[test]
    fn the_node_rules_have_a_section_and_their_error_is_with_the_others() {
        let mut r = Report::default();
        let text = r.render_json();
        let top = Object::parse("", text.as_bytes(), Code::Decode).unwrap();
        let rules = Object::parse("r", top.raw("nodeRules").unwrap(), Code::Decode).unwrap();
        assert_eq!(rules.raw("networks"), Some(&b"[]"[..]));
        assert_eq!(rules.raw("masquerade"), Some(&b"null"[..]));
        r.node_rules = crate::agent::firewall::RulesReport {
            rules: Some(crate::agent::node_rules::NodeRules {
                cluster: vec!["10.42.0.0/16".parse().unwrap()],
                masquerade: true,
            }),
            error: Some("applying the node rules: refused".into()),
            runs: 2,
            failed_runs: 1,
        };
        let text = r.render_json();
        check(text.as_bytes(), "status").unwrap();
        let top = Object::parse("", text.as_bytes(), Code::Decode).unwrap();
        let rules = Object::parse("r", top.raw("nodeRules").unwrap(), Code::Decode).unwrap();
        assert_eq!(rules.raw("networks"), Some(&br#"["10.42.0.0/16"]"#[..]));
        assert_eq!(rules.get::<bool>("masquerade", "").unwrap(), Some(true));
        assert_eq!(
            rules.text("error").unwrap().as_deref(),
            Some("applying the node rules: refused")
        );
        let errors = crate::cni::json::array(top.raw("errors").unwrap()).unwrap();
        assert_eq!(errors, [&br#""applying the node rules: refused""#[..]]);
        let page = r.render();
        assert!(
            page.contains("rules:    table inet lichen: forward 10.42.0.0/16, masquerade on"),
            "{page}"
        );
        assert!(
            page.contains("error:    applying the node rules: refused"),
            "{page}"
        );
    }
}
