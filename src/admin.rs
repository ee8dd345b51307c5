//! Administration: agencies, units, users, delegations and number series — validated, authorised
//! and audited. Used by the HTTP API and by the CLI (with a console actor).

use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::auth::{Action, Principal};
use crate::error::{AppError, AppResult};
use crate::model::{symbol, AgencyCode, Role, SigningAuthority};
use crate::services::Services;
use crate::storage::{
    Agency, Delegation, NewAgency, NewDelegation, NewSeries, NewUnit, NewUser, NumberSeries, StorageError, Unit, User,
};

fn need(p: &Principal, a: Action, what: &str) -> AppResult<()> {
    if p.can(a) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only an administrator (quản trị) can {what}"
        )))
    }
}

fn text(field: &'static str, v: &str, max: usize) -> AppResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(AppError {
            field: Some(field),
            ..AppError::bad_request(
                "validation.invalid_value",
                format!("{field} must be 1 to {max} printable characters"),
            )
        });
    }
    Ok(v.to_string())
}

fn conflict(e: StorageError, code: &'static str, what: &str) -> AppError {
    match e {
        StorageError::Conflict(_) => AppError::conflict(code, format!("{what} already exists")),
        other => other.into(),
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyInput {
    /// Mã định danh (QCVN 102 `000.00.00.G12` or QĐ 20/2020 form).
    pub code: String,
    pub name: String,
    /// Abbreviation used in symbols, e.g. `BTP`.
    pub abbreviation: String,
    pub parent_name: Option<String>,
    pub place_name: Option<String>,
}

pub async fn create_agency(s: &Services, actor: &Actor, input: &AgencyInput) -> AppResult<Agency> {
    let code = AgencyCode::parse(&input.code).map_err(|e| AppError {
        field: Some("code"),
        ..AppError::bad_request("agency.invalid_code", format!("{e} (got {:?})", input.code))
    })?;
    symbol::check_abbreviation("agency", input.abbreviation.trim())
        .map_err(|e| AppError::bad_request("validation.invalid_value", e.to_string()))?;
    let a = NewAgency {
        code: code.to_string(),
        name: text("name", &input.name, 300)?,
        abbreviation: input.abbreviation.trim().to_string(),
        parent_name: input
            .parent_name
            .as_deref()
            .map(|v| text("parent_name", v, 300))
            .transpose()?,
        place_name: input
            .place_name
            .as_deref()
            .map(|v| text("place_name", v, 100))
            .transpose()?,
    };
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "agency.create",
        "agency",
        None,
        serde_json::json!({"code": a.code}),
    );
    s.db.create_agency(&a, now, entry)
        .await
        .map_err(|e| conflict(e, "agency.duplicate", "an agency with this code"))
}

pub async fn create_agency_as(s: &Services, p: &Principal, actor: &Actor, input: &AgencyInput) -> AppResult<Agency> {
    need(p, Action::ManageOrganisation, "create agencies")?;
    create_agency(s, actor, input).await
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitInput {
    pub name: String,
    pub abbreviation: String,
    pub parent_id: Option<i64>,
}

pub async fn create_unit(s: &Services, actor: &Actor, agency_id: i64, input: &UnitInput) -> AppResult<Unit> {
    symbol::check_abbreviation("unit", input.abbreviation.trim())
        .map_err(|e| AppError::bad_request("validation.invalid_value", e.to_string()))?;
    let u = NewUnit {
        agency_id,
        parent_id: input.parent_id,
        name: text("name", &input.name, 300)?,
        abbreviation: input.abbreviation.trim().to_string(),
    };
    let now = s.clock.now_ms();
    let entry = actor.entry(now, "unit.create", "unit", None, serde_json::json!({"name": u.name}));
    match s.db.create_unit(&u, now, entry).await {
        Err(StorageError::NotFound) => Err(AppError::bad_request(
            "validation.invalid_value",
            "parent_id is not a unit",
        )),
        other => other.map_err(|e| {
            conflict(
                e,
                "unit.duplicate",
                "a unit with this abbreviation (or the parent is in another agency)",
            )
        }),
    }
}

pub async fn create_unit_as(s: &Services, p: &Principal, actor: &Actor, input: &UnitInput) -> AppResult<Unit> {
    need(p, Action::ManageOrganisation, "create units")?;
    create_unit(s, actor, p.agency_id, input).await
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub unit_id: Option<i64>,
    pub position: Option<String>,
    /// Role codes: `van_thu`, `lanh_dao`, `truong_don_vi`, `chuyen_vien`, `luu_tru`, `quan_tri`.
    pub roles: Vec<String>,
}

fn parse_roles(codes: &[String]) -> AppResult<Vec<Role>> {
    let mut roles = Vec::new();
    for c in codes {
        roles.push(Role::parse(c.trim()).ok_or_else(|| {
            AppError::bad_request(
                "user.unknown_role",
                format!("unknown role {c:?}; use van_thu, lanh_dao, truong_don_vi, chuyen_vien, luu_tru or quan_tri"),
            )
        })?);
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Creates a user. `password_hash` lets the demo seeder skip the strength policy for its fixed
/// demo password; every other caller passes `None` and the password is checked and hashed here.
pub async fn create_user(
    s: &Services,
    actor: &Actor,
    agency_id: i64,
    input: &UserInput,
    password_hash: Option<String>,
) -> AppResult<User> {
    let username = input.username.trim();
    let valid_name = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-');
    if !valid_name {
        return Err(AppError::bad_request(
            "user.invalid_username",
            "username must be 3 to 64 characters of a-z, 0-9, '.', '_' or '-'",
        ));
    }
    let roles = parse_roles(&input.roles)?;
    if roles.is_empty() {
        return Err(AppError::bad_request("user.no_role", "a user needs at least one role"));
    }
    if let Some(u) = input.unit_id {
        let unit = s.db.unit(u).await.map_err(|e| AppError::storage(e, "unit"))?;
        if unit.agency_id != agency_id {
            return Err(AppError::bad_request(
                "validation.invalid_value",
                "unit_id belongs to another agency",
            ));
        }
    }
    let hash = match password_hash {
        Some(h) => h,
        None => crate::accounts::hash_new_password(s, &input.password).await?,
    };
    let u = NewUser {
        username: username.to_string(),
        display_name: text("display_name", &input.display_name, 200)?,
        password_hash: hash,
        agency_id,
        unit_id: input.unit_id,
        position: input
            .position
            .as_deref()
            .map(|v| text("position", v, 200))
            .transpose()?,
        roles,
    };
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "user.create",
        "user",
        None,
        serde_json::json!({"username": u.username, "roles": Role::join(&u.roles)}),
    );
    s.db.create_user(&u, now, entry)
        .await
        .map_err(|e| conflict(e, "user.duplicate", "a user with this name"))
}

pub async fn create_user_as(s: &Services, p: &Principal, actor: &Actor, input: &UserInput) -> AppResult<User> {
    need(p, Action::ManageUsers, "create users")?;
    create_user(s, actor, p.agency_id, input, None).await
}

/// Locks or unlocks an account (CLI: by user name; API: by id within the admin's agency).
pub async fn set_locked(s: &Services, actor: &Actor, user: &User, locked: bool) -> AppResult<()> {
    let action = if locked { "user.lock" } else { "user.unlock" };
    let entry = actor.entry(
        s.clock.now_ms(),
        action,
        "user",
        Some(user.id.to_string()),
        serde_json::json!({}),
    );
    s.db.set_user_locked(user.id, locked, entry).await?;
    s.sessions.remove_user(user.id);
    Ok(())
}

pub async fn set_locked_as(s: &Services, p: &Principal, actor: &Actor, user_id: i64, locked: bool) -> AppResult<User> {
    need(p, Action::ManageUsers, "lock or unlock users")?;
    let user = s.db.user(user_id).await.map_err(|e| AppError::storage(e, "user"))?;
    if user.agency_id != p.agency_id {
        return Err(AppError::not_found("user"));
    }
    if locked && user.id == p.user_id {
        return Err(AppError::conflict("user.self_lock", "you cannot lock your own account"));
    }
    set_locked(s, actor, &user, locked).await?;
    Ok(s.db.user(user_id).await?)
}

/// Sets a password chosen by an operator (CLI `user passwd`).
pub async fn set_password(s: &Services, actor: &Actor, user: &User, password: &str) -> AppResult<()> {
    let hash = crate::accounts::hash_new_password(s, password).await?;
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "user.password_set",
        "user",
        Some(user.id.to_string()),
        serde_json::json!({}),
    );
    s.db.set_password(user.id, &hash, now, entry).await?;
    s.sessions.remove_user(user.id);
    Ok(())
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationInput {
    /// Defaults to the caller (a leader delegating their own powers).
    pub delegator_id: Option<i64>,
    pub delegate_id: i64,
    /// Role codes lent; the delegator must hold each in person.
    pub roles: Vec<String>,
    /// `tuq` (thừa ủy quyền), `kt`, `q`, `tl` or `tm`.
    pub authority: String,
    /// RFC 3339 instants.
    pub valid_from: String,
    pub valid_to: String,
    /// Number of the written authorisation or the quy chế clause.
    pub legal_basis: String,
}

fn instant(field: &'static str, v: &str) -> AppResult<i64> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| AppError {
            field: Some(field),
            ..AppError::bad_request(
                "validation.invalid_date",
                format!("{field} must be an RFC 3339 time such as 2026-12-01T08:00:00+07:00"),
            )
        })
}

/// Creates a time-bounded delegation (ủy quyền). Only roles held in person can be lent
/// (no re-delegation), only within one agency, and a TUQ needs a written legal basis.
pub async fn create_delegation(
    s: &Services,
    p: &Principal,
    actor: &Actor,
    input: &DelegationInput,
) -> AppResult<Delegation> {
    need(p, Action::ManageDelegations, "create delegations")?;
    let delegator_id = input.delegator_id.unwrap_or(p.user_id);
    if delegator_id != p.user_id && !p.has(Role::QuanTri) {
        return Err(AppError::forbidden("you can only delegate your own powers"));
    }
    let delegator =
        s.db.user(delegator_id)
            .await
            .map_err(|e| AppError::storage(e, "delegator"))?;
    let delegate =
        s.db.user(input.delegate_id)
            .await
            .map_err(|e| AppError::storage(e, "delegate"))?;
    if delegator.agency_id != p.agency_id || delegate.agency_id != p.agency_id {
        return Err(AppError::bad_request(
            "delegation.other_agency",
            "delegator and delegate must belong to your agency",
        ));
    }
    if delegator.id == delegate.id {
        return Err(AppError::bad_request(
            "delegation.self",
            "a user cannot delegate to themselves",
        ));
    }
    let roles = parse_roles(&input.roles)?;
    if roles.is_empty() {
        return Err(AppError::bad_request(
            "delegation.no_role",
            "a delegation lends at least one role",
        ));
    }
    if let Some(r) = roles.iter().find(|r| !delegator.roles.contains(r)) {
        return Err(AppError::bad_request(
            "delegation.not_held",
            format!(
                "the delegator does not hold the role {} in person; delegated powers cannot be delegated again",
                r.code()
            ),
        ));
    }
    let authority = SigningAuthority::parse(input.authority.trim())
        .filter(|a| *a != SigningAuthority::Direct)
        .ok_or_else(|| AppError::bad_request("validation.invalid_value", "authority must be tuq, kt, q, tl or tm"))?;
    let valid_from = instant("valid_from", &input.valid_from)?;
    let valid_to = instant("valid_to", &input.valid_to)?;
    if valid_to <= valid_from {
        return Err(AppError::bad_request(
            "delegation.bad_window",
            "valid_to must be after valid_from",
        ));
    }
    if authority == SigningAuthority::Tuq && valid_to - valid_from > 366 * 24 * 3600 * 1000 {
        return Err(AppError::bad_request(
            "delegation.bad_window",
            "a TUQ authorisation must be time-limited (at most one year)",
        ));
    }
    let d = NewDelegation {
        agency_id: p.agency_id,
        delegator_id,
        delegate_id: delegate.id,
        roles,
        authority: authority.code().to_string(),
        valid_from,
        valid_to,
        legal_basis: text("legal_basis", &input.legal_basis, 500)?,
        created_by: p.user_id,
    };
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "delegation.create",
        "delegation",
        None,
        serde_json::json!({"delegator": delegator_id, "delegate": delegate.id, "roles": Role::join(&d.roles), "authority": d.authority}),
    );
    let created = s.db.create_delegation(&d, now, entry).await?;
    s.sessions.remove_user(delegate.id);
    Ok(created)
}

