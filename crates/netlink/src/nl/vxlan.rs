//! VXLAN links as the agent reads them back: the link plus its `IFLA_INFO_DATA` (VNI, port,
//! local address, lower device, learning), from one link dump.

use std::io;
use std::net::IpAddr;

use super::{Link, Msg, Nl};
use netlink_packet_route::link::{InfoData, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage};

/// The VXLAN parameters of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanInfo {
    pub vni: u32,
    /// UDP destination port.
    pub port: u16,
    /// `IFLA_VXLAN_LOCAL`/`LOCAL6`, if set.
    pub local: Option<IpAddr>,
    /// `IFLA_VXLAN_LINK`: the underlay device, if set.
    pub lower: Option<u32>,
    pub learning: bool,
}

/// The VXLAN data of a link message, `None` for other kinds.
fn vxlan_info(msg: &LinkMessage) -> Option<VxlanInfo> {
    let data = msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Data(InfoData::Vxlan(d)) => Some(d),
            _ => None,
        }),
        _ => None,
    })?;
    let mut info = VxlanInfo {
        vni: 0,
        port: 0,
        local: None,
        lower: None,
        // The kernel's default when the attribute is absent.
        learning: true,
    };
    for attr in data {
        match attr {
            InfoVxlan::Id(v) => info.vni = *v,
            InfoVxlan::Port(p) => info.port = *p,
            InfoVxlan::Local(a) => info.local = Some(IpAddr::V4(*a)),
            InfoVxlan::Local6(a) => info.local = Some(IpAddr::V6(*a)),
            InfoVxlan::Link(l) => info.lower = Some(*l),
            InfoVxlan::Learning(l) => info.learning = *l,
            _ => {}
        }
    }
    Some(info)
}

impl Nl {
    /// Every VXLAN link in the namespace with its parameters (one dump).
    pub fn vxlan_links(&mut self) -> io::Result<Vec<(Link, VxlanInfo)>> {
        let replies = self.dump(Msg::GetLink(LinkMessage::default()))?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                Msg::NewLink(m) => {
                    let info = vxlan_info(&m)?;
                    Some((Link::from_msg(m), info))
                }
                _ => None,
            })
            .collect())
    }
}
