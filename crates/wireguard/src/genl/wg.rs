//! WG_CMD_SET_DEVICE and WG_CMD_GET_DEVICE messages, after the attribute tree
//! include/uapi/linux/wireguard.h documents: the device by WGDEVICE_A_IFNAME; its peers in
//! WGDEVICE_A_PEERS, each a nest (type 0) of WGPEER_A_*; a peer's allowed IPs in
//! WGPEER_A_ALLOWEDIPS, each a nest (type 0) of family, address and prefix length. Endpoints
//! are a `struct sockaddr_in` or `sockaddr_in6` (port and address in network order), the last
//! handshake a `struct __kernel_timespec` (two s64), other integers host order.
//!
//! A GET_DEVICE dump may split a device over several messages, repeating a peer (public key
//! and more allowed IPs) at a message boundary: [`decode_device`] coalesces them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ipnet::IpNet;

use super::wire::{self, ne, Msg, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use crate::config::{handshake_time, DeviceConfig, DeviceState, PeerConfig, PeerState};
use crate::key::{Key, PrivateKey};

pub const FAMILY_NAME: &str = "wireguard";
pub const VERSION: u8 = 1;

pub const CMD_GET_DEVICE: u8 = 0;
pub const CMD_SET_DEVICE: u8 = 1;

pub const DEVICE_F_REPLACE_PEERS: u32 = 1;
pub const DEVICE_A_IFNAME: u16 = 2;
pub const DEVICE_A_PRIVATE_KEY: u16 = 3;
pub const DEVICE_A_PUBLIC_KEY: u16 = 4;
pub const DEVICE_A_FLAGS: u16 = 5;
pub const DEVICE_A_LISTEN_PORT: u16 = 6;
pub const DEVICE_A_PEERS: u16 = 8;

pub const PEER_F_REMOVE_ME: u32 = 1;
pub const PEER_F_REPLACE_ALLOWEDIPS: u32 = 2;
pub const PEER_F_UPDATE_ONLY: u32 = 4;
pub const PEER_A_PUBLIC_KEY: u16 = 1;
pub const PEER_A_PRESHARED_KEY: u16 = 2;
pub const PEER_A_FLAGS: u16 = 3;
pub const PEER_A_ENDPOINT: u16 = 4;
pub const PEER_A_PERSISTENT_KEEPALIVE_INTERVAL: u16 = 5;
pub const PEER_A_LAST_HANDSHAKE_TIME: u16 = 6;
pub const PEER_A_RX_BYTES: u16 = 7;
pub const PEER_A_TX_BYTES: u16 = 8;
pub const PEER_A_ALLOWEDIPS: u16 = 9;

pub const ALLOWEDIP_A_FAMILY: u16 = 1;
pub const ALLOWEDIP_A_IPADDR: u16 = 2;
pub const ALLOWEDIP_A_CIDR_MASK: u16 = 3;

/// The WG_CMD_SET_DEVICE request (with NLM_F_ACK) applying `config` to `ifname`.
pub fn encode_set(family: u16, seq: u32, ifname: &str, config: &DeviceConfig) -> Vec<u8> {
    let mut m = Msg::new(
        family,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        CMD_SET_DEVICE,
        VERSION,
    );
    m.put_str(DEVICE_A_IFNAME, ifname);
    if config.replace_peers {
        m.put_u32(DEVICE_A_FLAGS, DEVICE_F_REPLACE_PEERS);
    }
    if let Some(k) = &config.private_key {
        m.put(DEVICE_A_PRIVATE_KEY, &k.0 .0);
    }
    if let Some(port) = config.listen_port {
        m.put_u16(DEVICE_A_LISTEN_PORT, port);
    }
    if !config.peers.is_empty() {
        m.begin(DEVICE_A_PEERS);
        for p in &config.peers {
            m.begin(0);
            encode_peer(&mut m, p);
            m.end();
        }
        m.end();
    }
    m.finish()
}

fn encode_peer(m: &mut Msg, p: &PeerConfig) {
    m.put(PEER_A_PUBLIC_KEY, &p.public_key.0);
    let flags = if p.remove {
        PEER_F_REMOVE_ME
    } else {
        (if p.replace_allowed_ips {
            PEER_F_REPLACE_ALLOWEDIPS
        } else {
            0
        }) | (if p.update_only { PEER_F_UPDATE_ONLY } else { 0 })
    };
    if flags != 0 {
        m.put_u32(PEER_A_FLAGS, flags);
    }
    if p.remove {
        return;
    }
    if let Some(k) = &p.preshared_key {
        m.put(PEER_A_PRESHARED_KEY, &k.0);
    }
    if let Some(e) = p.endpoint {
        m.put(PEER_A_ENDPOINT, &sockaddr(e));
    }
    if let Some(k) = p.persistent_keepalive {
        m.put_u16(PEER_A_PERSISTENT_KEEPALIVE_INTERVAL, k);
    }
    if !p.allowed_ips.is_empty() {
        m.begin(PEER_A_ALLOWEDIPS);
        for ip in &p.allowed_ips {
            m.begin(0);
            let (fam, addr) = match ip.addr() {
                IpAddr::V4(a) => (libc::AF_INET, a.octets().to_vec()),
                IpAddr::V6(a) => (libc::AF_INET6, a.octets().to_vec()),
            };
            m.put_u16(ALLOWEDIP_A_FAMILY, fam as u16);
            m.put(ALLOWEDIP_A_IPADDR, &addr);
            m.put_u8(ALLOWEDIP_A_CIDR_MASK, ip.prefix_len());
            m.end();
        }
        m.end();
    }
}

/// `struct sockaddr_in` (16 bytes) or `struct sockaddr_in6` (28 bytes).
fn sockaddr(e: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(28);
    match e {
        SocketAddr::V4(a) => {
            out.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&[0; 8]);
        }
        SocketAddr::V6(a) => {
            out.extend_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.flowinfo().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
    out
}

fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let fam = i32::from(u16::from_ne_bytes(ne(b.get(0..2)?)?));
    let port = u16::from_be_bytes(ne(b.get(2..4)?)?);
    if fam == libc::AF_INET {
        let ip = Ipv4Addr::from(<[u8; 4]>::try_from(b.get(4..8)?).ok()?);
        Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
    } else if fam == libc::AF_INET6 {
        let flow = u32::from_be_bytes(ne(b.get(4..8)?)?);
        let ip = Ipv6Addr::from(<[u8; 16]>::try_from(b.get(8..24)?).ok()?);
        let scope = u32::from_ne_bytes(ne(b.get(24..28)?)?);
        Some(SocketAddr::V6(SocketAddrV6::new(ip, port, flow, scope)))
    } else {
        None
    }
}

/// The WG_CMD_GET_DEVICE dump request for `ifname`.
pub fn encode_get(family: u16, seq: u32, ifname: &str) -> Vec<u8> {
    let mut m = Msg::new(
        family,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        CMD_GET_DEVICE,
        VERSION,
    );
    m.put_str(DEVICE_A_IFNAME, ifname);
    m.finish()
}

/// The device in a GET_DEVICE dump (each reply's attributes, after the genlmsghdr).
pub fn decode_device(replies: &[Vec<u8>]) -> Result<DeviceState, &'static str> {
    let mut dev = DeviceState::default();
    for reply in replies {
        for (kind, v) in wire::attrs(reply) {
            match kind {
                DEVICE_A_PRIVATE_KEY => {
                    let k = Key(ne(v).ok_or("private key length")?);
                    dev.private_key = (!k.is_zero()).then_some(PrivateKey(k));
                }
                DEVICE_A_PUBLIC_KEY => {
                    let k = Key(ne(v).ok_or("public key length")?);
                    dev.public_key = (!k.is_zero()).then_some(k);
                }
                DEVICE_A_LISTEN_PORT => {
                    dev.listen_port = u16::from_ne_bytes(ne(v).ok_or("listen port length")?)
                }
                DEVICE_A_PEERS => {
                    for (_, peer) in wire::attrs(v) {
                        merge_peer(&mut dev.peers, decode_peer(peer)?);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(dev)
}

/// Adds `p`, or, when it continues the last peer (a message boundary), its allowed IPs.
fn merge_peer(peers: &mut Vec<PeerState>, p: PeerState) {
    match peers.last_mut() {
        Some(last) if last.public_key == p.public_key => last.allowed_ips.extend(p.allowed_ips),
        _ => peers.push(p),
    }
}

fn decode_peer(data: &[u8]) -> Result<PeerState, &'static str> {
    let mut p = PeerState::new(Key([0; 32]));
    for (kind, v) in wire::attrs(data) {
        let u64_of = |v: &[u8]| ne(v).map(u64::from_ne_bytes).ok_or("counter length");
        match kind {
            PEER_A_PUBLIC_KEY => p.public_key = Key(ne(v).ok_or("peer key length")?),
            PEER_A_PRESHARED_KEY => {
                let k = Key(ne(v).ok_or("preshared key length")?);
                p.preshared_key = (!k.is_zero()).then_some(k);
            }
            PEER_A_ENDPOINT => p.endpoint = Some(parse_sockaddr(v).ok_or("endpoint")?),
            PEER_A_PERSISTENT_KEEPALIVE_INTERVAL => {
                p.persistent_keepalive = u16::from_ne_bytes(ne(v).ok_or("keepalive length")?)
            }
            PEER_A_LAST_HANDSHAKE_TIME => {
                let secs = u64_of(v.get(0..8).ok_or("handshake time")?)?;
                let nanos = u64_of(v.get(8..16).ok_or("handshake time")?)?;
                p.last_handshake = handshake_time(secs, nanos as u32);
            }
            PEER_A_RX_BYTES => p.rx_bytes = u64_of(v)?,
            PEER_A_TX_BYTES => p.tx_bytes = u64_of(v)?,
            PEER_A_ALLOWEDIPS => {
                for (_, a) in wire::attrs(v) {
                    p.allowed_ips
                        .push(decode_allowed_ip(a).ok_or("allowed IP")?);
                }
            }
            _ => {}
        }
    }
    Ok(p)
}

fn decode_allowed_ip(data: &[u8]) -> Option<IpNet> {
    let (mut addr, mut len) = (None, None);
    for (kind, v) in wire::attrs(data) {
        match kind {
            ALLOWEDIP_A_IPADDR => {
                addr = match v.len() {
                    4 => Some(IpAddr::from(<[u8; 4]>::try_from(v).ok()?)),
                    16 => Some(IpAddr::from(<[u8; 16]>::try_from(v).ok()?)),
                    _ => None,
                }
            }
            ALLOWEDIP_A_CIDR_MASK => len = v.first().copied(),
            _ => {}
        }
    }
    IpNet::new(addr?, len?).ok()
}

#[cfg(test)]
#[path = "wg_tests.rs"]
mod tests;
