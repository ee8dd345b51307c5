//! Agencies, units, users and delegations.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::admin::{self, AgencyInput, DelegationInput, UnitInput, UserInput};
use crate::audit::Actor;
use crate::auth::{Action, Principal};
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiPath, Auth};
use crate::services::Services;
use crate::storage::{Agency, Delegation, Unit, User};

pub fn router() -> Router<Services> {
    Router::new()
        .route("/agencies", get(list_agencies).post(create_agency))
        .route("/agencies/{id}", get(get_agency))
        .route("/units", get(list_units).post(create_unit))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/lock", post(lock_user))
        .route("/users/{id}/unlock", post(unlock_user))
        .route("/delegations", get(list_delegations).post(create_delegation))
        .route("/delegations/{id}/revoke", post(revoke_delegation))
}

fn actor(a: &Auth) -> Actor {
    Actor {
        user_id: Some(a.principal.user_id),
        name: a.principal.username.clone(),
        ip: a.ip.clone(),
    }
}

fn directory(p: &Principal) -> Result<(), ApiError> {
    if p.can(Action::ReadDirectory) {
        Ok(())
    } else {
        Err(AppError::forbidden("no role gives access to the directory").into())
    }
}

/// Agencies known to this installation (the directory used for recipients).
#[utoipa::path(get, path = "/api/v1/agencies", tag = "organisation", security(("bearer" = [])), responses((status = 200, body = [Agency])))]
pub async fn list_agencies(State(s): State<Services>, auth: Auth) -> Result<Json<Vec<Agency>>, ApiError> {
    directory(&auth.principal)?;
    Ok(Json(s.db.agencies().await?))
}

#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "organisation", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = Agency)))]
pub async fn get_agency(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Agency>, ApiError> {
    directory(&auth.principal)?;
    Ok(Json(s.db.agency(id).await.map_err(|e| AppError::storage(e, "agency"))?))
}

/// Registers an agency (with its default number series). Administrators only.
#[utoipa::path(post, path = "/api/v1/agencies", tag = "organisation", security(("bearer" = [])), request_body = AgencyInput, responses((status = 201, body = Agency)))]
pub async fn create_agency(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<AgencyInput>,
) -> Result<(StatusCode, Json<Agency>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_agency_as(&s, &auth.principal, &actor(&auth), &input).await?),
    ))
}

/// Units of the caller's agency (a tree through `parent_id`).
#[utoipa::path(get, path = "/api/v1/units", tag = "organisation", security(("bearer" = [])), responses((status = 200, body = [Unit])))]
pub async fn list_units(State(s): State<Services>, auth: Auth) -> Result<Json<Vec<Unit>>, ApiError> {
    directory(&auth.principal)?;
    Ok(Json(s.db.units(auth.principal.agency_id).await?))
}

#[utoipa::path(post, path = "/api/v1/units", tag = "organisation", security(("bearer" = [])), request_body = UnitInput, responses((status = 201, body = Unit)))]
pub async fn create_unit(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<UnitInput>,
) -> Result<(StatusCode, Json<Unit>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_unit_as(&s, &auth.principal, &actor(&auth), &input).await?),
    ))
}

/// Users of the caller's agency.
#[utoipa::path(get, path = "/api/v1/users", tag = "organisation", security(("bearer" = [])), responses((status = 200, body = [User])))]
pub async fn list_users(State(s): State<Services>, auth: Auth) -> Result<Json<Vec<User>>, ApiError> {
    directory(&auth.principal)?;
    Ok(Json(s.db.users(auth.principal.agency_id).await?))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "organisation", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = User)))]
pub async fn get_user(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, ApiError> {
    directory(&auth.principal)?;
    let user = s.db.user(id).await.map_err(|e| AppError::storage(e, "user"))?;
    if user.agency_id != auth.principal.agency_id {
        return Err(AppError::not_found("user").into());
    }
    Ok(Json(user))
}

/// Creates a user in the caller's agency. Administrators only.
#[utoipa::path(post, path = "/api/v1/users", tag = "organisation", security(("bearer" = [])), request_body = UserInput, responses((status = 201, body = User)))]
pub async fn create_user(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<UserInput>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_user_as(&s, &auth.principal, &actor(&auth), &input).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/lock", tag = "organisation", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = User)))]
pub async fn lock_user(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        admin::set_locked_as(&s, &auth.principal, &actor(&auth), id, true).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "organisation", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = User)))]
pub async fn unlock_user(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        admin::set_locked_as(&s, &auth.principal, &actor(&auth), id, false).await?,
    ))
}

/// Delegations (ủy quyền) of the caller's agency.
#[utoipa::path(get, path = "/api/v1/delegations", tag = "organisation", security(("bearer" = [])), responses((status = 200, body = [Delegation])))]
pub async fn list_delegations(State(s): State<Services>, auth: Auth) -> Result<Json<Vec<Delegation>>, ApiError> {
    directory(&auth.principal)?;
    Ok(Json(s.db.delegations(auth.principal.agency_id).await?))
}

/// Lends some of a leader's roles to another user for a time window.
#[utoipa::path(post, path = "/api/v1/delegations", tag = "organisation", security(("bearer" = [])), request_body = DelegationInput, responses((status = 201, body = Delegation)))]
pub async fn create_delegation(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<DelegationInput>,
) -> Result<(StatusCode, Json<Delegation>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(admin::create_delegation(&s, &auth.principal, &actor(&auth), &input).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/delegations/{id}/revoke", tag = "organisation", security(("bearer" = [])), params(("id" = i64, Path)), responses((status = 200, body = Delegation)))]
pub async fn revoke_delegation(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Delegation>, ApiError> {
    Ok(Json(
        admin::revoke_delegation(&s, &auth.principal, &actor(&auth), id).await?,
    ))
}
