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
    ] {
        let o = lichen(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o.stdout));
        assert!(!o.stderr.is_empty(), "{args:?} says why");
    }
}
