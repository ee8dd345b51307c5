//! Registers (sổ đăng ký văn bản đi / đến) as JSON or CSV for a date range.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::Action;
use crate::error::AppError;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery, Auth};
use crate::registers::{self, Register};
use crate::services::Services;

pub fn router() -> Router<Services> {
    Router::new().route("/registers/{direction}", get(register))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RegisterQuery {
    /// First day, YYYY-MM-DD (default: 1 January of this year).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The outgoing or incoming register with the columns of NĐ 30 Phụ lục IV.
#[utoipa::path(get, path = "/api/v1/registers/{direction}", tag = "registers", security(("bearer" = [])),
    params(("direction" = String, Path, description = "incoming or outgoing"), RegisterQuery),
    responses((status = 200, body = Register), (status = 200, content_type = "text/csv")))]
pub async fn register(
    State(s): State<Services>,
    auth: Auth,
    ApiPath(direction): ApiPath<String>,
    ApiQuery(q): ApiQuery<RegisterQuery>,
) -> Result<Response, ApiError> {
    if !auth.principal.can(Action::ReadRegisters) {
        return Err(
            AppError::forbidden("registers are kept by the clerk and visible to leaders and archivists").into(),
        );
    }
    if direction != "incoming" && direction != "outgoing" {
        return Err(AppError::not_found("register (use incoming or outgoing)").into());
    }
    let today = s.clock.today();
    let parse = |name: &str, v: Option<&str>, default: chrono::NaiveDate| match v {
        None => Ok(default),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::bad_request("validation.invalid_date", format!("{name} must be YYYY-MM-DD"))),
    };
    let from = parse(
        "from",
        q.from.as_deref(),
        chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), 1, 1).unwrap_or(today),
    )?;
    let to = parse("to", q.to.as_deref(), today)?;
    if to < from {
        return Err(AppError::bad_request("validation.invalid_range", "to is before from").into());
    }
    let agency = s.db.agency(auth.principal.agency_id).await?;
    let docs =
        s.db.register_rows(agency.id, &direction, &from.to_string(), &to.to_string())
            .await?;
    let units: HashMap<i64, String> =
        s.db.units(agency.id)
            .await?
            .into_iter()
            .map(|u| (u.id, u.name))
            .collect();
    let reg = registers::build(
        &direction,
        &agency.name,
        &from.to_string(),
        &to.to_string(),
        &docs,
        &units,
        &s.catalog,
    );
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(reg).into_response()),
        Some("csv") => {
            let body = registers::to_csv(&reg).map_err(|e| AppError::internal(e.to_string()))?;
            let name = format!("attachment; filename=\"so-{direction}-{from}-{to}.csv\"");
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (header::CONTENT_DISPOSITION, name),
                ],
                body,
            )
                .into_response())
        }
        Some(_) => Err(AppError::bad_request("request.invalid_query", "format must be json or csv").into()),
    }
}
