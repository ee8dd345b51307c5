//! Document types (versioned regulation data) and number series.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::admin::{self, SeriesInput};
use crate::audit::Actor;
use crate::auth::Action;
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiJson, ApiQuery, Auth};
use crate::model::DocumentType;
use crate::services::Services;
use crate::storage::NumberSeries;

pub fn router() -> Router<Services> {
    Router::new()
        .route("/document-types", get(document_types))
        .route("/number-series", get(list_series).post(create_series))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TypesQuery {
    /// Date (YYYY-MM-DD) for which the catalogue in force is wanted; default today.
    pub on: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentTypeView {
    #[serde(flatten)]
    pub document_type: DocumentType,
    /// Version of the catalogue this entry comes from.
    pub catalog_version: String,
    pub legal_basis: String,
}

/// The document types in force (29 under NĐ 30/2020), each with a stable ASCII `code`.
#[utoipa::path(get, path = "/api/v1/document-types", tag = "catalog", params(TypesQuery), responses((status = 200, body = [DocumentTypeView])))]
pub async fn document_types(
    State(s): State<Services>,
    ApiQuery(q): ApiQuery<TypesQuery>,
) -> Result<Json<Vec<DocumentTypeView>>, ApiError> {
    let on = match q.on.as_deref() {
        None => s.clock.today(),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::bad_request("validation.invalid_date", "on must be YYYY-MM-DD"))?,
    };
    let v = s.catalog.in_force(on);
    Ok(Json(
        v.types
            .iter()
            .map(|t| DocumentTypeView {
                document_type: t.clone(),
                catalog_version: v.id.to_string(),
                legal_basis: v.legal_basis.to_string(),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeriesView {
    #[serde(flatten)]
    pub series: NumberSeries,
    /// Last number used per year: `[[2026, 153], [2025, 1402]]`.
    pub counters: Vec<(i64, i64)>,
}

/// Number series of the caller's agency with their yearly counters.
#[utoipa::path(get, path = "/api/v1/number-series", tag = "catalog", security(("bearer" = [])), responses((status = 200, body = [SeriesView])))]
pub async fn list_series(State(s): State<Services>, auth: Auth) -> Result<Json<Vec<SeriesView>>, ApiError> {
    if !(auth.principal.can(Action::ManageNumberSeries)
        || auth.principal.can(Action::AssignNumber)
        || auth.principal.can(Action::ReadRegisters))
    {
        return Err(
            AppError::forbidden("number series are visible to clerks, leaders, archivists and administrators").into(),
        );
    }
    let mut out = Vec::new();
    for series in s.db.series(auth.principal.agency_id).await? {
        let counters = s.db.series_counters(series.id).await?;
        out.push(SeriesView { series, counters });
    }
    Ok(Json(out))
}

/// Adds a number series (e.g. a separate series for decisions, or for an advisory body).
#[utoipa::path(post, path = "/api/v1/number-series", tag = "catalog", security(("bearer" = [])), request_body = SeriesInput, responses((status = 201, body = NumberSeries)))]
pub async fn create_series(
    State(s): State<Services>,
    auth: Auth,
    ApiJson(input): ApiJson<SeriesInput>,
) -> Result<(StatusCode, Json<NumberSeries>), ApiError> {
    let actor = Actor {
        user_id: Some(auth.principal.user_id),
        name: auth.principal.username.clone(),
        ip: auth.ip.clone(),
    };
    Ok((
        StatusCode::CREATED,
        Json(admin::create_series(&s, &auth.principal, &actor, &input).await?),
    ))
}
