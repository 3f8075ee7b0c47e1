use super::*;

/// A scratch directory with a fake `lichen` binary in it.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("lichen-install-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("src-lichen"), b"\x7fELF binary").unwrap();
        Scratch(d)
    }

    fn exe(&self) -> PathBuf {
        self.0.join("src-lichen")
    }

    fn install(&self) -> Install {
        Install {
            bin_dir: self.0.join("bin"),
            conf_dir: self.0.join("net.d"),
            conflist: DEFAULT_CONFLIST.to_owned(),
            builtin: true,
            plugins_from: Vec::new(),
            stage: None,
            force: false,
        }
    }

    /// A fake plugin binary `dir/name`.
    fn plugin(&self, dir: &str, name: &str) -> PathBuf {
        let d = self.0.join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(name), b"plugin").unwrap();
        d
    }

    fn names(&self, dir: &str) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.0.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn chain_types(text: &str) -> Vec<String> {
    Chain::parse(text)
        .unwrap()
        .plugins
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

#[test]
fn installs_atomically_idempotently_and_uninstalls() {
    let s = Scratch::new("a");
    s.plugin("bin", "portmap");
    s.plugin("bin", "bandwidth");
    let inst = s.install();
    let done = inst.run(&s.exe()).unwrap();
    assert_eq!(
        done.len(),
        4,
        "binary, lichen-ipam, loopback, conflist: {done:?}"
    );
    assert_eq!(fs::read(s.0.join("bin/lichen")).unwrap(), b"\x7fELF binary");
    let mode = fs::metadata(s.0.join("bin/lichen"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    for link in ["lichen-ipam", "loopback"] {
        assert_eq!(
            fs::read_link(s.0.join("bin").join(link)).unwrap(),
            Path::new("lichen")
        );
    }
    assert_eq!(
        fs::read_to_string(s.0.join("net.d").join(CONFLIST_NAME)).unwrap(),
        DEFAULT_CONFLIST,
        "every chained plugin is present: the shipped conflist as it is"
    );
    assert!(
        inst.run(&s.exe()).unwrap().is_empty(),
        "a second install changes nothing"
    );
    let gone = uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
    assert_eq!(gone.len(), 4, "{gone:?}");
    assert_eq!(
        s.names("bin"),
        ["bandwidth", "portmap"],
        "the node's own plugins stay"
    );
    assert!(s.names("net.d").is_empty());
}

#[test]
fn keeps_the_nodes_own_loopback_and_links_missing_plugins_from_k3s_data_dir() {
    let s = Scratch::new("b");
    s.plugin("bin", "loopback");
    let k3s = s.plugin("k3s-cni", "portmap");
    let mut inst = s.install();
    inst.plugins_from = vec![k3s.clone()];
    let done = inst.run(&s.exe()).unwrap();
    assert!(
        done.iter()
            .any(|l| l.contains("kept") && l.contains("loopback")),
        "{done:?}"
    );
    assert_eq!(fs::read(s.0.join("bin/loopback")).unwrap(), b"plugin");
    assert_eq!(
        fs::read_link(s.0.join("bin/portmap")).unwrap(),
        k3s.join("portmap"),
        "linked from the data dir"
    );
    let written = fs::read_to_string(s.0.join("net.d").join(CONFLIST_NAME)).unwrap();
    assert_eq!(
        chain_types(&written),
        ["lichen", "portmap"],
        "bandwidth is nowhere: left out"
    );
    assert!(
        done.iter().any(|l| l.starts_with("left bandwidth out")),
        "{done:?}"
    );
    assert!(
        written.contains(r#""hairpinMode": true"#),
        "the rest is the shipped file"
    );

    let gone = uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
    assert!(gone.iter().any(|l| l.ends_with("bin/portmap")), "{gone:?}");
    assert_eq!(
        s.names("bin"),
        ["loopback"],
        "what install did not make stays"
    );
    assert!(
        k3s.join("portmap").exists(),
        "the link's target is untouched"
    );
}

#[test]
fn an_operators_conflist_is_written_as_given_with_a_warning() {
    let s = Scratch::new("c");
    let mut inst = s.install();
    inst.builtin = false;
    inst.conflist =
        r#"{"cniVersion":"1.0.0","name":"mine","plugins":[{"type":"lichen"},{"type":"tuning"}]}"#
            .to_owned();
    let done = inst.run(&s.exe()).unwrap();
    assert!(
        done.iter()
            .any(|l| l.starts_with("warning: the conflist chains tuning")),
        "{done:?}"
    );
    assert_eq!(
        fs::read_to_string(s.0.join("net.d").join(CONFLIST_NAME)).unwrap(),
        inst.conflist
    );
    inst.conflist = r#"{"name":"x","plugins":[{"type":"bridge"}]}"#.to_owned();
    let e = inst.run(&s.exe()).unwrap_err();
    assert!(e.to_string().contains("\"lichen\""), "{e}");
}

#[test]
fn staged_conflist_is_published_only_by_the_agent() {
    let s = Scratch::new("d");
    let mut inst = s.install();
    let staged = s.0.join("run/10-lichen.conflist");
    inst.stage = Some(staged.clone());
    let done = inst.run(&s.exe()).unwrap();
    assert!(done.iter().any(|l| l.starts_with("staged")), "{done:?}");
    assert!(
        !s.0.join("net.d").exists(),
        "nothing in the conf dir before the agent is ready"
    );
    let line = publish(&staged, &inst.conf_dir).unwrap().unwrap();
    assert!(line.starts_with("wrote"), "{line}");
    assert_eq!(
        fs::read_to_string(inst.conf_dir.join(CONFLIST_NAME)).unwrap(),
        fs::read_to_string(&staged).unwrap()
    );
    assert_eq!(
        publish(&staged, &inst.conf_dir).unwrap(),
        None,
        "in place already"
    );
    fs::write(
        inst.conf_dir.join(CONFLIST_NAME),
        r#"{"name":"cbr0","plugins":[{"type":"flannel"}]}"#,
    )
    .unwrap();
    let e = publish(&staged, &inst.conf_dir).unwrap_err();
    assert!(matches!(e, InstallError::Foreign(_)), "{e:?}");
    let e = publish(&s.0.join("nothing"), &inst.conf_dir).unwrap_err();
    assert!(e.to_string().contains("lichen install --stage"), "{e}");
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(io.map(io::Error::kind), Some(io::ErrorKind::NotFound));
}

#[test]
fn never_clobbers_a_foreign_conflist_unless_forced() {
    let s = Scratch::new("e");
    fs::create_dir_all(s.0.join("net.d")).unwrap();
    let foreign = r#"{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel"}]}"#;
    fs::write(s.0.join("net.d").join(CONFLIST_NAME), foreign).unwrap();
    fs::write(s.0.join("net.d/05-other.conflist"), foreign).unwrap();
    let mut inst = s.install();
    let e = inst.run(&s.exe()).unwrap_err();
    assert!(matches!(e, InstallError::Foreign(_)), "{e:?}");
    assert_eq!(
        fs::read_to_string(s.0.join("net.d").join(CONFLIST_NAME)).unwrap(),
        foreign
    );
    assert!(
        !s.0.join("bin").exists(),
        "a refused install changes nothing"
    );
    inst.force = true;
    let done = inst.run(&s.exe()).unwrap();
    assert!(
        done.iter().any(|l| l.contains("05-other.conflist")),
        "{done:?}"
    );
    // uninstall keeps a conflist that is not ours
    fs::write(s.0.join("net.d").join(CONFLIST_NAME), foreign).unwrap();
    let gone = uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
    assert!(gone.iter().any(|l| l.starts_with("kept")), "{gone:?}");
    assert!(s.0.join("net.d").join(CONFLIST_NAME).exists());
}

#[test]
fn a_tampered_record_cannot_reach_outside_the_bin_dir() {
    let s = Scratch::new("f");
    let inst = s.install();
    inst.run(&s.exe()).unwrap();
    let outside = s.plugin("elsewhere", "precious");
    fs::write(
        s.0.join("bin").join(record::FILE),
        "lichen\n../elsewhere/precious\n/etc/passwd\n.hidden\n",
    )
    .unwrap();
    uninstall(&inst.bin_dir, &inst.conf_dir).unwrap();
    assert!(outside.join("precious").exists());
}
