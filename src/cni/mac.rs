//! A requested MAC address for the pod's interface (podman keeps a container's MAC across
//! `network reload` this way).
//!
//! Three sources, as the reference bridge plugin reads them (containernetworking/plugins
//! `plugins/main/bridge/bridge.go`, `loadNetConf`): `CNI_ARGS` `MAC=`, overridden by
//! `args.cni.mac`, overridden by the `mac` capability (`runtimeConfig.mac`). The value is only
//! validated when ADD uses it, so a DEL carrying the same arguments always succeeds.

use std::fmt;

use crate::cni::{CniArgs, CniError, Code, NetConf};

/// A MAC address the kernel accepts for a veth: 6 bytes, unicast, not all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

const LOOKS: &str = "a unicast Ethernet address like 0a:58:0a:2a:01:07";

impl Mac {
    /// Parses the 6-byte forms Go's `net.ParseMAC` reads (which the reference plugins use):
    /// `0a:58:0a:2a:01:07`, `0a-58-0a-2a-01-07`, `0a58.0a2a.0107`. Case-insensitive.
    pub fn parse(s: &str) -> Option<Mac> {
        fn hex(t: &str, len: usize) -> Option<&str> {
            (t.len() == len && t.bytes().all(|b| b.is_ascii_hexdigit())).then_some(t)
        }
        let mut digits = String::with_capacity(12);
        if s.len() == 17 {
            let sep = s.as_bytes()[2];
            if sep != b':' && sep != b'-' {
                return None;
            }
            for part in s.split(sep as char) {
                digits.push_str(hex(part, 2)?);
            }
        } else if s.len() == 14 {
            for part in s.split('.') {
                digits.push_str(hex(part, 4)?);
            }
        }
        if digits.len() != 12 {
            return None;
        }
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Mac(mac))
    }

    /// What the kernel refuses for an Ethernet device (`is_valid_ether_addr`): a multicast
    /// (or broadcast) address, or all zeros.
    pub fn is_valid_unicast(&self) -> bool {
        self.0[0] & 1 == 0 && self.0 != [0; 6]
    }
}

/// Lower-case `aa:bb:cc:dd:ee:ff`, as the agent prints MACs (`lichen_backends`' formatter).
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lichen_backends::model::MacDisplay(&self.0).fmt(f)
    }
}

/// The MAC ADD should give the pod's interface, if any: the config's (`runtimeConfig.mac`,
/// then `args.cni.mac`), else `CNI_ARGS` `MAC=`. A malformed one is code 7 (config) or 4
/// (CNI_ARGS), naming the source and the value.
pub fn requested(args: &CniArgs, conf: &NetConf) -> Result<Option<Mac>, CniError> {
    let (field, value, code) = match (&conf.requested_mac, &args.mac) {
        (Some(r), _) => (r.field, r.value.as_str(), Code::InvalidConfig),
        (None, Some(v)) => ("CNI_ARGS MAC", v.as_str(), Code::InvalidEnv),
        (None, None) => return Ok(None),
    };
    match Mac::parse(value) {
        Some(m) if m.is_valid_unicast() => Ok(Some(m)),
        Some(_) => Err(CniError::new(
            code,
            format!(
                "{field} {value:?} is a multicast or all-zero address, which an interface cannot \
                 have: give {LOOKS}"
            ),
        )),
        None => Err(CniError::new(
            code,
            format!("{field} {value:?} is not a MAC address: give {LOOKS}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_six_byte_forms_go_reads() {
        let mac = Mac([0x0a, 0x58, 0x0a, 0x2a, 0x01, 0xff]);
        let want = Some(mac);
        assert_eq!(Mac::parse("0a:58:0a:2a:01:ff"), want);
        assert_eq!(Mac::parse("0A-58-0A-2A-01-FF"), want);
        assert_eq!(Mac::parse("0a58.0a2a.01ff"), want);
        for bad in [
            "",
            "0a:58:0a:2a:01",
            "0a:58:0a:2a:01:ff:00",
            "0a:58-0a:2a:01:ff",
            "0a:58:0a:2a:01:fg",
            "0a:58:0a:2a:1:fff",
            "+a:58:0a:2a:01:ff",
            "0a580a2a01ff",
            "0a58.0a2a.01f",
            "00:00:00:00:00:00:00:01",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad:?}");
        }
        assert_eq!(mac.to_string(), "0a:58:0a:2a:01:ff");
    }

    #[test]
    fn unicast_only() {
        assert!(Mac::parse("02:00:00:00:00:01").unwrap().is_valid_unicast());
        assert!(!Mac::parse("01:00:5e:00:00:01").unwrap().is_valid_unicast());
        assert!(!Mac::parse("ff:ff:ff:ff:ff:ff").unwrap().is_valid_unicast());
        assert!(!Mac::parse("00:00:00:00:00:00").unwrap().is_valid_unicast());
    }

    fn conf(extra: &str) -> NetConf {
        let json = format!(r#"{{"cniVersion":"1.0.0","name":"n","type":"lichen"{extra}}}"#);
        NetConf::parse(json.as_bytes()).unwrap()
    }

    fn args(mac: Option<&str>) -> CniArgs {
        CniArgs {
            mac: mac.map(str::to_owned),
            ..CniArgs::default()
        }
    }

    #[test]
    fn capability_beats_args_beats_cni_args() {
        let m = |s: &str| Some(Mac::parse(s).unwrap());
        let both = conf(
            r#","runtimeConfig":{"mac":"02:00:00:00:00:01"},"args":{"cni":{"mac":"02:00:00:00:00:02"}}"#,
        );
        let a = args(Some("02:00:00:00:00:03"));
        assert_eq!(requested(&a, &both).unwrap(), m("02:00:00:00:00:01"));
        let cni = conf(r#","args":{"cni":{"mac":"02:00:00:00:00:02"}}"#);
        assert_eq!(requested(&a, &cni).unwrap(), m("02:00:00:00:00:02"));
        assert_eq!(requested(&a, &conf("")).unwrap(), m("02:00:00:00:00:03"));
        assert_eq!(requested(&args(None), &conf("")).unwrap(), None);
        // An overridden CNI_ARGS value is not looked at (as the reference: it only parses the winner).
        assert!(requested(&args(Some("junk")), &cni).is_ok());
    }

    #[test]
    fn malformed_is_a_clear_error_with_the_right_code() {
        let e = requested(&args(Some("02:00:00:00:00")), &conf("")).unwrap_err();
        assert_eq!(e.code, Code::InvalidEnv as u32);
        assert!(
            e.msg.contains("CNI_ARGS MAC \"02:00:00:00:00\""),
            "{}",
            e.msg
        );
        let c = conf(r#","runtimeConfig":{"mac":"01:00:5e:00:00:01"}"#);
        let e = requested(&args(None), &c).unwrap_err();
        assert_eq!(e.code, Code::InvalidConfig as u32);
        assert!(e.msg.contains("runtimeConfig.mac") && e.msg.contains("multicast"));
        let c = conf(r#","args":{"cni":{"mac":"nope"}}"#);
        let e = requested(&args(None), &c).unwrap_err();
        assert!(e.msg.contains("args.cni.mac \"nope\""), "{}", e.msg);
    }
}
