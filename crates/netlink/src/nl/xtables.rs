//! Reading the legacy iptables `filter` table's FORWARD chain, without the `iptables-legacy`
//! binary (Lichen's image has none): `getsockopt(IPT_SO_GET_INFO)` then
//! `getsockopt(IPT_SO_GET_ENTRIES)` on a raw IPv4 socket, as iptables-legacy itself reads it.
//!
//! Layouts (include/uapi/linux/netfilter_ipv4/ip_tables.h, netfilter/x_tables.h):
//! - `ipt_getinfo`: `name[32]`, `valid_hooks`, `hook_entry[5]`, `underflow[5]`,
//!   `num_entries`, `size` (all u32);
//! - `ipt_get_entries`: `name[32]`, `size`, then the entries, aligned as an `ipt_entry` (which
//!   holds u64 counters);
//! - `ipt_entry`: `ipt_ip` (84 bytes), `nfcache` u32, `target_offset` u16 (at 88),
//!   `next_offset` u16 (at 90), `comefrom`, counters, matches, then the target:
//!   `xt_entry_target` (`target_size` u16, `name[29]`, `revision`; 32 bytes) and, for the
//!   standard target (name ""), an i32 verdict: `-NF_DROP - 1` = -1, `-NF_ACCEPT - 1` = -2,
//!   a jump is an offset ≥ 0.
//!
//! `hook_entry[NF_INET_FORWARD]` is the chain's first rule, `underflow[NF_INET_FORWARD]` its
//! policy. Nothing is read unless `/proc/net/ip_tables_names` already lists `filter`: asking
//! the kernel for the table would create it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const IPT_SO_GET_INFO: libc::c_int = 64;
const IPT_SO_GET_ENTRIES: libc::c_int = 65;
const NF_INET_FORWARD: usize = 2;
const TARGET_OFFSET_AT: usize = 88;
const NEXT_OFFSET_AT: usize = 90;
const TARGET_NAME_AT: usize = 2;
const TARGET_NAME_LEN: usize = 29;
const VERDICT_AT: usize = 32;
const VERDICT_DROP: i32 = -1;

/// The legacy tables of the calling thread's namespace (`/proc/net` is the process's).
const IP_TABLES_NAMES: &str = "/proc/thread-self/net/ip_tables_names";

/// The FORWARD chain of the legacy `filter` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyForward {
    /// The chain's policy is DROP.
    pub policy_drop: bool,
    /// Rules (not the policy) in the chain.
    pub rules: usize,
    /// Of those, the ones that drop or reject.
    pub drops: usize,
}

#[repr(C)]
struct GetInfo {
    name: [u8; 32],
    valid_hooks: u32,
    hook_entry: [u32; 5],
    underflow: [u32; 5],
    num_entries: u32,
    size: u32,
}

/// The head of `ipt_get_entries`; `_align` places the entries where the kernel puts them.
#[repr(C)]
struct GetEntriesHead {
    name: [u8; 32],
    size: u32,
    _align: [u64; 0],
}

/// The FORWARD chain of the legacy `filter` table, or `None` when there is no such table.
pub fn forward() -> io::Result<Option<LegacyForward>> {
    if !filter_listed()? {
        return Ok(None);
    }
    let sock = raw_socket()?;
    let mut name = [0u8; 32];
    name[..6].copy_from_slice(b"filter");
    let info = get_info(&sock, name)?;
    if info.valid_hooks & (1 << NF_INET_FORWARD) == 0 {
        return Ok(None);
    }
    let head = size_of::<GetEntriesHead>();
    let mut buf = vec![0u64; (head + info.size as usize).div_ceil(8)];
    let bytes = buf.as_mut_ptr() as *mut u8;
    // SAFETY: buf holds at least `head` bytes and is 8-aligned.
    unsafe {
        let h = bytes as *mut GetEntriesHead;
        (*h).name = name;
        (*h).size = info.size;
    }
    getsockopt(&sock, IPT_SO_GET_ENTRIES, bytes, head + info.size as usize)?;
    // SAFETY: the kernel filled `info.size` bytes of entries after the head.
    let entries = unsafe { std::slice::from_raw_parts(bytes.add(head), info.size as usize) };
    chain(
        entries,
        info.hook_entry[NF_INET_FORWARD] as usize,
        info.underflow[NF_INET_FORWARD] as usize,
    )
    .map(Some)
    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed ip_tables entries"))
}

