//! One scan of the cluster directory: which files count, reading them, parsing only what
//! changed, and folding their objects into a [`ClusterState`].
//!
//! Rules (also the directory source's documentation):
//! - A file counts if its name ends in `.json` and does not start with `.`, and it is (or links
//!   to) a regular file. Dot-files are the temporaries of atomic writers (`.node.json.tmp`) and
//!   Kubernetes' ConfigMap/Secret volume internals (`..data`, `..2024_…`); their changes still
//!   trigger a rescan, which then follows the `*.json` symlinks to the new content.
//! - A file holds one object or a list (`List`, `NodeList`, …). Files are read in name order;
//!   when two define the same object, the later file name wins and a warning is logged.
//! - A file that cannot be read or parsed, is not a regular file (a FIFO, a device: the type is
//!   checked on the fd opened with `O_NONBLOCK`, before any read) or is larger than a document
//!   may be (`MAX_LIST_BYTES`: its size is checked before reading, and at most one byte more
//!   is ever read) is logged once per change, listed in `ClusterState::skipped`, and
//!   contributes nothing (its objects disappear until it is fixed). Objects of kinds not
//!   handled yet are logged once (debug) and skipped.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::hash::Hasher;
use std::io::{self, Read as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::k8s::json::MAX_LIST_BYTES;
use crate::k8s::{parse_document, Object};

use crate::model::ClusterState;

/// What was last seen in one file.
struct Entry {
    fingerprint: Fingerprint,
    objects: Vec<Object>,
    /// Why the file contributes nothing, when it does not.
    problem: Option<String>,
}

#[derive(PartialEq, Eq)]
enum Fingerprint {
    Content { len: usize, hash: u64 },
    ReadError(io::ErrorKind),
    Skipped(String),
}

/// What reading a file gave.
enum Read {
    Gone,
    Skipped(String),
    Bytes(Vec<u8>),
}

/// The files of the directory as of the last scan, by file name.
#[derive(Default)]
pub struct Files {
    entries: BTreeMap<OsString, Entry>,
    /// Objects defined by more than one file at the last scan: name → file names.
    duplicates: BTreeMap<String, Vec<OsString>>,
}

impl Files {
    /// Rescans `dir` and returns the resulting state. An unreadable directory is an error and
    /// leaves the table as it was (the caller keeps its last state).
    pub fn rescan(&mut self, dir: &Path) -> io::Result<ClusterState> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let name = entry?.file_name();
            if counts(&name) {
                names.push(name);
            }
        }
        names.sort();
        let mut entries = BTreeMap::new();
        for name in names {
            let path = dir.join(&name);
            let entry = match read_capped(&path) {
                Ok(Read::Gone) => continue,
                Ok(Read::Bytes(bytes)) => {
                    self.refresh(&name, content_fingerprint(&bytes), || parse(&path, &bytes))
                }
                Ok(Read::Skipped(why)) => {
                    self.refresh(&name, Fingerprint::Skipped(why.clone()), || {
                        log::warn!("cluster dir: skipping {}: {why}", path.display());
                        (Vec::new(), Some(why))
                    })
                }
                Err(e) => self.refresh(&name, Fingerprint::ReadError(e.kind()), || {
                    log::warn!("cluster dir: cannot read {}: {e}", path.display());
                    (Vec::new(), Some(format!("cannot read: {e}")))
                }),
            };
            entries.insert(name, entry);
        }
        self.entries = entries;
        Ok(self.fold())
    }

    /// The entry for `name`: the previous one if its fingerprint is unchanged, else `make()`'s.
    fn refresh(
        &mut self,
        name: &OsString,
        fingerprint: Fingerprint,
        make: impl FnOnce() -> (Vec<Object>, Option<String>),
    ) -> Entry {
        match self.entries.remove(name) {
            Some(old) if old.fingerprint == fingerprint => old,
            _ => {
                let (objects, problem) = make();
                Entry {
                    fingerprint,
                    objects,
                    problem,
                }
            }
        }
    }

    /// Builds the state from the entries in file-name order (later files win) and warns about
    /// new duplicates.
    fn fold(&mut self) -> ClusterState {
        let mut state = ClusterState::default();
        let mut owner: BTreeMap<String, &OsString> = BTreeMap::new();
        let mut duplicates: BTreeMap<String, Vec<OsString>> = BTreeMap::new();
        for (file, entry) in &self.entries {
            if let Some(why) = &entry.problem {
                let name = file.to_string_lossy().into_owned();
                state.skipped.insert(name, why.clone());
            }
            for obj in &entry.objects {
                let key = obj.key();
                let replaced = state.upsert(obj.clone()).is_some();
                if let (true, Some(prev)) = (replaced, owner.get(&key)) {
                    let files = duplicates
                        .entry(key.clone())
                        .or_insert_with(|| vec![(*prev).clone()]);
                    if files.last() != Some(file) {
                        files.push(file.clone());
                    }
                }
                owner.insert(key, file);
            }
        }
        for (key, files) in &duplicates {
            if self.duplicates.get(key) != Some(files) {
                log::warn!(
                    "cluster dir: {key} is defined by {}; using the last",
                    files
                        .iter()
                        .map(|f| f.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        self.duplicates = duplicates;
        state
    }
}

fn counts(name: &OsString) -> bool {
    let name = name.to_string_lossy();
    !name.starts_with('.') && name.ends_with(".json")
}

fn content_fingerprint(bytes: &[u8]) -> Fingerprint {
    let mut h = DefaultHasher::new();
    h.write(bytes);
    Fingerprint::Content {
        len: bytes.len(),
        hash: h.finish(),
    }
}

/// The file's content, unless it is gone, not a regular file or larger than a document may
/// be: the type and size come from the open fd before anything is read, and at most
/// `MAX_LIST_BYTES` + 1 bytes are read (a file that grew meanwhile is refused as well).
fn read_capped(path: &Path) -> io::Result<Read> {
    let not_regular = || {
        Read::Skipped("not a regular file (a FIFO, device, socket or directory); not read".into())
    };
    // A device is not even opened (opening some has effects); the fd is checked again below
    // in case the name changed meanwhile.
    match fs::metadata(path) {
        Ok(m) if !m.is_file() => return Ok(not_regular()),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Gone),
        Err(e) => return Err(e),
    }
    // O_NONBLOCK: opening a FIFO must not block the scan; regular files ignore it.
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Gone),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(not_regular());
    }
    let too_big = |len: u64| {
        Read::Skipped(format!(
            "{len} bytes or more, over the {MAX_LIST_BYTES}-byte limit of a document; not read"
        ))
    };
    if meta.len() > MAX_LIST_BYTES as u64 {
        return Ok(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_LIST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_LIST_BYTES {
        return Ok(too_big(bytes.len() as u64));
    }
    Ok(Read::Bytes(bytes))
}

fn parse(path: &Path, bytes: &[u8]) -> (Vec<Object>, Option<String>) {
    match parse_document(bytes) {
        Ok(objects) => {
            for o in objects.iter().filter(|o| matches!(o, Object::Other(_))) {
                log::debug!(
                    "cluster dir: {}: {} {:?} is not handled yet",
                    path.display(),
                    o.kind(),
                    o.name()
                );
            }
            (objects, None)
        }
        Err(e) => {
            log::warn!("cluster dir: skipping {}: {e}", path.display());
            (Vec::new(), Some(e.to_string()))
        }
    }
}
