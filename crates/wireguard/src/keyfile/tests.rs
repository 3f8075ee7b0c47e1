//! The key file in a scratch directory under the system's temporary directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("lichen-wgkey-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_missing_file_is_created_0600_in_a_0700_directory_and_then_kept() {
    let root = scratch();
    let path = root.join("state/wg/private.key");
    let (key, created) = load_or_create(&path).unwrap();
    assert!(created);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{}\n", key.0.to_base64()));
    assert_eq!(
        text.len(),
        45,
        "44 base64 characters and a newline, as wg genkey"
    );
    // No temporary file left beside it.
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    let (again, created) = load_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(again, key);
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_existing_file_is_used_as_is() {
    let root = scratch();
    fs::create_dir_all(&root).unwrap();
    let path = root.join("k");
    // RFC 7748 section 6.1, Alice's private key, as `wg genkey` would write it.
    fs::write(&path, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let (key, created) = load_or_create(&path).unwrap();
    assert!(!created);
    assert_eq!(
        key.public().to_base64(),
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
    );
    fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_readable_wrong_or_short_file_is_refused_and_says_why() {
    let root = scratch();
    fs::create_dir_all(&root).unwrap();
    let path = root.join("k");
    fs::write(&path, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let e = load_or_create(&path).unwrap_err();
    assert!(matches!(e, KeyFileError::TooOpen(_, 0o644)), "{e:?}");
    assert!(e.to_string().contains("mode 0644 lets others read"), "{e}");

    for (text, want) in [
        ("Zm9v\n", KeyParseError::Length(3)),
        ("not-a-key!\n", KeyParseError::Encoding),
    ] {
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        match load(&path) {
            Err(KeyFileError::Parse(p, got)) => assert_eq!((p, got), (path.clone(), want)),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    assert!(load(&path)
        .unwrap_err()
        .to_string()
        .contains("not a base64"));
    fs::remove_dir_all(root).unwrap();
}
