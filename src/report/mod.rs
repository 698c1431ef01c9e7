//! Contact-center reports: the figures are computed in the core
//! ([`hotline_core::report`], pure functions over stored records); this
//! module reads the records ([`source`]), keeps the live gauges
//! ([`gauges`]) and prints reports on the command line ([`cli`]).

pub mod cli;
pub mod gauges;
pub mod source;
pub mod staffing;

pub use hotline_core::report::*;
