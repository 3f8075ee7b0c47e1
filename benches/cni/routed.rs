//! ADD latency in the plugin's routed mode (`"mode": "routed"`, issue 16) against bridge mode
//! and the reference bridge + host-local, IPv4 and dual-stack, in the same run: the
//! configurations interleaved attachment by attachment so drift hits all alike.

use std::path::Path;

use testkit::NamedNs;

use super::{interleaved_add_medians, Plugin};

/// (lichen bridge, lichen routed, reference) × (IPv4 only, dual-stack).
fn plugins(data: &Path) -> Vec<Plugin> {
    let v4 = |n: u8| format!(r#"[{{"subnet":"10.{n}.0.0/16"}}]"#);
    let dual = |n: u8| format!(r#"[{{"subnet":"10.{n}.0.0/16"}}],[{{"subnet":"fd{n}::/64"}}]"#);
    let lichen = |label, name: &str, mode: &str, ranges: String| {
        let br = format!("r{name}");
        super::lichen(
            (label, super::common::bin()),
            name,
            mode,
            &br,
            &ranges,
            data,
        )
    };
    let reference = |label, name: &str, ranges: String| {
        super::reference(label, name, &format!("r{name}"), &ranges, data)
    };
    vec![
        lichen("lichen bridge IPv4", "lb4", "bridge", v4(96)),
        lichen("lichen routed IPv4", "lr4", "routed", v4(97)),
        reference("reference IPv4", "rf4", v4(98)),
        lichen("lichen bridge dual", "lb6", "bridge", dual(86)),
        lichen("lichen routed dual", "lr6", "routed", dual(87)),
        reference("reference dual", "rf6", dual(88)),
    ]
}

/// `iterations` ADDs of each configuration, interleaved, then their DELs; prints the medians,
/// routed / bridge and routed / reference.
pub fn bench(node: &NamedNs, work: &Path, iterations: usize) {
    let plugins = plugins(&work.join("routed-ipam"));
    let median = interleaved_add_medians(node, &plugins, "r", iterations);
    println!();
    println!("ADD latency, routed mode vs bridge mode ({iterations} each, interleaved; medians)");
    for (p, m) in plugins.iter().zip(&median) {
        println!("{:<24}{m:>9.2} ms", p.label);
    }
    for (family, k) in [("IPv4", 0), ("dual-stack", 3)] {
        println!(
            "{family}: routed / bridge {:.3}, routed / reference {:.3}, bridge / reference {:.3}",
            median[k + 1] / median[k],
            median[k + 1] / median[k + 2],
            median[k] / median[k + 2]
        );
    }
}
