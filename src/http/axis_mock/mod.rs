//! HTTP front of the mock national document axis (brief `edxml.md` §6): the SDK's endpoints
//! under a configurable base path, HMAC authentication on every call, fault injection, and the
//! `{status, ErrorCode, ErrorDesc, ...}` envelope on every answer (errors too, with a matching
//! HTTP status). The work is done by [`crate::axis::MockAxis`].

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};
use axum::{Json, Router};
use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::axis::protocol::{Envelope, MessageType, Params};
use crate::axis::{MockAxis, MockError, Outcome};

/// Largest body of any call but `sendEdoc` (agency JSON, the SDK's `{}`).
const SMALL_BODY: usize = 64 * 1024;

#[derive(Clone)]
struct AppState {
    axis: Arc<MockAxis>,
    /// Bounds the `sendEdoc` bodies held in memory at once.
    send_permits: Arc<Semaphore>,
}

/// The router: every endpoint under the mock's base path.
pub fn router(axis: Arc<MockAxis>, max_concurrent_sends: usize) -> Router {
    let state = AppState {
        axis: axis.clone(),
        send_permits: Arc::new(Semaphore::new(max_concurrent_sends.max(1))),
    };
    let endpoints: Vec<(&str, MethodRouter<AppState>)> = vec![
        ("/sendEdoc", any(send_edoc)),
        ("/getReceivedEdocList", any(received_list)),
        ("/getEdoc", any(get_edoc)),
        ("/updateStatus", any(update_status)),
        ("/getSentEdocList", any(sent_list)),
        ("/getAgenciesList", any(agencies)),
        ("/getAgenciesListQD20", any(agencies_qd20)),
        ("/registerAgency", any(register_agency)),
        ("/deleteAgency", any(delete_agency)),
        ("/countReceiveEdoc", any(count_edoc)),
        ("/countReceiveStatus", any(count_status)),
    ];
    let mut inner = Router::new();
    for (path, route) in endpoints {
        inner = inner.route(path, route);
    }
    let inner = inner
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), inject_faults));
    let base = axis.settings().base_path.trim_end_matches('/').to_owned();
    let router = if base.is_empty() {
        inner
    } else {
        let base = if base.starts_with('/') {
            base
        } else {
            format!("/{base}")
        };
        Router::new().nest(&base, inner).fallback(not_found)
    };
    router.with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    axis: Arc<MockAxis>,
    max_concurrent_sends: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(axis, max_concurrent_sends))
        .with_graceful_shutdown(shutdown)
        .await
}

fn reply(result: Result<Envelope, MockError>) -> Response {
    match result {
        Ok(env) => (StatusCode::OK, Json(env)).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(e.envelope())).into_response()
        }
    }
}

/// A response whose body fails at once: the connection is cut, the caller gets no answer.
fn cut_connection() -> Response {
    let stream =
        futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection")) });
    Response::new(Body::from_stream(stream))
}

async fn inject_faults(State(s): State<AppState>, request: axum::extract::Request, next: Next) -> Response {
    let faults = s.axis.settings().faults;
    if faults.is_off() {
        return next.run(request).await;
    }
    let delay = faults.delay(rand::random::<f64>());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match faults.outcome(rand::random::<f64>()) {
        Outcome::Serve => next.run(request).await,
        Outcome::Fail5xx => reply(Err(MockError::unavailable("injected fault: the axis is busy"))),
        Outcome::DropRequest => cut_connection(),
        Outcome::DropResponse => {
            let _ = next.run(request).await;
            cut_connection()
        }
    }
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned())))
        .collect()
}

fn auth(s: &AppState, headers: &HeaderMap) -> Result<(String, Params), MockError> {
    s.axis.authenticate(&header_list(headers))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, MockError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let text = e.to_string();
        if text.contains("length limit") {
            MockError::too_large(limit)
        } else {
            MockError::bad_request(format!("cannot read the body: {text}"))
        }
    })
}

async fn send_edoc(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            let _permit = s
                .send_permits
                .acquire()
                .await
                .map_err(|_| MockError::unavailable("shutting down"))?;
            let limit = s.axis.settings().max_body_bytes + 2;
            let bytes = read_body(body, limit).await?;
            let faults = s.axis.settings().faults;
            s.axis
                .send_edoc(&system, &params, bytes, || faults.duplicate(rand::random::<f64>()))
                .await
        }
        .await,
    )
}

async fn received_list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            s.axis.received_list(&system, &params).await
        }
        .await,
    )
}

async fn get_edoc(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            s.axis.get_edoc(&system, &params).await
        }
        .await,
    )
}

async fn update_status(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            s.axis.update_status(&system, &params).await
        }
        .await,
    )
}

async fn sent_list(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            s.axis.sent_list(&system, &params).await
        }
        .await,
    )
}

async fn agencies(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            auth(&s, &headers)?;
            s.axis.agencies(false).await
        }
        .await,
    )
}

async fn agencies_qd20(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            auth(&s, &headers)?;
            s.axis.agencies(true).await
        }
        .await,
    )
}

async fn register_agency(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    reply(
        async {
            let (system, _) = auth(&s, &headers)?;
            let bytes = read_body(body, SMALL_BODY).await?;
            s.axis.register_agency(&system, &bytes).await
        }
        .await,
    )
}

async fn delete_agency(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, params) = auth(&s, &headers)?;
            s.axis.delete_agency(&system, &params).await
        }
        .await,
    )
}

async fn count_edoc(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, _) = auth(&s, &headers)?;
            s.axis.count(&system, MessageType::Edoc).await
        }
        .await,
    )
}

async fn count_status(State(s): State<AppState>, headers: HeaderMap) -> Response {
    reply(
        async {
            let (system, _) = auth(&s, &headers)?;
            s.axis.count(&system, MessageType::Status).await
        }
        .await,
    )
}

async fn not_found() -> Response {
    reply(Err(MockError::not_found("no such endpoint")))
}
