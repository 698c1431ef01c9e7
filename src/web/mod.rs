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

use crate::auth::Oidc;
use crate::metrics::grpc::{GrpcMetricsLayer, KnownMethods};

/// The built pages (`cd web && npm run build` writes them; they are
/// committed so the Rust build needs no Node).
#[derive(RustEmbed)]
#[folder = "web/dist/"]
struct Assets;

/// Headers every page carries: the pages load only their own scripts and
/// styles, talk only to this origin (and the identity provider's token
/// endpoint, with single sign-on), and are not framed by other sites.
fn content_security_policy(oidc: Option<&Oidc>) -> HeaderValue {
    let mut connect = vec!["'self'".to_string()];
    if let Some(oidc) = oidc {
        connect.push(origin(&oidc.settings().issuer));
        if let Some(pages) = oidc.page_settings() {
            connect.push(origin(&pages.endpoints.token_endpoint));
        }
    }
    connect.dedup();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         media-src 'self' blob:; connect-src {}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        connect.join(" ")
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// `scheme://host[:port]` of `url` (empty when it is no URL: the policy
/// then allows nothing more).
fn origin(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(u) => match (u.scheme_str(), u.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// The pages and grpc-web for `routes` (the public services), counted by
/// the same gRPC metrics as the native listener; with single sign-on,
/// `/oidc.json` tells the pages how to sign in.
pub fn router(routes: tonic::service::Routes, known: KnownMethods, oidc: Option<Oidc>) -> axum::Router {
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
                .service_fn(move |req: Request<Body>| {
                    let oidc = oidc.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(if req.uri().path() == "/oidc.json" {
                            sign_in_settings(oidc.as_ref())
                        } else {
                            asset(req, content_security_policy(oidc.as_ref())).await
                        })
                    }
                }),
        )
}

/// One embedded file by its path; `/` is the index. Anything else is 404
/// (GET and HEAD only: the pages take no form posts).
async fn asset(req: Request<Body>, csp: HeaderValue) -> Response<Body> {
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
            csp,
        );
    }
    let body = if req.method() == axum::http::Method::HEAD {
        Body::empty()
    } else {
        Body::from(file.data.into_owned())
    };
    with_headers(Response::new(body), StatusCode::OK, &mime, &etag, csp)
}

/// `/oidc.json`: the identity provider's endpoints and the pages' client,
/// 404 without single sign-on, 503 until the provider has been read.
fn sign_in_settings(oidc: Option<&Oidc>) -> Response<Body> {
    let Some(oidc) = oidc else {
        return plain(
            StatusCode::NOT_FOUND,
            "single sign-on is not configured on this node\n",
        );
    };
    let Some(settings) = oidc.page_settings() else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the identity provider has not been read yet; try again shortly\n",
        );
    };
    match serde_json::to_vec(&settings) {
        Ok(json) => {
            let mut res = Response::new(Body::from(json));
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the settings\n"),
    }
}

fn with_headers(
    mut res: Response<Body>,
    status: StatusCode,
    mime: &str,
    etag: &str,
    csp: HeaderValue,
) -> Response<Body> {
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
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
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
