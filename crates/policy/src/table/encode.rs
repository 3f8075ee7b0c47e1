//! A compiled [`Ruleset`] as nf_tables objects in table `inet lichen-policy`.
//!
//! - Base chains hang on hook forward (egress at priority filter − 1, ingress at filter), with
//!   policy accept: a packet no rule drops goes on to the other tables.
//! - Every set or map keyed by an address has two twins, `<name>.v4` and `<name>.v6`; a rule
//!   using any of them is written twice, once per IP version (each starts with
//!   `meta nfproto`), so a pod with addresses of both families is checked in both.
//!   `protocol . port` sets need no twin.
//! - One-field address intervals use the rbtree form (start, end-after); `protocol . port`
//!   ranges the concatenated-range form (Linux ≥ 5.6).

use std::collections::BTreeMap;
use std::net::IpAddr;

use lichen_netlink::nft::{
    concat, BaseChain, Batch, Chain, ChainType, Element, Family, Field, Hook, IpVersion, KeyType,
    Rule, Set, Table, Verdict,
};

use crate::ruleset::{self, AddrPort, AddrRange, MapKey, Match, PortRange, Ruleset, VerdictMap};

pub const TABLE: &str = "lichen-policy";

pub fn policy_table() -> Table {
    Table::new(Family::Inet, TABLE)
}

const VERSIONS: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];

/// The kernel name of a set's twin for IP version `v`.
pub fn twin(name: &str, v: IpVersion) -> String {
    match v {
        IpVersion::V4 => format!("{name}.v4"),
        IpVersion::V6 => format!("{name}.v6"),
    }
}

fn addr_key(v: IpVersion) -> KeyType {
    match v {
        IpVersion::V4 => KeyType::Ipv4Addr,
        IpVersion::V6 => KeyType::Ipv6Addr,
    }
}

fn version(a: IpAddr) -> IpVersion {
    match a {
        IpAddr::V4(_) => IpVersion::V4,
        IpAddr::V6(_) => IpVersion::V6,
    }
}

