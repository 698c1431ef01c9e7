//! `hotline admin export` and `hotline admin import`: the catalog to and
//! from a file, through a running server's AdminService.

use std::path::Path;

use super::Clients;
use crate::error::Error;
use crate::proto;

/// A document's format on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    /// Every object, one JSON object per line.
    JsonLines,
    /// The customer directory as CSV.
    CustomersCsv,
}

impl DocFormat {
    /// The format a file's name suggests (".csv" is customers).
    pub fn of(path: &Path) -> DocFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => DocFormat::CustomersCsv,
            _ => DocFormat::JsonLines,
        }
    }

    fn proto(self) -> proto::DocumentFormat {
        match self {
            DocFormat::JsonLines => proto::DocumentFormat::JsonLines,
            DocFormat::CustomersCsv => proto::DocumentFormat::CustomersCsv,
        }
    }
}

fn remote(e: tonic::Status) -> Error {
    Error::Remote {
        code: e.code() as i32,
        message: e.message().to_string(),
    }
}

/// The catalog as the server holds it.
pub async fn export(c: &mut Clients, format: DocFormat) -> Result<Vec<u8>, Error> {
    let mut stream = c
        .admin
        .export_catalog(proto::ExportCatalogRequest {
            format: format.proto() as i32,
        })
        .await
        .map_err(remote)?
        .into_inner();
    let mut out = Vec::new();
    while let Some(chunk) = stream.message().await.map_err(remote)? {
        out.extend_from_slice(&chunk.data);
    }
    Ok(out)
}

/// Sends `document` to be imported, in chunks under gRPC's message limit.
pub async fn import(
    c: &mut Clients,
    format: DocFormat,
    document: Vec<u8>,
) -> Result<proto::ImportSummary, Error> {
    const CHUNK: usize = 1024 * 1024;
    let chunks: Vec<proto::ImportChunk> = if document.is_empty() {
        vec![proto::ImportChunk {
            format: format.proto() as i32,
            data: Vec::new(),
        }]
    } else {
        document
            .chunks(CHUNK)
            .map(|d| proto::ImportChunk {
                format: format.proto() as i32,
                data: d.to_vec(),
            })
            .collect()
    };
    c.admin
        .import_catalog(tokio_stream::iter(chunks))
        .await
        .map(|r| r.into_inner())
        .map_err(remote)
}
