//! The admin catalog on this node: a [`LiveCatalog`] kept up to date from
//! the store (every node polls the catalog's revision and applies what
//! changed, so a change made on any node reaches every node's routing and
//! look-ups within a poll), and the seed (`config::seed_writes`) written
//! to an empty store.
//!
//! After the seed the store is the truth: the file's agents, skills,
//! queues, entry points and customers are read only while the store's
//! catalog has never been written.

mod live;

pub use live::{LiveCatalog, POLL_EVERY};

/// A time zone by its IANA name, from the zone database built into the
/// binary (the same on every node, whatever the host has installed).
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    jiff::tz::db().get(name).ok()
}
