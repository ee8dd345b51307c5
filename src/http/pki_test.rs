//! `vanthu pki serve-test`: the test PKI's services on three listeners, at the ports its
//! certificates name. Files (CRLs and CA certificates) by name; an RFC 6960 OCSP responder
//! (POST, and GET with the base64 request in the path); an RFC 3161 TSA (POST). The answers are
//! built by the pure `pki::ocsp` and `pki::tsp`; this module only routes bytes.

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;

use crate::clock::Clock;
use crate::pki::ocsp::{self, OcspAuthority};
use crate::pki::tsp::Tsa;

/// Requests are small (an OCSP request or a time-stamp query is a few hundred bytes).
const MAX_REQUEST: usize = 64 * 1024;

pub struct PkiTestState {
    /// File name → bytes (`*.crl`, `*.cer`).
    pub files: HashMap<String, Vec<u8>>,
    pub ocsp: Vec<OcspAuthority>,
    pub tsa: Option<Tsa>,
    pub clock: Arc<dyn Clock>,
}

type Shared = Arc<PkiTestState>;

fn der(content_type: &'static str, body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn file(State(s): State<Shared>, Path(name): Path<String>) -> Response {
    match s.files.get(&name) {
        Some(bytes) if name.ends_with(".crl") => der("application/pkix-crl", bytes.clone()),
        Some(bytes) => der("application/pkix-cert", bytes.clone()),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

async fn ocsp_post(State(s): State<Shared>, body: Bytes) -> Response {
    der(
        "application/ocsp-response",
        ocsp::respond(&s.ocsp, &body, s.clock.now()),
    )
}

async fn ocsp_get(State(s): State<Shared>, Path(encoded): Path<String>) -> Response {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(encoded.as_bytes()));
    match decoded {
        Ok(req) => der("application/ocsp-response", ocsp::respond(&s.ocsp, &req, s.clock.now())),
        Err(_) => (StatusCode::BAD_REQUEST, "the path is not a base64 OCSP request\n").into_response(),
    }
}

async fn tsa_post(State(s): State<Shared>, body: Bytes) -> Response {
    let Some(tsa) = &s.tsa else {
        return (StatusCode::NOT_FOUND, "no TSA is configured\n").into_response();
    };
    let serial: [u8; 16] = rand::random();
    der(
        "application/timestamp-reply",
        tsa.respond(&body, s.clock.now(), &serial),
    )
}

pub fn files_router(s: Shared) -> Router {
    Router::new().route("/{name}", get(file)).with_state(s)
}

pub fn ocsp_router(s: Shared) -> Router {
    Router::new()
        .route("/", post(ocsp_post))
        .route("/{request}", get(ocsp_get))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(s)
}

pub fn tsa_router(s: Shared) -> Router {
    Router::new()
        .route("/", post(tsa_post))
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(s)
}

/// Serves the three routers on their listeners until `shutdown` resolves.
pub async fn serve_pki_test(
    state: PkiTestState,
    files: tokio::net::TcpListener,
    ocsp: tokio::net::TcpListener,
    tsa: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let s = Arc::new(state);
    let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let stop = |tx: &tokio::sync::broadcast::Sender<()>| {
        let mut rx = tx.subscribe();
        async move {
            let _ = rx.recv().await;
        }
    };
    let a = axum::serve(files, files_router(s.clone())).with_graceful_shutdown(stop(&tx));
    let b = axum::serve(ocsp, ocsp_router(s.clone())).with_graceful_shutdown(stop(&tx));
    let c = axum::serve(tsa, tsa_router(s)).with_graceful_shutdown(stop(&tx));
    let signal = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let (ra, rb, rc, ()) = tokio::join!(a.into_future(), b.into_future(), c.into_future(), signal);
    ra.and(rb).and(rc)
}