fn bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The kernel sets of one abstract set or map: (set object, IP version of its elements;
/// `None` for a set without addresses).
pub fn kernel_sets(name: &str, kind: &ruleset::Set) -> Vec<(Set, Option<IpVersion>)> {
    let t = policy_table();
    let set = |name: String, key, interval| Set {
        table: t.clone(),
        name,
        key,
        interval,
        verdict_map: false,
    };
    match kind {
        ruleset::Set::Addrs(_) => VERSIONS
            .map(|v| (set(twin(name, v), vec![addr_key(v)], true), Some(v)))
            .to_vec(),
        ruleset::Set::Ports(_) => vec![(
            set(
                name.to_owned(),
                vec![KeyType::InetProto, KeyType::InetService],
                true,
            ),
            None,
        )],
        ruleset::Set::AddrPorts(_) => VERSIONS
            .map(|v| {
                let key = vec![addr_key(v), KeyType::InetProto, KeyType::InetService];
                (set(twin(name, v), key, false), Some(v))
            })
            .to_vec(),
    }
}

/// The kernel maps of a verdict map: its two twins.
pub fn kernel_maps(name: &str) -> [(Set, IpVersion); 2] {
    VERSIONS.map(|v| {
        (
            Set {
                table: policy_table(),
                name: twin(name, v),
                key: vec![addr_key(v)],
                interval: false,
                verdict_map: true,
            },
            v,
        )
    })
}

/// The elements of an address range (rbtree form).
pub fn addr_range(r: &AddrRange) -> Vec<Element> {
    let mut out = vec![Element::key(bytes(r.first))];
    let after = match r.last {
        IpAddr::V4(a) => u32::from(a).checked_add(1).map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(a) => u128::from(a).checked_add(1).map(|n| IpAddr::V6(n.into())),
    };
    out.extend(after.map(|a| Element::interval_end(bytes(a))));
    out
}

pub fn port_range(r: &PortRange) -> Element {
    let p = [r.protocol.number()];
    Element::range(
        concat(&[&p, &r.first.to_be_bytes()]),
        concat(&[&p, &r.last.to_be_bytes()]),
    )
}

pub fn addr_port(e: &AddrPort) -> Element {
    Element::key(concat(&[
        &bytes(e.addr),
        &[e.protocol.number()],
        &e.port.to_be_bytes(),
    ]))
}

pub fn mapping(addr: IpAddr, chain: &str) -> Element {
    Element::mapping(bytes(addr), Verdict::Jump(chain.to_owned()))
}

/// The elements of an abstract set for IP version `v` (`None`: the set has no addresses), in
/// units that are added and deleted together (an address range is its start and end).
pub fn set_units(kind: &ruleset::Set, v: Option<IpVersion>) -> Vec<Vec<Element>> {
    let of = |a: IpAddr| Some(version(a)) == v;
    match kind {
        ruleset::Set::Addrs(r) => r.iter().filter(|r| of(r.first)).map(addr_range).collect(),
        ruleset::Set::Ports(r) => r.iter().map(|r| vec![port_range(r)]).collect(),
        ruleset::Set::AddrPorts(e) => e
            .iter()
            .filter(|e| of(e.addr))
            .map(|e| vec![addr_port(e)])
            .collect(),
    }
}

pub fn set_elements(kind: &ruleset::Set, v: Option<IpVersion>) -> Vec<Element> {
    set_units(kind, v).into_iter().flatten().collect()
}

pub fn map_elements(map: &VerdictMap, v: IpVersion) -> Vec<Element> {
    map.elements
        .iter()
        .filter(|(a, _)| version(**a) == v)
        .map(|(a, c)| mapping(*a, c))
        .collect()
}

/// The kernel rules of one abstract rule: one, or one per IP version when it uses addresses.
pub fn rules(chain: &str, rule: &ruleset::Rule) -> Vec<Rule> {
    let uses_addrs = matches!(rule.verdict, ruleset::Verdict::Map { .. })
        || rule.matches.iter().any(|m| {
            matches!(
                m,
                Match::SaddrIn(_) | Match::DaddrIn(_) | Match::DaddrProtoPortIn(_)
            )
        });
    let versions: &[IpVersion] = if uses_addrs {
        &VERSIONS
    } else {
        &VERSIONS[..1]
    };
    let t = policy_table();
    let comment = rule.origin.to_string();
    versions
        .iter()
        .map(|&v| {
            let mut r = Rule::new(&t, chain).comment(&comment);
            for m in &rule.matches {
                r = match m {
                    Match::CtEstablishedOrRelated => r.ct_established_or_related(),
                    Match::SaddrIn(s) => r.lookup(&[Field::Saddr], v, &twin(s, v)),
                    Match::DaddrIn(s) => r.lookup(&[Field::Daddr], v, &twin(s, v)),
                    Match::ProtoPortIn(s) => r.lookup(&[Field::L4Proto, Field::Dport], v, s),
                    Match::DaddrProtoPortIn(s) => r.lookup(
                        &[Field::Daddr, Field::L4Proto, Field::Dport],
                        v,
                        &twin(s, v),
                    ),
                };
            }
            match &rule.verdict {
                ruleset::Verdict::Accept => r.verdict(Verdict::Accept),
                ruleset::Verdict::Drop => r.verdict(Verdict::Drop),
                ruleset::Verdict::Jump(c) => r.verdict(Verdict::Jump(c.clone())),
                ruleset::Verdict::Map { key, map } => {
                    let field = match key {
                        MapKey::Saddr => Field::Saddr,
                        MapKey::Daddr => Field::Daddr,
                    };
                    r.vmap(&[field], v, &twin(map, v))
                }
            }
        })
        .collect()
}

/// The kernel chain of an abstract chain (its rules apart).
pub fn kernel_chain(name: &str, chain: &ruleset::Chain) -> Chain {
    let base = chain.hook.map(|h| BaseChain {
        kind: ChainType::Filter,
        hook: Hook::Forward,
        priority: h.priority(),
        policy: Verdict::Accept,
    });
    Chain {
        table: policy_table(),
        name: name.to_owned(),
        base,
    }
}

/// Adds every rule of `chain` (to an empty chain).
pub fn add_rules(batch: &mut Batch, name: &str, chain: &ruleset::Chain) {
    for rule in &chain.rules {
        for r in rules(name, rule) {
            batch.add_rule(&r);
        }
    }
}

/// Replaces the whole table: add, delete (so an absent table is no error), add, then chains,
/// sets and maps with their elements, then rules. `batch` may be a checked one.
pub fn replace(batch: &mut Batch, rs: &Ruleset) {
    let t = policy_table();
    batch.add_table(&t);
    batch.delete_table(&t);
    batch.add_table(&t);
    // Chains first: map elements and jumps name them.
    for (name, chain) in &rs.chains {
        batch.add_chain(&kernel_chain(name, chain));
    }
    for (name, kind) in &rs.sets {
        for (set, v) in kernel_sets(name, kind) {
            batch.add_set(&set);
            let elements = set_elements(kind, v);
            if !elements.is_empty() {
                batch.add_elements(&set, &elements);
            }
        }
    }
    for (name, map) in &rs.maps {
        for (set, v) in kernel_maps(name) {
            batch.add_set(&set);
            let elements = map_elements(map, v);
            if !elements.is_empty() {
                batch.add_elements(&set, &elements);
            }
        }
    }
    for (name, chain) in &rs.chains {
        add_rules(batch, name, chain);
    }
}

/// Deletes the table if it exists.
pub fn remove(batch: &mut Batch) {
    let t = policy_table();
    batch.add_table(&t);
    batch.delete_table(&t);
}

/// The size of a ruleset in the kernel: (chains, rules, sets and maps, elements).
pub fn size(rs: &Ruleset) -> (usize, usize, usize, usize) {
    let rules = rs
        .chains
        .iter()
        .flat_map(|(n, c)| c.rules.iter().map(move |r| rules(n, r).len()))
        .sum();
    let mut sets = 0;
    let mut elements = 0;
    for (name, kind) in &rs.sets {
        for (_, v) in kernel_sets(name, kind) {
            sets += 1;
            elements += set_elements(kind, v).len();
        }
    }
    for map in rs.maps.values() {
        sets += 2;
        elements += map.elements.len();
    }
    (rs.chains.len(), rules, sets, elements)
}

/// Every kernel set and map with its element units, by kernel name (for diffs).
pub fn all_units(rs: &Ruleset) -> BTreeMap<String, (Set, Vec<Vec<Element>>)> {
    let mut out = BTreeMap::new();
    for (name, kind) in &rs.sets {
        for (set, v) in kernel_sets(name, kind) {
            out.insert(set.name.clone(), (set, set_units(kind, v)));
        }
    }
    for (name, map) in &rs.maps {
        for (set, v) in kernel_maps(name) {
            let units = map_elements(map, v).into_iter().map(|e| vec![e]).collect();
            out.insert(set.name.clone(), (set, units));
        }
    }
    out
}
