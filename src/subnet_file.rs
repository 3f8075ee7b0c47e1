//! The hand-off from the node agent to the plugin: `/run/lichen/subnet.env`.
//!
//! ```text
//! LICHEN_NETWORK=10.42.0.0/16
//! LICHEN_SUBNET=10.42.1.1/24
//! LICHEN_MTU=1450
//! LICHEN_IPMASQ=true
//! ```
//!
//! `LICHEN_SUBNET` is the gateway address with the node subnet's prefix, as Flannel's
//! `FLANNEL_SUBNET`. IPv6 twins: `LICHEN_IPV6_NETWORK`, `LICHEN_IPV6_SUBNET`. Written atomically
//! (temp file in the same directory, fsync, rename) and only when the content changes.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

pub const DEFAULT_PATH: &str = "/run/lichen/subnet.env";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetFile {
    /// The cluster network(s), e.g. 10.42.0.0/16.
    pub networks: Vec<IpNet>,
    /// This node's subnets as gateway/prefix, e.g. 10.42.1.1/24.
    pub subnets: Vec<IpNet>,
    pub mtu: Option<u32>,
    pub ipmasq: bool,
}

impl SubnetFile {
    /// The node subnets with their gateway (first address), as ranges for IPAM.
    pub fn ranges(&self) -> Vec<(IpNet, IpAddr)> {
        self.subnets.iter().map(|s| (s.trunc(), s.addr())).collect()
    }

    pub fn parse(text: &str) -> Result<SubnetFile, String> {
        let mut f = SubnetFile {
            networks: Vec::new(),
            subnets: Vec::new(),
            mtu: None,
            ipmasq: false,
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("line {}: expected KEY=VALUE, got {line:?}", n + 1))?;
            let net = |v: &str| {
                v.parse::<IpNet>()
                    .map_err(|_| format!("line {}: {k}={v:?} is not an address/prefix", n + 1))
            };
            match k {
                "LICHEN_NETWORK" | "LICHEN_IPV6_NETWORK" => f.networks.push(net(v)?),
                "LICHEN_SUBNET" | "LICHEN_IPV6_SUBNET" => f.subnets.push(net(v)?),
                "LICHEN_MTU" => {
                    f.mtu =
                        Some(v.parse().map_err(|_| {
                            format!("line {}: LICHEN_MTU={v:?} is not a number", n + 1)
                        })?)
                }
                "LICHEN_IPMASQ" => f.ipmasq = v == "true",
                _ => {} // forward compatible: unknown keys are ignored
            }
        }
        if f.subnets.is_empty() {
            return Err("no LICHEN_SUBNET line".into());
        }
        Ok(f)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let (v4n, v6n): (Vec<&IpNet>, Vec<&IpNet>) =
            self.networks.iter().partition(|n| n.addr().is_ipv4());
        let (v4s, v6s): (Vec<&IpNet>, Vec<&IpNet>) =
            self.subnets.iter().partition(|n| n.addr().is_ipv4());
        for n in v4n {
            out.push_str(&format!("LICHEN_NETWORK={n}\n"));
        }
        for s in v4s {
            out.push_str(&format!("LICHEN_SUBNET={s}\n"));
        }
        for n in v6n {
            out.push_str(&format!("LICHEN_IPV6_NETWORK={n}\n"));
        }
        for s in v6s {
            out.push_str(&format!("LICHEN_IPV6_SUBNET={s}\n"));
        }
        if let Some(m) = self.mtu {
            out.push_str(&format!("LICHEN_MTU={m}\n"));
        }
        out.push_str(&format!("LICHEN_IPMASQ={}\n", self.ipmasq));
        out
    }

    /// Reads the file. `Ok(None)` when it does not exist (the agent has not assigned a subnet).
    pub fn read(path: &Path) -> io::Result<Option<SubnetFile>> {
        match fs::read_to_string(path) {
            Ok(t) => SubnetFile::parse(&t).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically when the content differs from what is there. Returns whether it wrote.
    pub fn write_if_changed(&self, path: &Path) -> io::Result<bool> {
        let text = self.render();
        if fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        write_atomic(path, text.as_bytes())?;
        Ok(true)
    }
}

/// Writes `data` to `path` atomically: a temp file beside it, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = SubnetFile {
            networks: vec!["10.42.0.0/16".parse().unwrap()],
            subnets: vec!["10.42.1.1/24".parse().unwrap()],
            mtu: Some(1450),
            ipmasq: true,
        };
        let text = f.render();
        assert_eq!(
            text,
            "LICHEN_NETWORK=10.42.0.0/16\nLICHEN_SUBNET=10.42.1.1/24\nLICHEN_MTU=1450\nLICHEN_IPMASQ=true\n"
        );
        assert_eq!(SubnetFile::parse(&text).unwrap(), f);
        assert_eq!(
            f.ranges(),
            vec![(
                "10.42.1.0/24".parse().unwrap(),
                "10.42.1.1".parse().unwrap()
            )]
        );
    }

    #[test]
    fn rejects_garbage_and_missing_subnet() {
        assert!(SubnetFile::parse("LICHEN_SUBNET=nope").is_err());
        assert!(SubnetFile::parse("LICHEN_NETWORK=10.0.0.0/8\n").is_err());
        assert!(SubnetFile::parse("just words").is_err());
    }

    #[test]
    fn writes_atomically_only_on_change() {
        let dir = std::env::temp_dir().join(format!("lichen-subnet-{}", std::process::id()));
        let path = dir.join("subnet.env");
        let f = SubnetFile::parse("LICHEN_SUBNET=10.42.3.1/24\n").unwrap();
        assert!(f.write_if_changed(&path).unwrap());
        assert!(!f.write_if_changed(&path).unwrap());
        assert_eq!(SubnetFile::read(&path).unwrap(), Some(f));
        assert_eq!(SubnetFile::read(&dir.join("absent")).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
