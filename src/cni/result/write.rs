//! `CniResult` → JSON in the format of one spec version, and the error object
//! ([`CniError::to_json`]; here rather than in `cni::error`, which `cni::json` builds on).

use crate::cni::json::Writer;
use crate::cni::{CniError, CniResult, Dns, Interface, IpConfig, Route, Version};

impl CniError {
    /// The error object as JSON, tagged with `cni_version` (the config's, or the latest when unknown).
    pub fn to_json(&self, cni_version: &str) -> String {
        let mut w = Writer::new();
        w.begin_object();
        w.key("cniVersion");
        w.string(cni_version);
        w.key("code");
        w.number(self.code as u64);
        w.key("msg");
        w.string(&self.msg);
        if !self.details.is_empty() {
            w.key("details");
            w.string(&self.details);
        }
        w.end_object();
        w.finish()
    }
}

pub(super) fn write(r: &CniResult, v: Version) -> String {
    let mut w = Writer::new();
    w.begin_object();
    w.field_str("cniVersion", v.as_str());
    if !r.interfaces.is_empty() {
        w.key("interfaces");
        w.begin_array();
        for i in &r.interfaces {
            interface(&mut w, i, v);
        }
        w.end_array();
    }
    w.key("ips");
    w.begin_array();
    for ip in &r.ips {
        ip_config(&mut w, ip, v);
    }
    w.end_array();
    if !r.routes.is_empty() {
        w.key("routes");
        w.begin_array();
        for rt in &r.routes {
            route(&mut w, rt, v);
        }
        w.end_array();
    }
    if !r.dns.is_empty() {
        w.key("dns");
        dns(&mut w, &r.dns);
    }
    w.end_object();
    w.finish()
}

fn interface(w: &mut Writer, i: &Interface, v: Version) {
    w.begin_object();
    w.field_str("name", &i.name);
    if !i.mac.is_empty() {
        w.field_str("mac", &i.mac);
    }
    if let Some(mtu) = i.mtu.filter(|_| v >= Version::V110) {
        w.key("mtu");
        w.number(mtu.into());
    }
    if !i.sandbox.is_empty() {
        w.field_str("sandbox", &i.sandbox);
    }
    w.end_object();
}

fn ip_config(w: &mut Writer, ip: &IpConfig, v: Version) {
    w.begin_object();
    if v.ips_have_version_field() {
        let family = if ip.address.addr().is_ipv4() {
            "4"
        } else {
            "6"
        };
        w.field_str("version", family);
    }
    if let Some(index) = ip.interface {
        w.key("interface");
        w.number(index as u64);
    }
    w.field_str("address", &ip.address.to_string());
    if let Some(gw) = ip.gateway {
        w.field_str("gateway", &gw.to_string());
    }
    w.end_object();
}

fn route(w: &mut Writer, r: &Route, v: Version) {
    w.begin_object();
    w.field_str("dst", &r.dst.to_string());
    if let Some(gw) = r.gw {
        w.field_str("gw", &gw.to_string());
    }
    if v >= Version::V110 {
        let extras = [
            ("mtu", r.mtu),
            ("advmss", r.advmss),
            ("priority", r.priority),
            ("table", r.table),
            ("scope", r.scope),
        ];
        for (key, value) in extras {
            if let Some(n) = value {
                w.key(key);
                w.number(n.into());
            }
        }
    }
    w.end_object();
}

fn dns(w: &mut Writer, d: &Dns) {
    w.begin_object();
    let list = |w: &mut Writer, key: &str, items: &[String]| {
        if !items.is_empty() {
            w.key(key);
            w.begin_array();
            for s in items {
                w.string(s);
            }
            w.end_array();
        }
    };
    list(w, "nameservers", &d.nameservers);
    if !d.domain.is_empty() {
        w.field_str("domain", &d.domain);
    }
    list(w, "search", &d.search);
    list(w, "options", &d.options);
    w.end_object();
}
