//! Names of chains, sets and maps: readable where they fit, stable across compiles.
//!
//! A name depends only on what the object stands for (a policy, a rule index, a set of
//! policies), never on positions in a sorted list, so adding one policy does not rename the
//! objects of the others. nftables caps names at 256 bytes; long names are cut and suffixed
//! with a hash of the full name.

use super::ruleset::{Direction, PolicyId};

/// The longest name produced (well under nftables' 256-byte limit).
pub const MAX_NAME: usize = 200;

pub const EGRESS_BASE: &str = "egress";
pub const INGRESS_BASE: &str = "ingress";
/// This node's own addresses (always allowed to and from its pods).
pub const NODE_ADDRS: &str = "node-addrs";

/// The dispatch map of a direction: isolated local pod address → its group chain.
pub fn dispatch_map(d: Direction) -> String {
    format!("{d}-pods")
}

/// The chain holding a policy's rules for one direction.
pub fn policy_chain(d: Direction, p: &PolicyId) -> String {
    fit(format!("{d}/{}/{}", p.namespace, p.name))
}

/// The sets of one rule of a policy: `peers` (addresses), `ports` (protocol . port ranges),
/// `named` (destination address . protocol . port, from named ports).
pub fn rule_set(d: Direction, p: &PolicyId, rule: usize, what: &str) -> String {
    let tail = format!("/{rule}/{what}");
    let head = policy_chain(d, p);
    if head.len() + tail.len() <= MAX_NAME {
        head + &tail
    } else {
        fit(format!("{d}/{}/{}{tail}", p.namespace, p.name))
    }
}

/// The group chain of the local pods isolated in direction `d` by exactly `policies`.
pub fn group_chain(d: Direction, policies: &[PolicyId]) -> String {
    let mut key = String::new();
    for p in policies {
        key.push_str(&p.namespace);
        key.push('/');
        key.push_str(&p.name);
        key.push('\n');
    }
    format!("{d}-group-{:016x}", fnv1a(key.as_bytes()))
}

fn fit(name: String) -> String {
    if name.len() <= MAX_NAME {
        return name;
    }
    let mut cut = MAX_NAME - 17;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{:016x}", &name[..cut], fnv1a(name.as_bytes()))
}

/// 64-bit FNV-1a, stable across builds and platforms (unlike `DefaultHasher`): the backends'
/// one, which also names the plugin's veths and bridge MACs.
pub use lichen_backends::fnv1a;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_stable_and_bounded() {
        let p = PolicyId {
            namespace: "shop".into(),
            name: "web".into(),
        };
        assert_eq!(policy_chain(Direction::Ingress, &p), "ingress/shop/web");
        assert_eq!(
            rule_set(Direction::Egress, &p, 2, "peers"),
            "egress/shop/web/2/peers"
        );
        let long = PolicyId {
            namespace: "n".repeat(63),
            name: "é".repeat(126),
        };
        let a = rule_set(Direction::Ingress, &long, 0, "peers");
        let b = rule_set(Direction::Ingress, &long, 1, "peers");
        assert!(a.len() <= MAX_NAME && b.len() <= MAX_NAME && a != b);
        assert!(policy_chain(Direction::Ingress, &long).len() <= MAX_NAME);
        let g = group_chain(Direction::Ingress, std::slice::from_ref(&p));
        assert_eq!(
            g,
            group_chain(Direction::Ingress, &[p.clone(), p.clone()][..1])
        );
        assert_ne!(g, group_chain(Direction::Egress, &[p]));
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }
}
