//! `lichen install` and `lichen uninstall` (the files; with --all also the agent's state).

use super::args::*;
use super::ops::agent_cleanup;

pub(super) fn install(i: InstallCmd) -> i32 {
    let custom = i.custom_conflist.filter(|p| {
        let there = p.exists();
        if !there {
            println!(
                "{} not found: installing the built-in conflist",
                p.display()
            );
        }
        there
    });
    let (conflist, builtin) = match i.conflist.or(custom) {
        Some(p) => match std::fs::read_to_string(&p) {
            Ok(t) => (t, false),
            Err(e) => {
                eprintln!("lichen install: {}: {e}", p.display());
                return 1;
            }
        },
        None => (crate::install::DEFAULT_CONFLIST.to_owned(), true),
    };
    let inst = crate::install::Install {
        bin_dir: i.bin_dir,
        conf_dir: i.conf_dir,
        conflist,
        builtin,
        plugins_from: i.plugins_from,
        stage: i.stage,
        force: i.force,
    };
    let res = std::env::current_exe().and_then(|exe| inst.run(&exe));
    report_lines("install", res)
}

/// `lichen uninstall [--all]`: the files first (so the runtime stops calling the plugin), then,
/// with --all, what the agent made, with the agent's own cleanup and the plugin's bridge.
pub(super) fn uninstall(u: UninstallCmd) -> i32 {
    let bridge = crate::install::installed_bridge(&u.conf_dir);
    let code = report_lines(
        "uninstall",
        crate::install::uninstall(&u.bin_dir, &u.conf_dir),
    );
    if !u.all {
        return code;
    }
    let mut errors = agent_cleanup(&u.subnet_file);
    match crate::nl::Nl::open()
        .and_then(|mut nl| crate::nl::missing_ok(nl.delete_link(crate::nl::LinkId::Name(&bridge))))
    {
        Ok(()) => println!("removed bridge {bridge} (if it was there)"),
        Err(e) => errors.push(format!("bridge {bridge}: {e}")),
    }
    let dir = u.subnet_file.parent().unwrap_or(std::path::Path::new("/"));
    let staged = dir.join(crate::install::CONFLIST_NAME);
    match std::fs::remove_file(&staged) {
        Ok(()) => println!("removed {}", staged.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => errors.push(format!("{}: {e}", staged.display())),
    }
    // the directory only when nothing else is left in it
    if std::fs::remove_dir(dir).is_ok() {
        println!("removed {}", dir.display());
    }
    for e in &errors {
        eprintln!("lichen uninstall: {e}");
    }
    if errors.is_empty() {
        code
    } else {
        1
    }
}

pub(super) fn report_lines(what: &str, res: std::io::Result<Vec<String>>) -> i32 {
    match res {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            0
        }
        Err(e) => {
            eprintln!("lichen {what}: {e}");
            1
        }
    }
}
