//! `lichen install` and `lichen uninstall` (the files; with --all also the agent's state).

use super::args::*;
use super::error::CliError;
use super::ops::agent_cleanup;
use crate::agent::error::chain;
use crate::install::InstallError;

/// `lichen install`: one line per thing done on stdout.
pub(super) fn install(i: InstallCmd) -> Result<(), CliError> {
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
            Err(source) => {
                return Err(CliError::File {
                    what: "reading",
                    path: p,
                    source,
                })
            }
        },
        None => (crate::install::DEFAULT_CONFLIST.to_owned(), true),
    };
    let conflist = match i.mode {
        Some(m) if builtin => crate::install::with_mode(&conflist, m),
        Some(m) => {
            println!(
                "--mode {} left alone: an own conflist is written as given (set \"mode\" in it)",
                m.as_str()
            );
            conflist
        }
        None => conflist,
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
    let exe = std::env::current_exe().map_err(|source| InstallError::Io {
        what: "finding this binary in",
        path: "/proc/self/exe".into(),
        source,
    })?;
    print_lines(inst.run(&exe)?);
    Ok(())
}

/// `lichen uninstall [--all]`: the files first (so the runtime stops calling the plugin), then,
/// with --all, what the agent made, with the agent's own cleanup, and the plugin's bridge and
/// routed mode's unreachable pod-subnet routes.
pub(super) fn uninstall(u: UninstallCmd) -> i32 {
    let bridge = crate::install::installed_bridge(&u.conf_dir);
    let files = crate::install::uninstall(&u.bin_dir, &u.conf_dir)
        .map(print_lines)
        .map_err(CliError::from);
    let code = super::error::exit("lichen uninstall", files);
    if !u.all {
        return code;
    }
    let mut errors = agent_cleanup(&u.subnet_file);
    match crate::nl::Nl::open().and_then(|mut nl| nl.delete_link(crate::nl::LinkId::Name(&bridge)))
    {
        Ok(()) => println!("removed bridge {bridge}"),
        // routed mode (the default) makes no bridge
        Err(e) if crate::nl::is_not_found(&e) => {}
        Err(source) => errors.push(CliError::Bridge {
            name: bridge,
            source,
        }),
    }
    match crate::dataplane::remove_unreachable() {
        Ok(nets) => nets
            .iter()
            .for_each(|n| println!("removed the routed pods' unreachable route {n}")),
        Err(e) => errors.push(CliError::PodSubnets(e)),
    }
    let dir = u.subnet_file.parent().unwrap_or(std::path::Path::new("/"));
    let staged = dir.join(crate::install::CONFLIST_NAME);
    match std::fs::remove_file(&staged) {
        Ok(()) => println!("removed {}", staged.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => errors.push(CliError::File {
            what: "removing",
            path: staged,
            source,
        }),
    }
    // the directory only when nothing else is left in it
    if std::fs::remove_dir(dir).is_ok() {
        println!("removed {}", dir.display());
    }
    for e in &errors {
        eprintln!("lichen uninstall: {}", chain(e));
    }
    if errors.is_empty() {
        code
    } else {
        1
    }
}

fn print_lines(lines: Vec<String>) {
    for l in lines {
        println!("{l}");
    }
}
