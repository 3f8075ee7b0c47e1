//! GC (CNI 1.1): release every lease whose attachment the runtime no longer knows.

use super::ipam::Allocator;
use super::{Output, Request};
use crate::cni::CniError;

pub fn run(req: &Request) -> Result<Output, CniError> {
    Allocator::of(req.conf).gc(req).map(|_| None)
}
