//! `<bin dir>/.lichen-installed`: the names `lichen install` created in the CNI bin dir (the
//! binary, its links, plugins linked from elsewhere), one per line, so `lichen uninstall` removes
//! exactly those. Kept across installs: a name created by an earlier install stays recorded.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::subnet_file::write_atomic;

pub const FILE: &str = ".lichen-installed";

#[derive(Debug, Default)]
pub struct Record(BTreeSet<String>);

impl Record {
    /// The record in `bin_dir` (empty when there is none). Only plain names are taken: a line
    /// with a path separator or a leading dot is ignored, so a tampered record cannot point
    /// `uninstall` outside the bin dir.
    pub fn read(bin_dir: &Path) -> Record {
        let text = fs::read_to_string(bin_dir.join(FILE)).unwrap_or_default();
        Record(
            text.lines()
                .map(str::trim)
                .filter(|n| !n.is_empty() && !n.contains('/') && !n.starts_with('.'))
                .map(str::to_owned)
                .collect(),
        )
    }

    pub fn add(&mut self, name: &str) {
        self.0.insert(name.to_owned());
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn write(&self, bin_dir: &Path) -> io::Result<()> {
        let mut text = String::new();
        for n in &self.0 {
            text.push_str(n);
            text.push('\n');
        }
        write_atomic(&bin_dir.join(FILE), text.as_bytes())
    }
}
