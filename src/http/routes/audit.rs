//! The audit log, for administrators.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::audit::AuditEntry;
use crate::auth::Action;
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiQuery, Auth};
use crate::services::Services;
use crate::storage::AuditVerification;

pub fn router() -> Router<Services> {
    Router::new()
        .route("/audit", get(list))
        .route("/audit/verify", get(verify))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries with a sequence number below this (paging backwards).
    pub before: Option<i64>,
    /// 1..500, default 100.
    pub limit: Option<i64>,
    /// With `target_id`: only entries about this object, e.g. `document` and `42`.
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
}

fn admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.principal.can(Action::ReadAudit) {
        Ok(())
    } else {
        Err(AppError::forbidden("only an administrator (quản trị) reads the audit log").into())
    }
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])), params(AuditQuery), responses((status = 200, body = [Object])))]
pub async fn list(
    State(s): State<Services>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    admin(&auth)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::bad_request("request.invalid_query", "limit must be 1..500").into());
    }
    let target = match (&q.target_kind, &q.target_id) {
        (Some(k), Some(i)) => Some((k.as_str(), i.as_str())),
        (None, None) => None,
        _ => {
            return Err(AppError::bad_request("request.invalid_query", "target_kind and target_id go together").into())
        }
    };
    Ok(Json(s.db.audit_entries(q.before, target, limit).await?))
}

/// Re-computes the hash chain and reports the first break, if any.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = [])), responses((status = 200, body = AuditVerification)))]
pub async fn verify(State(s): State<Services>, auth: Auth) -> Result<Json<AuditVerification>, ApiError> {
    admin(&auth)?;
    Ok(Json(s.db.verify_audit(|_, _| {}).await?))
}