/// Whether the legacy `filter` table exists (false without ip_tables in the kernel).
fn filter_listed() -> io::Result<bool> {
    let names = match std::fs::read_to_string(IP_TABLES_NAMES) {
        Ok(n) => n,
        // No ip_tables at all in this kernel.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(names.lines().any(|l| l.trim() == "filter"))
}

/// A raw IPv4 socket, to ask ip_tables on.
fn raw_socket() -> io::Result<OwnedFd> {
    // SAFETY: a plain socket(2) call; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a socket we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `IPT_SO_GET_INFO` for the table `name`.
fn get_info(sock: &OwnedFd, name: [u8; 32]) -> io::Result<GetInfo> {
    let mut info = GetInfo {
        name,
        valid_hooks: 0,
        hook_entry: [0; 5],
        underflow: [0; 5],
        num_entries: 0,
        size: 0,
    };
    getsockopt(
        sock,
        IPT_SO_GET_INFO,
        &mut info as *mut GetInfo as *mut u8,
        size_of::<GetInfo>(),
    )?;
    Ok(info)
}

fn getsockopt(sock: &OwnedFd, opt: libc::c_int, ptr: *mut u8, len: usize) -> io::Result<()> {
    let mut len = libc::socklen_t::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: ptr points at `len` writable bytes owned by the caller.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            opt,
            ptr.cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Walks the chain from `first` to its policy entry at `policy`. `None` when malformed.
fn chain(entries: &[u8], first: usize, policy: usize) -> Option<LegacyForward> {
    let u16_at = |at: usize| {
        Some(u16::from_ne_bytes(
            entries.get(at..at + 2)?.try_into().ok()?,
        ))
    };
    let mut out = LegacyForward {
        policy_drop: false,
        rules: 0,
        drops: 0,
    };
    let mut at = first;
    loop {
        let target = at + usize::from(u16_at(at + TARGET_OFFSET_AT)?);
        let name =
            entries.get(target + TARGET_NAME_AT..target + TARGET_NAME_AT + TARGET_NAME_LEN)?;
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        let verdict = entries
            .get(target + VERDICT_AT..target + VERDICT_AT + 4)
            .and_then(|v| v.try_into().ok())
            .map(i32::from_ne_bytes);
        let drops = (name.is_empty() && verdict == Some(VERDICT_DROP)) || name == b"REJECT";
        if at == policy {
            out.policy_drop = drops;
            return Some(out);
        }
        out.rules += 1;
        out.drops += usize::from(drops);
        let next = usize::from(u16_at(at + NEXT_OFFSET_AT)?);
        if next == 0 || at + next > policy {
            return None;
        }
        at += next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::{enter_node, run_ok};

    #[test]
    fn the_forward_chain_is_read_as_iptables_legacy_wrote_it() {
        testkit::require_root!();
        if testkit::skip_emulated("qemu-user does not translate the ip_tables getsockopts") {
            return;
        }
        enter_node();
        assert_eq!(
            forward().unwrap(),
            None,
            "a fresh namespace has no legacy table"
        );
        run_ok("iptables-legacy", &["-w", "-P", "FORWARD", "DROP"]);
        run_ok("iptables-legacy", &["-w", "-N", "LICTEST"]);
        run_ok("iptables-legacy", &["-w", "-A", "FORWARD", "-j", "LICTEST"]);
        run_ok(
            "iptables-legacy",
            &["-w", "-A", "FORWARD", "-o", "lo", "-j", "DROP"],
        );
        run_ok(
            "iptables-legacy",
            &["-w", "-A", "FORWARD", "-s", "10.9.0.0/16", "-j", "ACCEPT"],
        );
        let f = forward().unwrap().expect("the filter table");
        assert_eq!(
            f,
            LegacyForward {
                policy_drop: true,
                rules: 3,
                drops: 1
            }
        );
        run_ok("iptables-legacy", &["-w", "-P", "FORWARD", "ACCEPT"]);
        run_ok("iptables-legacy", &["-w", "-F", "FORWARD"]);
        let f = forward().unwrap().unwrap();
        assert_eq!((f.policy_drop, f.rules, f.drops), (false, 0, 0));
    }
}
