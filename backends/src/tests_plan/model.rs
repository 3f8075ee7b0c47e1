//! Random sequences of states, each converging in one plan, and the fake kernel's model refusing
//! the orders the real kernel refuses (so the ordering tests of the plan mean something).

use super::{kernel_with, want};
use crate::conf::{BackendConf, VxlanConf, WireguardConf};
use crate::model::NodeInfo;
use crate::op::Op;
use crate::plan::plan;
use crate::state::Actual;
use crate::test_fixtures::*;
use crate::testing::FakeKernel;

/// A small deterministic generator for the sequence test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn any_sequence_of_states_converges_in_one_plan_each() {
    let pool: Vec<NodeInfo> = (2..12)
        .map(|i| {
            let n = match i % 3 {
                0 => peer_dual(i),
                1 => far_peer(i),
                _ => peer(i),
            };
            keyed(n, i)
        })
        .collect();
    let confs = [
        BackendConf::HostGw,
        vx(),
        vx_direct(),
        BackendConf::Vxlan(VxlanConf {
            vni: 3,
            mtu: Some(1400),
            tx_checksum_offload: true,
            ..VxlanConf::default()
        }),
        wg(),
        BackendConf::Wireguard(WireguardConf {
            mtu: Some(1380),
            ..WireguardConf::default()
        }),
    ];
    let mut rng = Lcg(7);
    let mut k = FakeKernel::new(&underlay());
    for _ in 0..300 {
        let peers: Vec<NodeInfo> = pool.iter().filter(|_| rng.next(2) == 0).cloned().collect();
        let conf = &confs[rng.next(confs.len() as u64) as usize];
        let d = want(&peers, conf);
        // Random drift between reconciles.
        match rng.next(8) {
            0 if !k.routes.is_empty() => {
                let i = rng.next(k.routes.len() as u64) as usize;
                k.routes.remove(i);
            }
            1 if !k.devices.is_empty() => k.devices[0].mtu += 1,
            2 if !k.devices.is_empty() => k.devices[0].mac[5] ^= 0x55,
            3 if k.devices.first().is_some_and(|d| !d.fdb.is_empty()) => {
                k.devices[0].fdb.pop();
            }
            4 if k.wireguard.is_some() => k.wireguard.as_mut().unwrap().mtu += 1,
            5 if k.wireguard.is_some() => k.wireguard.as_mut().unwrap().up = false,
            _ => {}
        }
        converge(&mut k, &d);
    }
}

#[test]
fn the_model_refuses_a_route_before_its_static_entries() {
    let d = want(&[peer(3)], &vx());
    let ops = plan(&d, &Actual::default());
    let mut bad: Vec<Op> = ops.iter().filter(|o| phase(o) != 4).cloned().collect();
    bad.extend(ops.iter().filter(|o| phase(o) == 4).cloned());
    let mut k = FakeKernel::new(&underlay());
    let err = k.apply_all(&d, &bad).unwrap_err();
    assert!(
        matches!(err.1, crate::testing::FakeError::WouldResolve(_)),
        "{err:?}"
    );
}

#[test]
fn the_model_refuses_removing_entries_a_route_still_uses() {
    let d = want(&[peer(3)], &vx());
    let mut k = kernel_with(&d);
    let empty = want(&[], &vx());
    let ops = plan(&empty, &k.actual());
    let mut bad: Vec<Op> = ops.iter().filter(|o| phase(o) == 7).cloned().collect();
    bad.extend(ops.iter().filter(|o| phase(o) != 7).cloned());
    let err = k.apply_all(&empty, &bad).unwrap_err();
    assert!(
        matches!(err.1, crate::testing::FakeError::InUse(_)),
        "{err:?}"
    );
}

#[test]
fn the_model_refuses_a_route_on_a_down_device_or_a_far_gateway() {
    let d = want(&[peer(3)], &vx());
    let ops = plan(&d, &Actual::default());
    let no_up: Vec<Op> = ops.iter().filter(|o| phase(o) != 3).cloned().collect();
    let err = FakeKernel::new(&underlay())
        .apply_all(&d, &no_up)
        .unwrap_err();
    assert!(
        matches!(err.1, crate::testing::FakeError::NetDown(_)),
        "{err:?}"
    );
    let mut far = crate::test_fixtures::underlay();
    far.onlink.clear();
    let hg = want(&[peer(3)], &BackendConf::HostGw);
    let err = FakeKernel::new(&far)
        .apply_all(&hg, &plan(&hg, &Actual::default()))
        .unwrap_err();
    assert!(
        matches!(err.1, crate::testing::FakeError::Unreachable(_)),
        "{err:?}"
    );
}
