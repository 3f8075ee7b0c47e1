//! Kernel change notifications for the loop: a multicast subscription on a thread of its own,
//! reduced to a coalesced "something Lichen cares about may have changed".
//!
//! What wakes the agent (see [`Filter::wakes`]):
//! - any link change (a `lichen.*` device deleted or changed, the underlay changing);
//! - any address change (the underlay's addresses decide adjacency; a DHCP client may add
//!   addresses to the VXLAN device);
//! - route changes in the main table except the kernel's own and router advertisements
//!   (Lichen's routes deleted or replaced, a conflicting route going away);
//! - neighbour and FDB changes on `lichen.*` devices only: the underlay's ARP/NDP entries
//!   change state (REACHABLE, STALE…) all the time and are none of the agent's business;
//! - a socket overrun (notifications were lost).

use std::collections::BTreeSet;
use std::io;

use lichen_backends::{DEVICE_PREFIX, RT_PROTO_LICHEN};
use smol::channel::{Receiver, TrySendError};

use crate::nl::{Event, Monitor, Nl, PROTO_KERNEL, TABLE_MAIN};

/// `RTPROT_RA`: routes from IPv6 router advertisements (they are refreshed periodically).
const PROTO_RA: u8 = 9;

/// Kernel change notifications relevant to the agent (coalesced): each message on the channel
/// means "something Lichen owns, or the underlay, may have changed". The subscription is made
/// in the calling thread's namespace and read on a thread of its own; the receiver ends when
/// the monitor fails.
pub fn monitor() -> io::Result<Receiver<()>> {
    // Subscribe first, then list the devices: a device made in between is seen either way.
    let mon = Monitor::open()?;
    let mut filter = Filter::default();
    for link in Nl::open()?.links()? {
        filter.note_link(link.index, Some(&link.name), false);
    }
    let (tx, rx) = smol::channel::bounded(1);
    std::thread::Builder::new()
        .name("lichen-netlink-monitor".into())
        .spawn(move || {
            let r = mon.run(|ev| {
                if !filter.wakes(&ev) {
                    return true;
                }
                log::debug!("kernel change: {ev:?}");
                // Full: a wake-up is already pending, which covers this one.
                !matches!(tx.try_send(()), Err(TrySendError::Closed(_)))
            });
            if let Err(e) = r {
                log::error!(
                    "netlink monitor stopped ({e}): kernel changes are only repaired by the \
                     periodic resync"
                );
            }
        })?;
    Ok(rx)
}

/// Decides which notifications wake the agent; tracks the ifindexes of `lichen.*` devices.
#[derive(Debug, Default)]
pub(super) struct Filter {
    ours: BTreeSet<u32>,
}

impl Filter {
    pub(super) fn wakes(&mut self, ev: &Event) -> bool {
        match ev {
            Event::Link {
                index,
                name,
                deleted,
            } => {
                self.note_link(*index, name.as_deref(), *deleted);
                true
            }
            Event::Addr { .. } | Event::Overrun => true,
            Event::Route {
                table, protocol, ..
            } => {
                *table == TABLE_MAIN
                    && (*protocol == RT_PROTO_LICHEN
                        || !matches!(*protocol, PROTO_KERNEL | PROTO_RA))
            }
            Event::Neigh { index, .. } => self.ours.contains(index),
        }
    }

    fn note_link(&mut self, index: u32, name: Option<&str>, deleted: bool) {
        match name {
            Some(n) if !deleted && n.starts_with(DEVICE_PREFIX) => {
                self.ours.insert(index);
            }
            // A message without a name says nothing about it.
            None if !deleted => {}
            _ => {
                self.ours.remove(&index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str, deleted: bool) -> Event {
        Event::Link {
            index,
            name: Some(name.into()),
            deleted,
        }
    }

    fn neigh(index: u32, bridge: bool, deleted: bool) -> Event {
        Event::Neigh {
            index,
            bridge,
            deleted,
        }
    }

    fn route(protocol: u8, table: u32, deleted: bool) -> Event {
        Event::Route {
            table,
            protocol,
            oif: Some(7),
            deleted,
        }
    }

    #[test]
    fn neighbour_churn_on_other_links_does_not_wake() {
        let mut f = Filter::default();
        assert!(f.wakes(&link(2, "eth0", false)));
        for deleted in [false, true] {
            assert!(!f.wakes(&neigh(2, false, deleted)), "ARP on the underlay");
            assert!(!f.wakes(&neigh(2, true, deleted)), "a bridge learning MACs");
        }
    }

    #[test]
    fn neighbours_and_fdb_on_lichen_devices_wake() {
        let mut f = Filter::default();
        assert!(f.wakes(&link(9, "lichen.1", false)));
        assert!(f.wakes(&neigh(9, false, true)));
        assert!(f.wakes(&neigh(9, true, true)));
        assert!(f.wakes(&neigh(9, true, false)));
        // deleted, or renamed away: no longer ours
        assert!(f.wakes(&link(9, "lichen.1", true)));
        assert!(!f.wakes(&neigh(9, false, true)));
        f.wakes(&link(10, "lichen.1", false));
        f.wakes(&link(10, "other", false));
        assert!(!f.wakes(&neigh(10, true, true)));
        // a nameless message keeps what we know
        f.wakes(&link(11, "lichen.2", false));
        f.wakes(&Event::Link {
            index: 11,
            name: None,
            deleted: false,
        });
        assert!(f.wakes(&neigh(11, true, true)));
    }

    #[test]
    fn routes_wake_unless_kernel_or_ra_or_another_table() {
        let mut f = Filter::default();
        assert!(f.wakes(&route(RT_PROTO_LICHEN, TABLE_MAIN, true)));
        assert!(f.wakes(&route(RT_PROTO_LICHEN, TABLE_MAIN, false)));
        assert!(f.wakes(&route(3, TABLE_MAIN, true)), "an admin's route");
        assert!(!f.wakes(&route(PROTO_KERNEL, TABLE_MAIN, false)));
        assert!(!f.wakes(&route(PROTO_RA, TABLE_MAIN, false)));
        assert!(!f.wakes(&route(RT_PROTO_LICHEN, 255, true)), "local table");
    }

    #[test]
    fn links_addresses_and_overruns_wake() {
        let mut f = Filter::default();
        assert!(f.wakes(&link(3, "veth1", true)));
        assert!(f.wakes(&Event::Addr {
            index: 2,
            deleted: false
        }));
        assert!(f.wakes(&Event::Overrun));
    }
}
