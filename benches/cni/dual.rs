//! ADD latency dual-stack against IPv4-only, in the same run (issue 15): Lichen and the
//! reference bridge + host-local, each with one IPv4 range set and with an IPv4 and an IPv6 one,
//! the four configurations interleaved attachment by attachment so drift hits all alike.
//!
//! Lichen adds the pod's IPv6 address without duplicate address detection (its own subnet,
//! leased by its own IPAM), so the address is usable when ADD returns; the reference's config
//! here is its plain dual-stack one, as a user writes it.

use std::path::Path;

use testkit::NamedNs;

use super::{interleaved_add_medians, Plugin};

/// The four configurations: (lichen, reference) × (IPv4 only, dual-stack).
fn plugins(data: &Path) -> [Plugin; 4] {
    let v4 = |n: u8| format!(r#"[{{"subnet":"10.{n}.0.0/16"}}]"#);
    let v6 = |n: u8| format!(r#"[{{"subnet":"fd{n}::/64"}}]"#);
    let lichen = |label, name: &str, br: &str, ranges: String| {
        super::lichen(
            (label, super::common::bin()),
            name,
            "bridge",
            br,
            &ranges,
            data,
        )
    };
    let reference = |label, name: &str, br: &str, ranges: String| {
        super::reference(label, name, br, &ranges, data)
    };
    [
        lichen("lichen IPv4", "l4", "dl4", v4(92)),
        lichen("lichen dual", "l6", "dl6", format!("{},{}", v4(93), v6(93))),
        reference("reference IPv4", "r4", "dr4", v4(94)),
        reference(
            "reference dual",
            "r6",
            "dr6",
            format!("{},{}", v4(95), v6(95)),
        ),
    ]
}

/// `iterations` ADDs of each configuration, interleaved, then their DELs; prints the medians and
/// the dual-stack / IPv4-only ratio of each plugin.
pub fn bench(node: &NamedNs, work: &Path, iterations: usize) {
    let plugins = plugins(&work.join("dual-ipam"));
    let median = interleaved_add_medians(node, &plugins, "d", iterations);
    println!();
    println!("ADD latency, dual-stack vs IPv4-only ({iterations} each, interleaved; medians)");
    println!(
        "{:<24}{:>12}{:>12}{:>14}",
        "", "IPv4-only", "dual-stack", "dual/IPv4"
    );
    for (name, k) in [("lichen", 0), ("bridge+host-local", 2)] {
        println!(
            "{name:<24}{:>9.2} ms{:>9.2} ms{:>14.3}",
            median[k],
            median[k + 1],
            median[k + 1] / median[k]
        );
    }
    println!(
        "lichen / bridge+host-local: IPv4-only {:.3}, dual-stack {:.3}",
        median[0] / median[2],
        median[1] / median[3]
    );
}
