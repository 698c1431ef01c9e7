//! The browser edge: `hotline serve` serves the agent softphone, the
//! supervisor console and the caller test page (`web/`, built into
//! `web/dist/` and embedded in the binary), and on the same origin the
//! public gRPC services as grpc-web, so the pages need no CORS and no
//! second server.
//!
//! Invariants: the pages are static (no server-side rendering, no data in
//! them); every request for data is an RPC under the same authentication
//! and role checks as native gRPC clients; the listener never serves a
//! file from outside the embedded set (paths are looked up, never joined
//! onto a directory).

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use rust_embed::RustEmbed;

use crate::metrics::grpc::{GrpcMetricsLayer, KnownMethods};

/// The built pages (`cd web && npm run build` writes them; they are
/// committed so the Rust build needs no Node).
#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Assets;

/// Headers every page carries: the pages load only their own scripts and
/// styles, talk only to this origin, and are not framed by other sites.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// The pages and grpc-web for `routes` (the public services), counted by
/// the same gRPC metrics as the native listener.
pub fn router(routes: tonic::service::Routes, known: KnownMethods) -> axum::Router {
    routes
        .prepare()
        .into_axum_router()
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(GrpcMetricsLayer::new(known))
        // Set after the layers: the pages are plain HTTP, not grpc-web, and
        // only they are compressed (a compressed grpc-web stream would hold
        // its messages back until a block fills).
        .fallback_service(
            tower::ServiceBuilder::new()
                .layer(tower_http::compression::CompressionLayer::new())
                .service_fn(|req| async move { Ok::<_, std::convert::Infallible>(asset(req).await) }),
        )
}

/// One embedded file by its path; `/` is the index. Anything else is 404
/// (GET and HEAD only: the pages take no form posts).
async fn asset(req: Request<Body>) -> Response<Body> {
    if req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "the web app serves GET only\n");
    }
    let path = req.uri().path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let Some(file) = Assets::get(path) else {
        return plain(StatusCode::NOT_FOUND, "no such page\n");
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mime = file.metadata.mimetype().to_string();
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return with_headers(
            Response::new(Body::empty()),
            StatusCode::NOT_MODIFIED,
            &mime,
            &etag,
        );
    }
    let body = if req.method() == axum::http::Method::HEAD {
        Body::empty()
    } else {
        Body::from(file.data.into_owned())
    };
    with_headers(Response::new(body), StatusCode::OK, &mime, &etag)
}

fn with_headers(mut res: Response<Body>, status: StatusCode, mime: &str, etag: &str) -> Response<Body> {
    *res.status_mut() = status;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidate every time: a new build must reach agents at once, and the
    // ETag makes an unchanged file a 304.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
