//! The command line behaves like the tools beside it (kubectl, cilium, flanneld): `-h`, `--help`
//! and `help` everywhere, `--version`, and exit codes 0 ok, 1 failure, 2 usage error.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_lichen");

fn lichen(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("CNI_COMMAND")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The subcommands the top-level help lists (the lines under "Commands:").
fn commands() -> Vec<String> {
    let out = text(&lichen(&["--help"]).stdout);
    out.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| !l.starts_with("   ")) // a wrapped description
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect()
}

#[test]
fn help_in_every_spelling_on_every_command() {
    let cmds = commands();
    assert!(cmds.len() >= 9, "{cmds:?}");
    for cmd in std::iter::once(None).chain(cmds.iter().map(|c| Some(c.as_str()))) {
        let spellings: Vec<Vec<&str>> = match cmd {
            None => vec![vec!["-h"], vec!["--help"], vec!["help"]],
            Some(c) => vec![vec![c, "-h"], vec![c, "--help"], vec!["help", c]],
        };
        for args in spellings {
            let o = lichen(&args);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o.stderr));
            assert!(
                text(&o.stdout).starts_with("Usage: lichen"),
                "{args:?}: {}",
                text(&o.stdout)
            );
        }
    }
    let top = text(&lichen(&["-h"]).stdout);
    for code in ["0 success", "1 failure", "2 usage error"] {
        assert!(top.contains(code), "exit codes documented: {top}");
    }
}

#[test]
fn version_flag_and_command_agree() {
    let flag = lichen(&["--version"]);
    let cmd = lichen(&["version"]);
    assert_eq!(flag.status.code(), Some(0));
    assert_eq!(text(&flag.stdout), text(&cmd.stdout));
    assert!(text(&flag.stdout).starts_with(concat!("lichen ", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn usage_errors_exit_2_on_stderr() {
    for args in [
        &["bogus"][..],
        &["status", "--bogus"],
        &["ipam", "list"],
        &["policy", "explain", "10.0.0.1"],
        &["agent", "--cluster-dir", "/nonexistent", "--kube"],
        &["install", "--mode", "l3"],
        &["daemonset", "--mode", "Routed"],
    ] {
        let o = lichen(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o.stdout));
        assert!(!o.stderr.is_empty(), "{args:?} says why");
    }
    let o = lichen(&["install", "--mode", "l3"]);
    assert!(
        text(&o.stderr).contains("use routed or bridge"),
        "{}",
        text(&o.stderr)
    );
}

/// A host-local style store with two leases, in a fresh temp dir.
fn store(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("lichen-cli-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("net")).unwrap();
    std::fs::write(d.join("net/10.1.0.5"), "c1\r\neth0").unwrap();
    std::fs::write(d.join("net/10.1.0.6"), "c2\r\neth0").unwrap();
    d
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn ipam_list_changes_nothing_on_disk() {
    let d = store("list");
    let dir = d.to_str().unwrap();
    let o = lichen(&["ipam", "list", "--network", "net", "--data-dir", dir]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "10.1.0.5\tc1\teth0\n10.1.0.6\tc2\teth0\n");
    assert_eq!(
        names(&d.join("net")),
        ["10.1.0.5", "10.1.0.6"],
        "nothing created"
    );
    let o = lichen(&["ipam", "list", "--network", "other", "--data-dir", dir]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("does not exist"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(names(&d), ["net"], "no directory made for a wrong name");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn ipam_gc_never_releases_everything_by_omission() {
    let d = store("gc");
    let dir = d.to_str().unwrap();
    let gc = |extra: &[&str]| {
        let mut args = vec!["ipam", "gc", "--network", "net", "--data-dir", dir];
        args.extend_from_slice(extra);
        lichen(&args)
    };
    let leases = || {
        names(&d.join("net"))
            .into_iter()
            .filter(|n| n.starts_with("10."))
            .collect::<Vec<_>>()
    };
    let o = gc(&[]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "no --keep, no --all: a usage error"
    );
    assert!(text(&o.stderr).contains("--all"));
    assert_eq!(gc(&["--all", "--keep", "c1/eth0"]).status.code(), Some(2));
    assert_eq!(leases(), ["10.1.0.5", "10.1.0.6"]);

    let o = gc(&["--keep", "c1/eth0", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "would release 10.1.0.6\tc2\teth0\n");
    assert_eq!(
        leases(),
        ["10.1.0.5", "10.1.0.6"],
        "a dry run releases nothing"
    );

    let o = gc(&["--keep", "c1/eth0"]);
    assert_eq!(text(&o.stdout), "released 10.1.0.6\n");
    assert_eq!(leases(), ["10.1.0.5"]);
    let o = gc(&["--all"]);
    assert_eq!(text(&o.stdout), "released 10.1.0.5\n");
    assert!(leases().is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

/// IPv6 leases, named on disk as host-local names them (the address's canonical text, as Go's
/// `net.IP.String` writes it), are listed and collected like IPv4 ones; a dual-stack
/// attachment's two leases go together.
#[test]
fn ipam_list_and_gc_handle_ipv6_leases() {
    let d = store("v6");
    let dir = d.to_str().unwrap();
    std::fs::write(d.join("net/fd00:1::5"), "c1\r\neth0").unwrap();
    std::fs::write(d.join("net/fd00:1::a"), "c2\r\neth0").unwrap();
    std::fs::write(d.join("net/last_reserved_ip.1"), "fd00:1::a").unwrap();
    let o = lichen(&["ipam", "list", "--network", "net", "--data-dir", dir]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let listed = text(&o.stdout);
    for line in ["fd00:1::5\tc1\teth0\n", "fd00:1::a\tc2\teth0\n"] {
        assert!(listed.contains(line), "{line:?} not in {listed:?}");
    }
    let o = lichen(&[
        "ipam",
        "gc",
        "--network",
        "net",
        "--data-dir",
        dir,
        "--keep",
        "c1/eth0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "released 10.1.0.6\nreleased fd00:1::a\n");
    let leases: Vec<String> = names(&d.join("net"))
        .into_iter()
        .filter(|n| n.starts_with("10.") || n.starts_with("fd00") || n.starts_with("last_"))
        .collect();
    assert_eq!(
        leases,
        ["10.1.0.5", "fd00:1::5", "last_reserved_ip.1"],
        "c2's IPv4 and IPv6 leases released, c1's kept"
    );
    std::fs::remove_dir_all(&d).unwrap();
}
