//! Paired A/B (issue 16): the binary under test against a baseline binary named by
//! `LICHEN_BENCH_BASELINE` (e.g. the previous commit's static build), bridge and routed mode,
//! and the reference, interleaved attachment by attachment in one run so the machine's drift
//! hits all alike. Nothing without the variable.

use std::path::{Path, PathBuf};

use testkit::NamedNs;

use super::{interleaved_add_medians, Plugin};

fn plugins(data: &Path, base: &Path) -> Vec<Plugin> {
    let lichen = |label, bin: &Path, name: &str, mode: &str, n: u8| {
        let ranges = format!(r#"[{{"subnet":"10.{n}.0.0/16"}}]"#);
        super::lichen((label, bin), name, mode, &format!("a{name}"), &ranges, data)
    };
    let new = super::common::bin();
    vec![
        lichen("bridge, this binary", new, "ab1", "bridge", 76),
        lichen("bridge, baseline", base, "ab2", "bridge", 77),
        lichen("routed, this binary", new, "ab3", "routed", 78),
        lichen("routed, baseline", base, "ab4", "routed", 79),
        super::reference(
            "reference",
            "ab5",
            "aab5",
            r#"[{"subnet":"10.75.0.0/16"}]"#,
            data,
        ),
    ]
}

/// With `LICHEN_BENCH_BASELINE` set: `iterations` ADDs of each configuration, interleaved;
/// prints the medians and the ratios this / baseline and each / reference.
pub fn bench(node: &NamedNs, work: &Path, iterations: usize) {
    let Some(base) = std::env::var_os("LICHEN_BENCH_BASELINE").map(PathBuf::from) else {
        return;
    };
    let plugins = plugins(&work.join("ab-ipam"), &base);
    let median = interleaved_add_medians(node, &plugins, "ab", iterations);
    println!();
    println!(
        "ADD, this binary vs baseline {} ({iterations} each, interleaved; medians)",
        base.display()
    );
    for (p, m) in plugins.iter().zip(&median) {
        println!(
            "{:<24}{m:>9.2} ms{:>10.3} of reference",
            p.label,
            m / median[4]
        );
    }
    for (mode, k) in [("bridge", 0), ("routed", 2)] {
        println!("{mode}: this / baseline {:.3}", median[k] / median[k + 1]);
    }
}
