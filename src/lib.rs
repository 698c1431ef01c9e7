//! hotline: a call-center backend. See README.md for the architecture.
//!
//! - [`acd`], [`callback`], [`fcr`], [`quality`]: the sans-IO domain core
//!   (the `hotline-core` crate: no clock, no I/O).
//! - [`engine`]: the task that owns the core and carries out its events.
//! - [`store`]: agent, call and contact records shared by readers.
//! - [`api`]: the gRPC edge (auth, validation, status mapping).
//! - [`media`]: call audio (WebRTC legs, bridge, hold music, recording,
//!   monitoring).
//! - [`server`], [`config`], [`auth`], [`demo`], [`console`]: assembly and
//!   adapters.

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod cases;
pub mod client;
pub mod cluster;
pub mod config;
pub mod console;
pub mod convert;
pub mod deadline;
pub mod demo;
pub mod dialer;
pub mod engine;
pub mod http;
pub mod loadgen;
pub mod media;
pub mod metrics;
pub mod report;
pub mod server;
pub mod sip;
pub mod staffing;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod validate;
pub mod web;

// The domain core, a crate of its own so the compiler keeps it free of
// I/O; its modules keep their places in this crate's paths.
pub use hotline_core::{acd, callback, error, fcr, ids, quality, recording, time, workforce};

pub use error::Error;

/// Generated code, laid out as the proto packages nest (the cluster
/// package refers to `hotline.v1` types by relative path).
mod pb {
    pub mod hotline {
        pub mod v1 {
            #![allow(clippy::all, missing_docs)]
            tonic::include_proto!("hotline.v1");
        }
        pub mod cluster {
            pub mod v1 {
                #![allow(clippy::all, missing_docs)]
                tonic::include_proto!("hotline.cluster.v1");
            }
        }
    }
}

/// Generated gRPC types and services of package `hotline.v1`.
pub mod proto {
    pub use crate::pb::hotline::v1::*;

    /// For server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("hotline_descriptor");

    /// The internal node-to-node service (`hotline.cluster.v1`).
    pub mod cluster {
        pub use crate::pb::hotline::cluster::v1::*;
    }
}
