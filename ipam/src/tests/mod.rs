//! Tests that cross modules: the allocator over the in-memory store, the disk store on real
//! files, crash simulations, concurrency, and the real host-local binary.

mod alloc;
mod common;
mod concurrency;
mod crash;
mod disk;
mod full;
mod hostlocal;
mod planted;
mod prepared;
mod survey;
