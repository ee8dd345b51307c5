//! The error every service returns: a kind (which the HTTP layer maps to a status), a stable
//! machine-readable code, and a message a person can act on.

use crate::model::ValidationError;
use crate::objects::ObjectError;
use crate::storage::StorageError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    TooLarge,
    Locked,
    Unavailable,
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// The field a validation error refers to.
    pub field: Option<&'static str>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, "auth.forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, "not_found", format!("{what} not found"))
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, "auth.unauthenticated", message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, "internal", message)
    }
    /// Maps a storage error, naming what was looked for when it is missing.
    pub fn storage(e: StorageError, what: &str) -> Self {
        match e {
            StorageError::NotFound => Self::not_found(what),
            other => other.into(),
        }
    }
}

impl From<ValidationError> for AppError {
    fn from(e: ValidationError) -> Self {
        let kind = if e.code == "document.secret_refused" {
            ErrorKind::Unprocessable
        } else {
            ErrorKind::BadRequest
        };
        Self {
            kind,
            code: e.code,
            message: e.to_string(),
            field: Some(e.field),
        }
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => Self::not_found("record"),
            StorageError::Conflict(m) => Self::conflict("conflict", m),
            StorageError::Unavailable(m) => Self::new(
                ErrorKind::Unavailable,
                "service.unavailable",
                format!("the database is unavailable, try again shortly ({m})"),
            ),
            other => Self::internal(other.to_string()),
        }
    }
}

impl From<ObjectError> for AppError {
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::TooLarge { .. } => Self::new(ErrorKind::TooLarge, "file.too_large", e.to_string()),
            ObjectError::Body(_) => Self::bad_request("file.upload_interrupted", e.to_string()),
            ObjectError::NotFound => Self::not_found("stored file"),
            ObjectError::Config(_) | ObjectError::Store(_) => Self::new(
                ErrorKind::Unavailable,
                "storage.unavailable",
                format!("object storage is unavailable, try again shortly ({e})"),
            ),
        }
    }
}
