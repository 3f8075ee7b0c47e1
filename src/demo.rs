//! `lichen demo`: the embedded default cluster in network namespaces.

pub fn run() -> i32 {
    todo!("demo::run")
}
