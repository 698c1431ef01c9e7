//! Several nodes, one router.
//!
//! Every node serves the whole public API, but exactly one node at a time
//! (the routing node) runs the routing core. It holds a lease in Redis and
//! writes with a fencing epoch, so a node that lost the lease can never
//! overwrite its successor's state. The other nodes forward commands and
//! proxy agent and call streams to it over an internal gRPC service.
//! [`RouterLink`] is how the API reaches the router, wherever it runs.

pub mod directory;
pub mod link;
pub mod node;
pub mod protocol;
pub mod service;
pub mod wire;

pub use link::{CallStream, EventStream, Route, RouterLink};
