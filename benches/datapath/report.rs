//! The data-path bench's tables: every row against the underlay, Lichen against the
//! flannel-equivalent path, routed against bridge mode, WireGuard against VXLAN.

use super::{Mode, Row, VXLAN_BASE};

pub fn print_rows(rows: &[Row], secs: &str, rr: usize) {
    println!();
    println!("Pod to pod across two nodes (iperf3 {secs} s one stream; {rr} 1-byte TCP request/responses; medians of alternating rounds with the plain underlay; Lichen's bridge and routed pods on one bed):");
    println!(
        "{:<34}{:>10}{:>8}{:>12}{:>8}{:>10}{:>8}",
        "", "Gbit/s", "/under", "CPU s/GB", "/under", "RR us", "/under"
    );
    for r in rows {
        println!(
            "{:<34}{:>10.2}{:>8.3}{:>12.3}{:>8.3}{:>10.1}{:>8.3}",
            r.mode.label(),
            r.pod.gbps,
            r.pod.gbps / r.under.gbps,
            r.pod.cpu_s_per_gb,
            r.pod.cpu_s_per_gb / r.under.cpu_s_per_gb,
            r.rr_pod,
            r.rr_pod / r.rr_under
        );
    }
    println!();
    println!("Lichen against the flannel-equivalent path of the same backend (throughput ×, CPU per GB ×, RR latency ×):");
    for r in rows {
        let Mode::Lichen { vxlan, .. } = r.mode else {
            continue;
        };
        let base = rows
            .iter()
            .find(|b| matches!(b.mode, Mode::Flannel { vxlan: v } if v == vxlan));
        if let Some(base) = base {
            print_ratio(r, base);
        }
    }
    print_routed_vs_bridge(rows);
    let wg = rows.iter().find(|r| matches!(r.mode, Mode::LichenWg));
    let vxlan = rows.iter().find(|r| r.mode == VXLAN_BASE);
    if let (Some(wg), Some(vxlan)) = (wg, vxlan) {
        println!();
        println!("WireGuard (userspace wireguard-go: no kernel module here) against Lichen VXLAN, bridge, policy off (throughput ×, CPU per GB ×, RR latency ×):");
        print_ratio(wg, vxlan);
    }
}

fn print_ratio(r: &Row, base: &Row) {
    println!(
        "{:<34}{:>8.3}{:>8.3}{:>8.3}",
        r.mode.label(),
        r.pod.gbps / base.pod.gbps,
        r.pod.cpu_s_per_gb / base.pod.cpu_s_per_gb,
        r.rr_pod / base.rr_pod
    );
}

/// Routed mode against bridge mode of the same backend and policy, when both ran.
fn print_routed_vs_bridge(rows: &[Row]) {
    println!();
    println!("Lichen routed mode against bridge mode (throughput ×, CPU per GB ×, RR latency ×):");
    for r in rows {
        let Mode::Lichen {
            vxlan,
            policy,
            routed: true,
        } = r.mode
        else {
            continue;
        };
        let Some(base) = rows.iter().find(|b| {
            matches!(b.mode, Mode::Lichen { vxlan: v, policy: p, routed: false } if v == vxlan && p == policy)
        }) else {
            continue;
        };
        print_ratio(r, base);
    }
}
