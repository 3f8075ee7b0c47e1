//! Rule building blocks: the expression sequences `nft` generates for common matches.
//!
//! `ip saddr 10.42.0.0/16` in an `inet` table is `meta nfproto ipv4` (so IPv6 packets never
//! reach the IPv4 offsets), then `payload load 4b @ network header + 12`, `bitwise & mask`,
//! `cmp eq network`. A full-length prefix skips the bitwise; /0 matches only the family.

use std::net::IpAddr;

use ipnet::IpNet;

use super::expr::{CmpOp, Expr, MetaKey, NatFlags, PayloadBase, Register, Verdict};
use super::objects::{Family, Rule, Table};
use super::sys::{NFPROTO_IPV4, NFPROTO_IPV6};

/// Which address of the IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    Source,
    Destination,
}

impl Rule {
    /// An empty rule for `chain` of `table`.
    pub fn new(table: &Table, chain: &str) -> Rule {
        Rule {
            table: table.clone(),
            chain: chain.to_owned(),
            exprs: Vec::new(),
            comment: None,
        }
    }

    /// Annotates the rule (`comment "…"` in `nft`'s listing).
    pub fn comment(mut self, text: &str) -> Rule {
        self.comment = Some(text.to_owned());
        self
    }

    /// Matches the packet's source or destination address against `net`.
    pub fn match_net(mut self, which: Addr, net: IpNet) -> Rule {
        let v4 = matches!(net, IpNet::V4(_));
        if self.table.family == Family::Inet {
            let proto = if v4 { NFPROTO_IPV4 } else { NFPROTO_IPV6 };
            self.require_nfproto(proto);
        }
        let (offset, len) = match (v4, which) {
            (true, Addr::Source) => (12, 4),
            (true, Addr::Destination) => (16, 4),
            (false, Addr::Source) => (8, 16),
            (false, Addr::Destination) => (24, 16),
        };
        if net.prefix_len() == 0 {
            return self;
        }
        let reg = Register::R1;
        self.exprs.push(Expr::Payload {
            dreg: reg,
            base: PayloadBase::Network,
            offset,
            len,
        });
        if net.prefix_len() < net.max_prefix_len() {
            let mask = addr_bytes(net.netmask());
            let xor = vec![0; mask.len()];
            self.exprs.push(Expr::Bitwise {
                sreg: reg,
                dreg: reg,
                mask,
                xor,
            });
        }
        let data = addr_bytes(net.network());
        self.exprs.push(Expr::Cmp {
            sreg: reg,
            op: CmpOp::Eq,
            data,
        });
        self
    }

    /// Ends the rule with a verdict.
    pub fn verdict(mut self, v: Verdict) -> Rule {
        self.exprs.push(Expr::Verdict(v));
        self
    }

    /// Ends the rule with `masquerade`.
    pub fn masquerade(mut self, flags: NatFlags) -> Rule {
        self.exprs.push(Expr::Masquerade(flags));
        self
    }

    /// Adds `meta nfproto <proto>` unless the rule already has it.
    pub(super) fn require_nfproto(&mut self, proto: u8) {
        let load = Expr::Meta {
            dreg: Register::R1,
            key: MetaKey::NfProto,
        };
        let cmp = Expr::Cmp {
            sreg: Register::R1,
            op: CmpOp::Eq,
            data: vec![proto],
        };
        let present = self.exprs.windows(2).any(|w| w[0] == load && w[1] == cmp);
        if !present {
            self.exprs.push(load);
            self.exprs.push(cmp);
        }
    }
}

fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inet() -> Table {
        Table::new(Family::Inet, "t")
    }

    #[test]
    fn ipv4_prefix_is_nfproto_payload_bitwise_cmp() {
        let r = Rule::new(&inet(), "c").match_net(Addr::Source, "10.42.0.0/16".parse().unwrap());
        assert_eq!(r.exprs.len(), 5);
        assert_eq!(
            r.exprs[1],
            Expr::Cmp {
                sreg: Register::R1,
                op: CmpOp::Eq,
                data: vec![2]
            }
        );
        let payload = Expr::Payload {
            dreg: Register::R1,
            base: PayloadBase::Network,
            offset: 12,
            len: 4,
        };
        assert_eq!(r.exprs[2], payload);
        let mask = vec![255, 255, 0, 0];
        assert_eq!(
            r.exprs[3],
            Expr::Bitwise {
                sreg: Register::R1,
                dreg: Register::R1,
                mask,
                xor: vec![0; 4]
            }
        );
        assert_eq!(
            r.exprs[4],
            Expr::Cmp {
                sreg: Register::R1,
                op: CmpOp::Eq,
                data: vec![10, 42, 0, 0]
            }
        );
    }

    #[test]
    fn second_match_of_same_family_reuses_nfproto() {
        let r = Rule::new(&inet(), "c")
            .match_net(Addr::Source, "fd00::/48".parse().unwrap())
            .match_net(Addr::Destination, "fd00::1/128".parse().unwrap());
        // nfproto (2) + saddr (3) + daddr without bitwise (2)
        assert_eq!(r.exprs.len(), 7);
        assert_eq!(
            r.exprs[5],
            Expr::Payload {
                dreg: Register::R1,
                base: PayloadBase::Network,
                offset: 24,
                len: 16
            }
        );
    }

    #[test]
    fn ip_table_needs_no_nfproto_and_zero_prefix_matches_everything() {
        let t = Table::new(Family::Ip, "t");
        let r = Rule::new(&t, "c").match_net(Addr::Destination, "0.0.0.0/0".parse().unwrap());
        assert!(r.exprs.is_empty());
    }
}
