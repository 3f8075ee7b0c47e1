//! Address arithmetic on `u128`, shared by both families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address as a number (IPv4 in the low 32 bits).
pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The number `v` as an address of the same family as `like`. `v` must fit the family.
pub(crate) fn from_u128(like: IpAddr, v: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(v as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

pub(crate) fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families() {
        let v4: IpAddr = "10.0.0.255".parse().unwrap();
        assert_eq!(to_u128(v4), 0x0a00_00ff);
        assert_eq!(
            from_u128(v4, to_u128(v4) + 1),
            "10.0.1.0".parse::<IpAddr>().unwrap()
        );
        let v6: IpAddr = "fd00::ffff".parse().unwrap();
        assert_eq!(
            from_u128(v6, to_u128(v6) + 1),
            "fd00::1:0".parse::<IpAddr>().unwrap()
        );
        assert!(!same_family(v4, v6));
    }
}
