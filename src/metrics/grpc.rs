//! gRPC request metrics: a tower layer on the transport that times every
//! request to its response headers and hands method, code and seconds to
//! [`super::events::grpc_request`].
//!
//! Invariants:
//! - the `method` label is bounded: only paths the server serves (read from
//!   the services' file descriptor sets) are named; anything else counts as
//!   `unknown`, so a scanner cannot create series;
//! - the code is the `grpc-status` of the response headers (a unary error or
//!   a refused stream: trailers-only), else `OK`; a stream counts once, at its
//!   start, and its latency is the time to its first response headers.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use prost::Message;

/// The `/package.Service/Method` paths the server answers.
#[derive(Clone, Debug, Default)]
pub struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    /// Every method of every service in the encoded file descriptor sets.
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> Result<Self, prost::DecodeError> {
        let mut paths = HashSet::new();
        for set in sets {
            let set = prost_types::FileDescriptorSet::decode(*set)?;
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = service.name.unwrap_or_default();
                    for method in service.method {
                        let full = if package.is_empty() {
                            service_name.clone()
                        } else {
                            format!("{package}.{service_name}")
                        };
                        paths.insert(format!("/{full}/{}", method.name.unwrap_or_default()));
                    }
                }
            }
        }
        Ok(KnownMethods(Arc::new(paths)))
    }

    /// Adds paths not in a descriptor set the server has at hand.
    pub fn with(mut self, paths: &[&str]) -> Self {
        let set = Arc::make_mut(&mut self.0);
        set.extend(paths.iter().map(|p| p.to_string()));
        self
    }

    /// The label for a request path: `Service/Method` without the leading
    /// slash, or `unknown`.
    pub fn label(&self, path: &str) -> String {
        if self.0.contains(path) {
            path.trim_start_matches('/').to_string()
        } else {
            "unknown".to_string()
        }
    }
}

/// The layer: wraps each service the transport routes to.
#[derive(Clone, Debug)]
pub struct GrpcMetricsLayer {
    known: KnownMethods,
}

impl GrpcMetricsLayer {
    pub fn new(known: KnownMethods) -> Self {
        GrpcMetricsLayer { known }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            known: self.known.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    inner: S,
    known: KnownMethods,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let method = self.known.label(req.uri().path());
        let started = Instant::now();
        // The service polled ready is the one that must take the call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let result = inner.call(req).await;
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(tonic::Code::from_i32)
                    .unwrap_or(tonic::Code::Ok),
                // The transport failed the request: no status reached the client.
                Err(_) => tonic::Code::Unavailable,
            };
            super::events::grpc_request(&method, code, started.elapsed().as_secs_f64());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_methods_are_named() {
        let known = KnownMethods::from_descriptor_sets(&[crate::proto::FILE_DESCRIPTOR_SET])
            .unwrap()
            .with(&["/grpc.health.v1.Health/Check"]);
        assert_eq!(
            known.label("/hotline.v1.CallService/StartCall"),
            "hotline.v1.CallService/StartCall"
        );
        assert_eq!(
            known.label("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check"
        );
        assert_eq!(known.label("/hotline.v1.CallService/Nope"), "unknown");
        assert_eq!(known.label("/wp-admin/login.php"), "unknown");
    }
}
