//! Address management for the verbs: the built-in file-backed IPAM, or a plugin from CNI_PATH
//! (`ipam.type` other than `lichen-ipam`), behind one small interface.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use lichen_ipam::{Ipam, IpamError, Range, RangeSet};

use super::{delegate, Request};
use crate::cni::{CniError, CniResult, Code, Command, Env, IpConfig, NetConf, Route};
use crate::subnet_file::SubnetFile;

pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// What IPAM handed out for one attachment.
#[derive(Debug, Default)]
pub struct Addresses {
    pub result: CniResult,
    /// From the subnet file, when the ranges came from it.
    pub mtu: Option<u32>,
    /// The cluster network(s), when the ranges came from the subnet file.
    pub cluster: Vec<IpNet>,
}

/// Where a network's addresses come from: the one interface every verb uses, for the built-in
/// IPAM and for a delegated plugin alike. Each method is one verb's IPAM half.
pub enum Allocator<'a> {
    Builtin,
    Delegate(&'a str),
}

impl<'a> Allocator<'a> {
    pub fn of(conf: &'a NetConf) -> Allocator<'a> {
        match conf.ipam.kind.as_deref() {
            None | Some("lichen-ipam") => Allocator::Builtin,
            Some(other) => Allocator::Delegate(other),
        }
    }

    pub fn add(&self, req: &Request) -> Result<Addresses, CniError> {
        match self {
            Allocator::Builtin => builtin_add(req.env, req.conf),
            // Refused before anything is made: see "Not `dhcp`" in `delegate`.
            Allocator::Delegate("dhcp") => Err(CniError::new(
                Code::InvalidConfig,
                "ipam.type \"dhcp\" is not supported: its ADD needs the pod's interface, which \
                 lichen makes only after IPAM; leave ipam.type out (the built-in IPAM) or use \
                 host-local or static",
            )),
            Allocator::Delegate(p) => delegated_add(p, req),
        }
    }

    /// Releases the attachment's addresses (idempotent).
    pub fn del(&self, req: &Request) -> Result<(), CniError> {
        let env = req.env;
        match self {
            Allocator::Builtin => {
                let released = open(req.conf)?
                    .release(env.container_id(), env.ifname())
                    .map_err(ipam_err)?;
                log::info!(
                    "released {released:?} of {}/{}",
                    env.container_id(),
                    env.ifname()
                );
                Ok(())
            }
            Allocator::Delegate(p) => delegate::exec(p, Command::Del, env, req.raw).map(drop),
        }
    }

    /// Releases every lease whose attachment is not in `cni.dev/valid-attachments` (GC), going
    /// on past errors and reporting the first one at the end.
    pub fn gc(&self, req: &Request) -> Result<(), CniError> {
        let valid = req.conf.valid_attachments.as_ref().ok_or_else(|| {
            CniError::new(
                Code::InvalidConfig,
                "GC needs \"cni.dev/valid-attachments\" (the attachments to keep) in the config",
            )
        })?;
        match self {
            Allocator::Builtin => {
                let keep: Vec<(String, String)> = valid
                    .iter()
                    .map(|a| (a.container_id.clone(), a.ifname.clone()))
                    .collect();
                let (released, errors) = open(req.conf)?.gc(&keep);
                log::info!("GC released {} lease(s): {released:?}", released.len());
                for e in &errors {
                    log::error!("GC: {e}");
                }
                errors
                    .into_iter()
                    .next()
                    .map_or(Ok(()), |e| Err(ipam_err(e)))
            }
            Allocator::Delegate(p) => delegate::exec(p, Command::Gc, req.env, req.raw).map(drop),
        }
    }

    /// Verifies the attachment still holds `ips` (CHECK): one phrase per difference.
    pub fn check(&self, req: &Request, ips: &[IpAddr]) -> Result<Vec<String>, CniError> {
        let env = req.env;
        match self {
            Allocator::Builtin => {
                let held = open(req.conf)?
                    .get(env.container_id(), env.ifname())
                    .map_err(ipam_err)?;
                Ok(ips
                    .iter()
                    .filter(|ip| !held.contains(ip))
                    .map(|ip| format!("no lease on disk for {ip}"))
                    .collect())
            }
            Allocator::Delegate(p) => match delegate::exec(p, Command::Check, env, req.raw) {
                Ok(_) => Ok(Vec::new()),
                Err(e) => Ok(vec![format!("IPAM plugin {p:?}: {}", e.msg)]),
            },
        }
    }

    /// Could an ADD get addresses now (STATUS)? Otherwise code 50 with what is missing.
    pub fn status(&self, req: &Request) -> Result<(), CniError> {
        match self {
            Allocator::Builtin => builtin_status(req.conf),
            Allocator::Delegate(p) => match delegate::exec(p, Command::Status, req.env, req.raw) {
                Ok(_) => Ok(()),
                // Plugins older than CNI 1.1 do not know STATUS: nothing says they cannot serve
                // ADD.
                Err(e)
                    if e.code == Code::InvalidEnv as u32
                        || e.msg.contains("unknown CNI_COMMAND") =>
                {
                    Ok(())
                }
                Err(e) => Err(CniError::new(Code::NotAvailable, e.msg)),
            },
        }
    }
}

/// ADD through a delegated IPAM plugin: its result, or its lease given back and an error.
fn delegated_add(p: &str, req: &Request) -> Result<Addresses, CniError> {
    let out = delegate::exec(p, Command::Add, req.env, req.raw)?;
    let result = CniResult::parse(&out).map_err(|e| {
        CniError::new(
            Code::Delegate,
            format!(
                "IPAM plugin {p:?} returned a result Lichen cannot read: {}",
                e.msg
            ),
        )
    })?;
    if result.ips.is_empty() {
        // Give the address back before failing: the ADD changes nothing.
        let _ = delegate::exec(p, Command::Del, req.env, req.raw);
        return Err(CniError::new(
            Code::Delegate,
            format!("IPAM plugin {p:?} returned no IP address"),
        ));
    }
    Ok(Addresses {
        result,
        ..Addresses::default()
    })
}

/// STATUS of the built-in IPAM: the store usable, the subnet known, a free address in every
/// range set.
fn builtin_status(conf: &NetConf) -> Result<(), CniError> {
    let unavailable = |e: CniError| CniError::new(Code::NotAvailable, e.msg);
    let (sets, _) = range_sets(conf).map_err(unavailable)?;
    let free = open(conf)
        .and_then(|s| s.free_counts(&sets).map_err(ipam_err))
        .map_err(unavailable)?;
    if let Some((set, _)) = sets.iter().zip(&free).find(|(_, n)| **n == 0) {
        return Err(CniError::new(
            Code::NotAvailable,
            format!("no free address left in range set {}", set.describe()),
        ));
    }
    Ok(())
}

/// The data directory of the built-in IPAM.
pub fn data_dir(conf: &NetConf) -> PathBuf {
    conf.ipam
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

pub fn open(conf: &NetConf) -> Result<Ipam, CniError> {
    Ipam::open(&data_dir(conf), &conf.name).map_err(ipam_err)
}

/// The range sets of the built-in IPAM: `ipam.ranges`, or the node subnet from the subnet file.
/// The second value is the subnet file, when it was used.
pub fn range_sets(conf: &NetConf) -> Result<(Vec<RangeSet>, Option<SubnetFile>), CniError> {
    if !conf.ipam.ranges.is_empty() {
        let sets = conf
            .ipam
            .ranges
            .iter()
            .map(|set| {
                let ranges = set
                    .iter()
                    .map(|r| Range::new(r.subnet, r.range_start, r.range_end, r.gateway))
                    .collect::<Result<Vec<_>, _>>()?;
                RangeSet::new(ranges)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ipam_err)?;
        return Ok((sets, None));
    }
    let file = read_subnet_file(&conf.subnet_file)?;
    check_node_subnets(&conf.subnet_file, &file)?;
    let sets = file
        .ranges()
        .into_iter()
        .map(|(subnet, gw)| RangeSet::new(vec![Range::new(subnet, None, None, Some(gw))?]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ipam_err)?;
    Ok((sets, Some(file)))
}

/// The node subnets the agent handed over obey the rules of configured ranges (see
/// [`crate::cni::config::special_range`]): a podCIDR in a special range is refused with 7.
fn check_node_subnets(path: &Path, file: &SubnetFile) -> Result<(), CniError> {
    for (subnet, _) in file.ranges() {
        if let Some((special, why)) = crate::cni::config::special_range(subnet) {
            return Err(CniError::new(
                Code::InvalidConfig,
                format!(
                    "the node subnet {subnet} in {} overlaps {special}, {why}: pods cannot use it; \
                     give this Node a podCIDR in a unicast range (like 10.42.1.0/24)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The subnet file, or code 11 while the node agent has not written it.
pub fn read_subnet_file(path: &Path) -> Result<SubnetFile, CniError> {
    match SubnetFile::read(path) {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(CniError::new(
            Code::TryAgainLater,
            format!(
                "the node agent has not assigned this node a pod subnet yet: {} does not exist \
                 (is `lichen agent` running on this node, and does its Node have a podCIDR?)",
                path.display()
            ),
        )),
        Err(e) => Err(CniError::new(
            Code::Io,
            format!("cannot read the subnet file {}: {e}", path.display()),
        )),
    }
}

fn builtin_add(env: &Env, conf: &NetConf) -> Result<Addresses, CniError> {
    let (sets, file) = range_sets(conf)?;
    let mut requested = conf.requested_ips.clone();
    requested.extend(env.args.ips.iter().copied());
    requested.dedup();
    let allocations = open(conf)?
        .allocate(&sets, env.container_id(), env.ifname(), &requested)
        .map_err(ipam_err)?;
    let ips = allocations
        .iter()
        .map(|a| IpConfig {
            address: a.address,
            gateway: a.gateway,
            interface: None,
        })
        .collect();
    let routes = conf
        .ipam
        .routes
        .iter()
        .map(|r| Route::new(r.dst, r.gw))
        .collect();
    Ok(Addresses {
        result: CniResult {
            ips,
            routes,
            ..CniResult::default()
        },
        mtu: file.as_ref().and_then(|f| f.mtu),
        cluster: file.map(|f| f.networks).unwrap_or_default(),
    })
}

/// Maps IPAM errors to CNI codes with a message that says what to fix.
pub fn ipam_err(e: IpamError) -> CniError {
    let code = match &e {
        IpamError::Exhausted { .. } => Code::RangeExhausted,
        IpamError::NotInRange { .. } | IpamError::AlreadyLeased { .. } => Code::AddressUnavailable,
        IpamError::InvalidRange(_) | IpamError::InvalidNetworkName(_) => Code::InvalidConfig,
        IpamError::Io { .. } => Code::Io,
    };
    let hint = match &e {
        IpamError::Exhausted { .. } => {
            " (release unused leases with `lichen ipam gc`, or widen the range)"
        }
        _ => "",
    };
    CniError::new(code, format!("{e}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf_with_subnet_file(text: &str) -> (NetConf, PathBuf) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lichen-subnet-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("subnet.env");
        std::fs::write(&file, text).unwrap();
        let json = format!(
            r#"{{"cniVersion":"1.0.0","name":"n","type":"lichen","subnetFile":"{}"}}"#,
            file.display()
        );
        (NetConf::parse(json.as_bytes()).unwrap(), dir)
    }

    #[test]
    fn node_subnets_in_special_ranges_are_refused() {
        let (ok, dir) =
            conf_with_subnet_file("LICHEN_NETWORK=10.42.0.0/16\nLICHEN_SUBNET=10.42.1.1/24\n");
        assert_eq!(range_sets(&ok).unwrap().0.len(), 1);
        std::fs::remove_dir_all(dir).unwrap();
        for (subnet, range) in [
            ("127.0.1.1/24", "127.0.0.0/8, the loopback range"),
            ("224.0.0.1/24", "224.0.0.0/4, the multicast range"),
            ("fe80::1/64", "fe80::/10, the link-local range"),
        ] {
            let (conf, dir) = conf_with_subnet_file(&format!("LICHEN_SUBNET={subnet}\n"));
            let e = range_sets(&conf).unwrap_err();
            std::fs::remove_dir_all(dir).unwrap();
            assert_eq!(e.code, 7, "{}", e.msg);
            assert!(
                e.msg.contains(range) && e.msg.contains("subnet.env"),
                "{}",
                e.msg
            );
        }
    }
}
