//! The messages against include/uapi/linux/wireguard.h's documented tree, spelled out with
//! the header's numbers (enum positions) rather than this module's constants.

use std::time::{Duration, SystemTime};

use super::*;

/// One attribute: u16 length (header included), u16 type, payload, padding to 4.
fn a(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// A nested attribute (NLA_F_NESTED = 1 << 15 set on its type).
fn n(kind: u16, children: &[Vec<u8>]) -> Vec<u8> {
    a(kind | 0x8000, &children.concat())
}

/// The genlmsghdr-prefixed message the header describes: nlmsghdr (length, the family's id,
/// flags, sequence, port 0), then command, version 1, reserved.
fn message(flags: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut m = ((20 + attrs.len()) as u32).to_ne_bytes().to_vec();
    m.extend_from_slice(&0x1au16.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[cmd, 1, 0, 0]);
    m.extend_from_slice(attrs);
    m
}

/// An allowed-IP nest: WGALLOWEDIP_A_FAMILY (1), _IPADDR (2), _CIDR_MASK (3).
fn allowed(fam: u16, addr: &[u8], len: u8) -> Vec<u8> {
    n(0, &[a(1, &fam.to_ne_bytes()), a(2, addr), a(3, &[len])])
}

#[test]
fn set_device_follows_the_documented_tree() {
    let mut peer = PeerConfig::new(Key([0xab; 32]));
    peer.replace_allowed_ips = true;
    peer.preshared_key = Some(Key([1; 32]));
    peer.endpoint = Some("198.51.100.2:51820".parse().unwrap());
    peer.persistent_keepalive = Some(25);
    peer.allowed_ips = vec!["10.99.1.0/24".parse().unwrap()];
    let config = DeviceConfig {
        private_key: Some(PrivateKey(Key([7; 32]))),
        listen_port: Some(51820),
        replace_peers: true,
        peers: vec![peer, PeerConfig::removal(Key([0xcd; 32]))],
    };
    let got = encode_set(0x1a, 7, "wg0", &config);

    // struct sockaddr_in: AF_INET (host order), port 51820 = 0xca6c (network order), address, zero.
    let sin = [&[2u8, 0, 0xca, 0x6c, 198, 51, 100, 2][..], &[0; 8]].concat();
    // WGPEER_A_PUBLIC_KEY (1), _FLAGS (3) = WGPEER_F_REPLACE_ALLOWEDIPS, _PRESHARED_KEY (2),
    // _ENDPOINT (4), _PERSISTENT_KEEPALIVE_INTERVAL (5), _ALLOWEDIPS (9).
    let first = n(
        0,
        &[
            a(1, &[0xab; 32]),
            a(3, &2u32.to_ne_bytes()),
            a(2, &[1; 32]),
            a(4, &sin),
            a(5, &25u16.to_ne_bytes()),
            n(9, &[allowed(2, &[10, 99, 1, 0], 24)]),
        ],
    );
    // The removed peer: its key and WGPEER_F_REMOVE_ME only.
    let second = n(0, &[a(1, &[0xcd; 32]), a(3, &1u32.to_ne_bytes())]);
    // WGDEVICE_A_IFNAME (2), _FLAGS (5) = WGDEVICE_F_REPLACE_PEERS, _PRIVATE_KEY (3),
    // _LISTEN_PORT (6), _PEERS (8).
    let attrs = [
        a(2, b"wg0\0"),
        a(5, &1u32.to_ne_bytes()),
        a(3, &[7; 32]),
        a(6, &51820u16.to_ne_bytes()),
        n(8, &[first, second]),
    ]
    .concat();
    // NLM_F_REQUEST | NLM_F_ACK, WG_CMD_SET_DEVICE.
    assert_eq!(got, message(5, 7, 1, &attrs));
}

#[test]
fn get_device_is_a_dump_by_name() {
    let got = encode_get(0x1a, 9, "lichen-wg");
    // NLM_F_REQUEST | NLM_F_DUMP, WG_CMD_GET_DEVICE.
    assert_eq!(got, message(0x301, 9, 0, &a(2, b"lichen-wg\0")));
}

/// The first message of a GET_DEVICE dump: the device and its first peer with one allowed IP.
fn first_dump_message() -> Vec<u8> {
    // struct sockaddr_in6: AF_INET6 (10), port 51821, flowinfo 0, 2001:db8::2, scope 0.
    let mut sin6 = vec![10, 0, 0xca, 0x6d, 0, 0, 0, 0];
    sin6.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
    sin6.extend_from_slice(&[0; 4]);
    // struct __kernel_timespec: two s64.
    let mut ts = 1_700_000_000i64.to_ne_bytes().to_vec();
    ts.extend_from_slice(&5i64.to_ne_bytes());
    // WGPEER_A_LAST_HANDSHAKE_TIME (6), _RX_BYTES (7), _TX_BYTES (8), _PROTOCOL_VERSION (10).
    let peer = n(
        0,
        &[
            a(1, &[0xab; 32]),
            a(2, &[0; 32]),
            a(4, &sin6),
            a(5, &25u16.to_ne_bytes()),
            a(6, &ts),
            a(7, &180u64.to_ne_bytes()),
            a(8, &92u64.to_ne_bytes()),
            n(9, &[allowed(2, &[10, 99, 1, 0], 24)]),
            a(10, &1u32.to_ne_bytes()),
        ],
    );
    // WGDEVICE_A_PUBLIC_KEY (4).
    let device = [a(2, b"wg0\0"), a(3, &[7; 32]), a(4, &[8; 32])];
    [&device[..], &[a(6, &51820u16.to_ne_bytes()), n(8, &[peer])]]
        .concat()
        .concat()
}

/// The next message: the first peer again (key and one more allowed IP), then a second peer.
fn second_dump_message() -> Vec<u8> {
    let v6 = "fd00:99::".parse::<Ipv6Addr>().unwrap().octets();
    let again = n(0, &[a(1, &[0xab; 32]), n(9, &[allowed(10, &v6, 64)])]);
    let next = n(0, &[a(1, &[0xcd; 32])]);
    [a(2, b"wg0\0"), n(8, &[again, next])].concat()
}

#[test]
fn a_dump_split_over_two_messages_is_coalesced() {
    let dev = decode_device(&[first_dump_message(), second_dump_message()]).unwrap();
    assert_eq!(dev.private_key, Some(PrivateKey(Key([7; 32]))));
    assert_eq!(dev.public_key, Some(Key([8; 32])));
    assert_eq!(dev.listen_port, 51820);
    assert_eq!(dev.peers.len(), 2);
    let p = &dev.peers[0];
    assert_eq!(p.public_key, Key([0xab; 32]));
    assert_eq!(p.preshared_key, None);
    assert_eq!(p.endpoint, Some("[2001:db8::2]:51821".parse().unwrap()));
    assert_eq!(p.persistent_keepalive, 25);
    let at = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    assert_eq!(
        (p.last_handshake, p.rx_bytes, p.tx_bytes),
        (Some(at), 180, 92)
    );
    let want: Vec<IpNet> = vec![
        "10.99.1.0/24".parse().unwrap(),
        "fd00:99::/64".parse().unwrap(),
    ];
    assert_eq!(p.allowed_ips, want);
    assert_eq!(dev.peers[1].public_key, Key([0xcd; 32]));
    let short_endpoint = n(8, &[n(0, &[a(4, &[1, 2])])]);
    assert_eq!(decode_device(&[short_endpoint]), Err("endpoint"));
}
