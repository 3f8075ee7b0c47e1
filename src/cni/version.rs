//! The spec versions Lichen speaks.

/// A CNI spec version this plugin supports. Ordered: `V030 < V031 < V040 < V100 < V110`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V030,
    V031,
    V040,
    V100,
    V110,
}

impl Version {
    /// Every supported version, oldest first (the VERSION verb lists these).
    pub const ALL: [Version; 5] = [
        Version::V030,
        Version::V031,
        Version::V040,
        Version::V100,
        Version::V110,
    ];

    /// The newest version: used for errors when the config's version is unknown or unreadable.
    pub const LATEST: Version = Version::V110;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V030 => "0.3.0",
            Version::V031 => "0.3.1",
            Version::V040 => "0.4.0",
            Version::V100 => "1.0.0",
            Version::V110 => "1.1.0",
        }
    }

    /// Parses `"0.3.0"` … `"1.1.0"`; anything else is `None` (the caller answers code 1).
    pub fn parse(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// CHECK exists from 0.4.0 on.
    pub fn has_check(self) -> bool {
        self >= Version::V040
    }

    /// GC and STATUS exist from 1.1.0 on.
    pub fn has_gc_status(self) -> bool {
        self >= Version::V110
    }

    /// `ips[].version` ("4"/"6") is written up to 0.4.0 and dropped from 1.0.0 on.
    pub fn ips_have_version_field(self) -> bool {
        self < Version::V100
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
