//! GC (CNI 1.1): release every lease whose attachment the runtime no longer knows.

use super::ipam::Allocator;
use super::Output;
use crate::cni::{CniError, Env, NetConf};

pub fn run(env: &Env, conf: &NetConf, stdin: &[u8]) -> Result<Output, CniError> {
    Allocator::of(conf).gc(env, conf, stdin).map(|_| None)
}
