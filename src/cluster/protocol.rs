//! The cluster protocol's version handshake.
//!
//! Every request between nodes carries `hotline-cluster-protocol: <n>` next
//! to the node token. A node serves requests whose version lies in
//! `MIN_PROTOCOL..=PROTOCOL_VERSION` and refuses any other with
//! FAILED_PRECONDITION naming both versions, so a rolling upgrade across a
//! compatible range works and one across an incompatible change fails with
//! a message an operator can act on instead of as garbled data. Version 1
//! (releases before the header existed) sent none and is refused.
//!
//! Bump `PROTOCOL_VERSION` on any change to `proto/hotline/cluster/` that
//! an older node cannot read; raise `MIN_PROTOCOL` when this node can no
//! longer serve the older one.

use tonic::metadata::{Ascii, MetadataValue};

use crate::auth::{Principal, Role, TokenKeys};
use crate::error::Error;
use crate::status::status;

/// The version this node speaks.
pub const PROTOCOL_VERSION: u32 = 7;
/// The oldest version this node still serves.
/// (7 added the call outcome CLOSED and a queue's closed count, which a
/// node of 6 cannot read.)
pub const MIN_PROTOCOL: u32 = 7;
/// The header carrying it.
pub const HEADER: &str = "hotline-cluster-protocol";

/// Checks a peer's version header.
pub fn check_version(metadata: &tonic::metadata::MetadataMap) -> Result<(), Error> {
    let Some(value) = metadata.get(HEADER) else {
        return Err(Error::FailedPrecondition(format!(
            "the peer node speaks cluster protocol 1 (no {HEADER} header); this node speaks \
             {MIN_PROTOCOL}..={PROTOCOL_VERSION}: upgrade every node of the cluster to one release"
        )));
    };
    let version: u32 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| Error::invalid(HEADER, "not a version number"))?;
    if !(MIN_PROTOCOL..=PROTOCOL_VERSION).contains(&version) {
        return Err(Error::FailedPrecondition(format!(
            "the peer node speaks cluster protocol {version}; this node speaks \
             {MIN_PROTOCOL}..={PROTOCOL_VERSION}: upgrade every node of the cluster to one release"
        )));
    }
    Ok(())
}

/// Server side: a node token and a version this node serves.
#[derive(Clone)]
pub struct NodeInterceptor {
    keys: TokenKeys,
}

impl NodeInterceptor {
    pub fn new(keys: TokenKeys) -> Self {
        NodeInterceptor { keys }
    }
}

impl tonic::service::Interceptor for NodeInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let principal: Principal = self.keys.authenticate(req.metadata()).map_err(status)?;
        principal.require(&[Role::Node]).map_err(status)?;
        check_version(req.metadata()).map_err(status)?;
        req.extensions_mut().insert(principal);
        Ok(req)
    }
}

/// Client side: the node token and this node's version on every request.
#[derive(Clone)]
pub struct NodeCredentials {
    bearer: MetadataValue<Ascii>,
    version: MetadataValue<Ascii>,
}

impl NodeCredentials {
    pub fn new(token: &str) -> Result<Self, Error> {
        Self::speaking(token, PROTOCOL_VERSION)
    }

    /// Credentials claiming another version (to test the handshake).
    pub fn speaking(token: &str, version: u32) -> Result<Self, Error> {
        Ok(NodeCredentials {
            bearer: format!("Bearer {token}")
                .parse()
                .map_err(|_| Error::invalid("token", "not valid header text"))?,
            version: version
                .to_string()
                .parse()
                .map_err(|_| Error::Internal("version header".into()))?,
        })
    }
}

impl tonic::service::Interceptor for NodeCredentials {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.bearer.clone());
        req.metadata_mut().insert(HEADER, self.version.clone());
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(version: Option<&str>) -> tonic::metadata::MetadataMap {
        let mut m = tonic::metadata::MetadataMap::new();
        if let Some(v) = version {
            m.insert(HEADER, v.parse().expect("ascii"));
        }
        m
    }

    #[test]
    fn a_peer_of_this_version_is_served() {
        assert!(check_version(&with(Some(&PROTOCOL_VERSION.to_string()))).is_ok());
    }

    #[test]
    fn a_peer_without_the_header_or_of_another_version_is_refused_by_name() {
        for (meta, says) in [(with(None), "protocol 1"), (with(Some("99")), "protocol 99")] {
            match check_version(&meta) {
                Err(Error::FailedPrecondition(m)) => {
                    assert!(m.contains(says), "{m}");
                    assert!(m.contains("upgrade every node"), "{m}");
                }
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
        assert!(matches!(
            check_version(&with(Some("two"))),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
