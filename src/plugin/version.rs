//! VERSION: the versions this plugin speaks.

use crate::cni::{json::Writer, CniError, NetConf, Version};

pub fn run(stdin: &[u8]) -> Result<super::Output, CniError> {
    // The answer carries the caller's version when we speak it (runtimes send theirs).
    let asked = NetConf::peek_version(stdin);
    let v = Version::parse(&asked).unwrap_or(Version::LATEST);
    let mut w = Writer::new();
    w.begin_object();
    w.field_str("cniVersion", v.as_str());
    w.key("supportedVersions");
    w.begin_array();
    for v in Version::ALL {
        w.string(v.as_str());
    }
    w.end_array();
    w.end_object();
    Ok(Some(w.finish()))
}
