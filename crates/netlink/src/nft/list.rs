//! Reading a table back from the kernel: its chains and how many rules each holds
//! (GETTABLE, then GETCHAIN and GETRULE dumps). Enough for the agent's status.

use std::io;

use super::objects::Table;
use super::socket::Socket;
use super::sys::*;
use super::wire::{attr_str, attrs};

/// A chain and its number of rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub name: String,
    pub rules: usize,
}

/// Does `table` exist (GETTABLE)?
pub(super) fn table_exists(sock: &Socket, table: &Table) -> io::Result<bool> {
    let found = sock.get(NFT_MSG_GETTABLE, table.family.code(), 0, |w| {
        w.put_str(NFTA_TABLE_NAME, &table.name)
    });
    match found {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) || e.kind() == io::ErrorKind::NotFound => {
            Ok(false)
        }
        other => other.map(|_| true),
    }
}

/// The chains of `table` in kernel order, or `None` when the table does not exist.
pub fn list_table(sock: &Socket, table: &Table) -> io::Result<Option<Vec<ChainSummary>>> {
    let family = table.family.code();
    if !table_exists(sock, table)? {
        return Ok(None);
    }
    let chains = sock.get(NFT_MSG_GETCHAIN, family, NLM_F_DUMP, |w| {
        w.put_str(NFTA_CHAIN_TABLE, &table.name)
    })?;
    let mut out: Vec<ChainSummary> = chains
        .iter()
        .filter_map(|c| named(c, NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, &table.name))
        .map(|name| ChainSummary { name, rules: 0 })
        .collect();
    let rules = sock.get(NFT_MSG_GETRULE, family, NLM_F_DUMP, |w| {
        w.put_str(NFTA_RULE_TABLE, &table.name)
    })?;
    for chain in rules
        .iter()
        .filter_map(|r| named(r, NFTA_RULE_TABLE, NFTA_RULE_CHAIN, &table.name))
    {
        if let Some(c) = out.iter_mut().find(|c| c.name == chain) {
            c.rules += 1;
        }
    }
    Ok(Some(out))
}

/// The `name_attr` string of an object whose `table_attr` is `table`.
pub(super) fn named(
    attr_area: &[u8],
    table_attr: u16,
    name_attr: u16,
    table: &str,
) -> Option<String> {
    let mut in_table = false;
    let mut name = None;
    for (kind, data) in attrs(attr_area) {
        if kind == table_attr {
            in_table = attr_str(data) == table;
        } else if kind == name_attr {
            name = Some(attr_str(data).to_owned());
        }
    }
    name.filter(|_| in_table)
}