pub async fn revoke_delegation(s: &Services, p: &Principal, actor: &Actor, id: i64) -> AppResult<Delegation> {
    need(p, Action::ManageDelegations, "revoke delegations")?;
    let d =
        s.db.delegation(id)
            .await
            .map_err(|e| AppError::storage(e, "delegation"))?;
    if d.agency_id != p.agency_id || (d.delegator_id != p.user_id && !p.has(Role::QuanTri)) {
        return Err(AppError::not_found("delegation"));
    }
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "delegation.revoke",
        "delegation",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    s.db.revoke_delegation(id, now, entry)
        .await
        .map_err(|e| AppError::storage(e, "active delegation"))?;
    s.sessions.remove_user(d.delegate_id);
    Ok(s.db.delegation(id).await?)
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesInput {
    /// Short ASCII code, unique in the agency, e.g. `qd`.
    pub code: String,
    pub name: String,
    /// `outgoing` or `incoming`.
    pub direction: String,
    /// Document type codes sharing this series, or `["*"]` for all others.
    pub document_types: Vec<String>,
    /// Name of the advisory body (tổ chức tư vấn) that numbers with this series.
    pub advisory_body: Option<String>,
}

pub async fn create_series(s: &Services, p: &Principal, actor: &Actor, input: &SeriesInput) -> AppResult<NumberSeries> {
    need(p, Action::ManageNumberSeries, "configure number series")?;
    let code = input.code.trim();
    if code.is_empty()
        || code.len() > 32
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(AppError::bad_request(
            "validation.invalid_value",
            "code must be 1 to 32 characters of a-z, 0-9 or '_'",
        ));
    }
    if !matches!(input.direction.as_str(), "outgoing" | "incoming") {
        return Err(AppError::bad_request(
            "validation.invalid_value",
            "direction must be outgoing or incoming",
        ));
    }
    let today = s.clock.today();
    let mut types = Vec::new();
    for t in &input.document_types {
        let t = t.trim();
        if t != "*" && s.catalog.get(today, t).is_none() {
            return Err(AppError::bad_request(
                "document.unknown_type",
                format!("unknown document type {t:?}"),
            ));
        }
        types.push(t.to_string());
    }
    if types.is_empty() || (types.len() > 1 && types.iter().any(|t| t == "*")) {
        return Err(AppError::bad_request(
            "validation.invalid_value",
            "document_types is either [\"*\"] or a list of type codes",
        ));
    }
    let ns = NewSeries {
        agency_id: p.agency_id,
        code: code.to_string(),
        name: text("name", &input.name, 200)?,
        direction: input.direction.clone(),
        document_types: types.join(","),
        advisory_body: input
            .advisory_body
            .as_deref()
            .map(|v| text("advisory_body", v, 300))
            .transpose()?,
    };
    let now = s.clock.now_ms();
    let entry = actor.entry(
        now,
        "series.create",
        "number_series",
        None,
        serde_json::json!({"code": ns.code, "types": ns.document_types}),
    );
    s.db.create_series(&ns, now, entry)
        .await
        .map_err(|e| conflict(e, "series.duplicate", "a series with this code"))
}
