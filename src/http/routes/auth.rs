use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::{self, LoginResult};
use crate::auth::Grant;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, Auth, ClientIp};
use crate::services::Services;
use crate::storage::{Agency, User};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Logs in with a user name and password; returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResult), (status = 401, body = crate::http::error::ErrorBody), (status = 423, body = crate::http::error::ErrorBody)))]
pub async fn login(
    State(s): State<Services>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResult>, ApiError> {
    if req.username.len() > 200 || req.password.len() > 1024 {
        return Err(crate::error::AppError::bad_request("request.too_long", "username or password is too long").into());
    }
    Ok(Json(accounts::login(&s, req.username.trim(), &req.password, ip).await?))
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses((status = 204)))]
pub async fn logout(State(s): State<Services>, auth: Auth) -> Result<StatusCode, ApiError> {
    accounts::logout(&s, &auth.token, &auth.principal, auth.ip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub role: crate::model::Role,
    pub role_name: String,
    pub unit_id: Option<i64>,
    /// Set when the role is lent by a delegation (ủy quyền) from this user.
    pub delegated_by: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: User,
    pub agency: Agency,
    /// Roles in force now, including delegated ones.
    pub grants: Vec<GrantView>,
}

/// The current user, agency and roles in force.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])), responses((status = 200, body = Me)))]
pub async fn me(State(s): State<Services>, auth: Auth) -> Result<Json<Me>, ApiError> {
    let user = s.db.user(auth.principal.user_id).await?;
    let agency = s.db.agency(user.agency_id).await?;
    let grants = auth
        .principal
        .grants
        .iter()
        .map(|g: &Grant| GrantView {
            role: g.role,
            role_name: g.role.label().to_string(),
            unit_id: g.unit_id,
            delegated_by: g.delegated_by,
        })
        .collect();
    Ok(Json(Me { user, agency, grants }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Changes one's own password; every session of the user ends.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange, responses((status = 204)))]
pub async fn change_password(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    accounts::change_own_password(&s, &auth.principal, &req.current_password, &req.new_password, auth.ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
