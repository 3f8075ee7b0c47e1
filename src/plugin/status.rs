//! STATUS (CNI 1.1): could an ADD succeed now? The store must be usable, the subnet known, and
//! every range set must have a free address (built-in IPAM), or the delegated IPAM plugin must say
//! so. Otherwise code 50 with what is missing.

use super::ipam::Allocator;
use super::{Output, Request};
use crate::cni::CniError;

pub fn run(req: &Request) -> Result<Output, CniError> {
    Allocator::of(req.conf).status(req).map(|_| None)
}
