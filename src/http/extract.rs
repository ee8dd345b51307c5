//! Extractors with our own rejections, so that malformed requests get `{"code","message"}` too.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::auth::Principal;
use crate::error::{AppError, ErrorKind};
use crate::services::Services;

/// The authenticated caller.
pub struct Auth {
    pub principal: Principal,
    pub token: String,
    pub ip: Option<String>,
}

fn client_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The client's address, for audit entries of unauthenticated calls (login).
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

impl FromRequestParts<Services> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &Services) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::unauthenticated("missing Authorization: Bearer <token> header; log in at /api/v1/auth/login")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or_else(|| AppError::unauthenticated("the Authorization header must be 'Bearer <token>'"))?;
        let principal = crate::accounts::authenticate(s, token).await?;
        Ok(Self {
            principal,
            token: token.to_string(),
            ip: client_ip(parts),
        })
    }
}

/// JSON body with a clear error for malformed JSON, wrong types and wrong content types.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rej) => Err(ApiError(match rej {
                JsonRejection::JsonDataError(e) => AppError::bad_request("request.invalid_field", e.body_text()),
                JsonRejection::JsonSyntaxError(e) => AppError::bad_request("request.malformed_json", e.body_text()),
                JsonRejection::MissingJsonContentType(_) => AppError::new(
                    ErrorKind::BadRequest,
                    "request.unsupported_media_type",
                    "send the body as Content-Type: application/json",
                ),
                JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                    AppError::new(
                        ErrorKind::TooLarge,
                        "request.too_large",
                        "the request body is larger than allowed",
                    )
                }
                other => AppError::bad_request("request.invalid_body", other.body_text()),
            })),
        }
    }
}

/// Query string with a clear error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(rej) => {
                let msg = match &rej {
                    QueryRejection::FailedToDeserializeQueryString(e) => e.body_text(),
                    other => other.body_text(),
                };
                Err(ApiError(AppError::bad_request("request.invalid_query", msg)))
            }
        }
    }
}

/// Path parameters with a clear error (e.g. a non-numeric id).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(rej) => Err(ApiError(AppError::bad_request("request.invalid_path", rej.body_text()))),
        }
    }
}

/// A JSON body that may be absent (an empty body means the default value).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| {
            ApiError(AppError::new(
                ErrorKind::TooLarge,
                "request.too_large",
                "the request body is larger than allowed",
            ))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError(AppError::bad_request("request.malformed_json", e.to_string())))
    }
}
