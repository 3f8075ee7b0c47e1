//! Seeded property tests of the text parsers the plugin and agent read from outside (issue 12,
//! after flannel's `pkg/subnet/kube/fuzz_test.go`): `CNI_ARGS`, `subnet.env` and the `cni::json`
//! front-end with its agreement with `k8s::json` (in `fuzz_tests/json.rs`). For each: random
//! and mutated inputs never panic and fail with an error that says where; what the writer side
//! renders (or a generator builds) parses back to what it came from; hostile sizes and depths
//! are refused quickly. The kubeconfig YAML and base64 have theirs in `lichen-parse`
//! (crates/parse/src/fuzz_tests.rs), `k8s::json` in `lichen-kube` (crates/kube/src/fuzz_tests.rs);
//! the inotify record walker has its own in `agent/source/inotify.rs`.
//!
//! `LICHEN_PARSE_SEED` replays a run (the seed is printed on failure).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use testkit::fuzz::{mutate, rng, CASES};
use testkit::rng::Rng;

use crate::subnet_file::SubnetFile;

mod json;

// ---- CNI_ARGS ----

#[test]
fn cni_args_generated_pairs_parse_and_junk_fails_with_a_cni_error() {
    let mut rng = rng();
    for _ in 0..CASES {
        let name = format!("web-{}", rng.below(100));
        let ip = Ipv4Addr::from(rng.next_u64() as u32);
        let mut pairs = vec![
            format!("K8S_POD_NAME={name}"),
            format!("IP={ip}"),
            "K8S_POD_NAMESPACE=default".to_owned(),
        ];
        let unknown = rng.below(2) == 0;
        if unknown {
            pairs.push("FOO=bar".into());
            pairs.push("IgnoreUnknown=1".into());
        }
        // order does not matter, IgnoreUnknown included
        for i in (1..pairs.len()).rev() {
            let j = rng.below(i + 1);
            pairs.swap(i, j);
        }
        let raw = pairs.join(";") + if rng.below(2) == 0 { ";" } else { "" };
        let args = crate::cni::env::parse_args(&raw).unwrap_or_else(|e| panic!("{raw}: {e:?}"));
        assert_eq!(args.k8s_pod_name.as_deref(), Some(name.as_str()));
        assert_eq!(args.ips, vec![IpAddr::V4(ip)]);
        assert_eq!(args.ignore_unknown, unknown);

        let edits = 1 + rng.below(4);
        let bits = ["=", ";", "IP=", "x", ",", "IgnoreUnknown=maybe"];
        let junk = mutate(&mut rng, &raw, &bits, edits);
        if let Err(e) = crate::cni::env::parse_args(&junk) {
            assert!(e.msg.contains("CNI_ARGS"), "{junk}: {e:?}");
        }
    }
}

// ---- subnet.env ----

fn net(rng: &mut Rng, v6: bool) -> IpNet {
    if v6 {
        let a = Ipv6Addr::from((rng.next_u64() as u128) << 64 | rng.next_u64() as u128);
        IpNet::new(a.into(), 48 + rng.below(81) as u8).unwrap()
    } else {
        IpNet::new(
            Ipv4Addr::from(rng.next_u64() as u32).into(),
            8 + rng.below(25) as u8,
        )
        .unwrap()
    }
}

#[test]
fn subnet_file_parses_what_it_renders_and_junk_names_its_line() {
    let mut rng = rng();
    for _ in 0..CASES {
        let families: &[bool] = rng.pick::<&[bool]>(&[&[false][..], &[true], &[false, true]]);
        let f = SubnetFile {
            networks: families.iter().map(|&v6| net(&mut rng, v6)).collect(),
            subnets: families.iter().map(|&v6| net(&mut rng, v6)).collect(),
            mtu: (rng.below(2) == 0).then(|| 576 + rng.below(9000) as u32),
            ipmasq: rng.below(2) == 0,
        };
        let text = f.render();
        assert_eq!(SubnetFile::parse(&text).as_ref(), Ok(&f), "{text}");

        let edits = 1 + rng.below(4);
        let junk = mutate(
            &mut rng,
            &text,
            &["=", "\n", "/", ":", "x", "9", "#"],
            edits,
        );
        if let Err(e) = SubnetFile::parse(&junk) {
            assert!(
                e.starts_with("line ") || e == "no LICHEN_SUBNET line",
                "{junk}: {e}"
            );
        }
    }
}
