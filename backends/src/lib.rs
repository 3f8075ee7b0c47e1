//! Lichen's backends as pure functions: (this node, its peers, the backend config) → the kernel
//! objects that should exist (routes, neighbours, FDB entries, the VXLAN device), plus a diff
//! (`plan`) between that desired state and what the kernel has. No netlink here: the agent
//! reads the kernel, calls these, and applies the plan.

pub mod model;
