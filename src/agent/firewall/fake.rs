//! A firewall driver for unit tests: the kernel's copy of the rules as a value, the applies
//! counted, and an errno to refuse with.

use std::io;

use super::Firewall;
use crate::agent::node_rules::NodeRules;

#[derive(Default)]
pub struct FakeFirewall {
    /// What the kernel holds (`None`: no table).
    pub table: Option<NodeRules>,
    /// Applies the kernel accepted.
    pub applies: usize,
    /// The errno every apply and remove fails with, while set.
    pub refuse: Option<i32>,
}

impl Firewall for FakeFirewall {
    fn apply(&mut self, rules: &NodeRules) -> io::Result<()> {
        if let Some(errno) = self.refuse {
            return Err(io::Error::from_raw_os_error(errno));
        }
        self.table = Some(rules.clone());
        self.applies += 1;
        Ok(())
    }

    fn remove(&mut self) -> io::Result<()> {
        if let Some(errno) = self.refuse {
            return Err(io::Error::from_raw_os_error(errno));
        }
        self.table = None;
        Ok(())
    }
}
