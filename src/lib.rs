//! hotline: a call-center backend. See README.md for the architecture.

pub mod acd;
pub mod ids;
pub mod time;

/// Generated gRPC types and services of package `hotline.v1`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("hotline.v1");
    /// For server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("hotline_descriptor");
}
