//! Records as stored. Public types here carry no sqlx types; `FromRow` derives stay on them
//! because sqlx is confined to this module anyway.

use serde::Serialize;

use crate::model::Role;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Agency {
    pub id: i64,
    /// Mã định danh, e.g. `000.00.00.G12`.
    pub code: String,
    pub name: String,
    /// Used in document symbols, e.g. `BTP`.
    pub abbreviation: String,
    /// Cơ quan chủ quản (printed above the agency name).
    pub parent_name: Option<String>,
    /// Địa danh used in the date line, e.g. `Hà Nội`.
    pub place_name: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Unit {
    pub id: i64,
    pub agency_id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub abbreviation: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    pub position: Option<String>,
    pub roles: String,
    pub locked: i64,
    pub failed_logins: i64,
    pub password_changed_at: i64,
    pub created_at: i64,
}

/// A user account. The password hash never leaves storage except through [`UserAuth`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    /// Chức vụ, e.g. `Phó Cục trưởng`.
    pub position: Option<String>,
    pub roles: Vec<Role>,
    pub locked: bool,
    pub failed_logins: i64,
    pub created_at: i64,
}

/// What login needs: the user and the stored password hash.
#[derive(Clone, Debug)]
pub struct UserAuth {
    pub user: User,
    pub password_hash: String,
}

impl From<UserRow> for UserAuth {
    fn from(r: UserRow) -> Self {
        let _ = r.password_changed_at;
        Self {
            password_hash: r.password_hash,
            user: User {
                id: r.id,
                username: r.username,
                display_name: r.display_name,
                agency_id: r.agency_id,
                unit_id: r.unit_id,
                position: r.position,
                roles: Role::parse_list(&r.roles),
                locked: r.locked != 0,
                failed_logins: r.failed_logins,
                created_at: r.created_at,
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewAgency {
    pub code: String,
    pub name: String,
    pub abbreviation: String,
    pub parent_name: Option<String>,
    pub place_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct NewUnit {
    pub agency_id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub abbreviation: String,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub agency_id: i64,
    pub unit_id: Option<i64>,
    pub position: Option<String>,
    pub roles: Vec<Role>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delegation {
    pub id: i64,
    pub agency_id: i64,
    pub delegator_id: i64,
    pub delegate_id: i64,
    /// Comma-separated role codes lent by the delegation.
    pub roles: String,
    /// Signing-authority form the delegate uses (`tuq`, `kt`, `q`, `tl`, `tm`).
    pub authority: String,
    pub valid_from: i64,
    pub valid_to: i64,
    /// The written decision or quy chế clause that grants it.
    pub legal_basis: String,
    pub created_by: i64,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewDelegation {
    pub agency_id: i64,
    pub delegator_id: i64,
    pub delegate_id: i64,
    pub roles: Vec<Role>,
    pub authority: String,
    pub valid_from: i64,
    pub valid_to: i64,
    pub legal_basis: String,
    pub created_by: i64,
}

/// A delegation in force or still to come, as the session loader needs it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ActiveDelegation {
    pub delegator_id: i64,
    pub roles: String,
    pub delegator_unit_id: Option<i64>,
    pub valid_from: i64,
    pub valid_to: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct NumberSeries {
    pub id: i64,
    pub agency_id: i64,
    pub code: String,
    pub name: String,
    /// `outgoing` (số văn bản đi) or `incoming` (số đến, one per register).
    pub direction: String,
    /// Comma-separated document type codes, or `*` for every type no other series claims.
    pub document_types: String,
    /// Set for an advisory body (tổ chức tư vấn) that issues with its own series.
    pub advisory_body: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewSeries {
    pub agency_id: i64,
    pub code: String,
    pub name: String,
    pub direction: String,
    pub document_types: String,
    pub advisory_body: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct DocumentRow {
    pub id: i64,
    pub agency_id: i64,
    pub direction: String,
    pub document_type: String,
    pub status: String,
    pub subject: String,
    pub number: Option<i64>,
    pub symbol: Option<String>,
    pub year: Option<i64>,
    pub series_id: Option<i64>,
    pub issuer_name: Option<String>,
    pub issuer_code: Option<String>,
    pub issued_on: Option<String>,
    pub arrival_number: Option<i64>,
    pub arrival_series_id: Option<i64>,
    pub arrival_year: Option<i64>,
    pub arrived_on: Option<String>,
    pub urgency: String,
    pub signer_name: Option<String>,
    pub signer_position: Option<String>,
    pub signing_authority: Option<String>,
    pub page_count: Option<i64>,
    pub recipients: String,
    pub deadline: Option<String>,
    pub unit_id: Option<i64>,
    pub external_id: Option<String>,
    pub notes: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A registered document (văn bản đi or đến).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Document {
    pub id: i64,
    pub agency_id: i64,
    pub direction: String,
    pub document_type: String,
    pub status: String,
    pub subject: String,
    /// Outgoing: our number (assigned by the clerk). Incoming: the sender's number.
    pub number: Option<i64>,
    pub symbol: Option<String>,
    /// Printed `số/ký hiệu`, e.g. `05/QĐ-BTP`.
    pub reference: Option<String>,
    pub year: Option<i64>,
    pub series_id: Option<i64>,
    pub issuer_name: Option<String>,
    pub issuer_code: Option<String>,
    pub issued_on: Option<String>,
    /// Số đến (incoming only).
    pub arrival_number: Option<i64>,
    pub arrival_series_id: Option<i64>,
    pub arrival_year: Option<i64>,
    pub arrived_on: Option<String>,
    pub urgency: String,
    pub signer_name: Option<String>,
    pub signer_position: Option<String>,
    pub signing_authority: Option<String>,
    pub page_count: Option<i64>,
    pub recipients: Vec<String>,
    pub deadline: Option<String>,
    pub unit_id: Option<i64>,
    pub external_id: Option<String>,
    pub notes: Option<String>,
    /// Set when an earlier document has the same identifier or (number, symbol, issuer).
    pub duplicate_of: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<DocumentRow> for Document {
    fn from(r: DocumentRow) -> Self {
        let reference = match (r.number, &r.symbol) {
            (Some(n), Some(s)) => Some(crate::model::symbol::reference(n, s)),
            _ => None,
        };
        Self {
            id: r.id,
            agency_id: r.agency_id,
            direction: r.direction,
            document_type: r.document_type,
            status: r.status,
            subject: r.subject,
            number: r.number,
            symbol: r.symbol,
            reference,
            year: r.year,
            series_id: r.series_id,
            issuer_name: r.issuer_name,
            issuer_code: r.issuer_code,
            issued_on: r.issued_on,
            arrival_number: r.arrival_number,
            arrival_series_id: r.arrival_series_id,
            arrival_year: r.arrival_year,
            arrived_on: r.arrived_on,
            urgency: r.urgency,
            signer_name: r.signer_name,
            signer_position: r.signer_position,
            signing_authority: r.signing_authority,
            page_count: r.page_count,
            recipients: serde_json::from_str(&r.recipients).unwrap_or_default(),
            deadline: r.deadline,
            unit_id: r.unit_id,
            external_id: r.external_id,
            notes: r.notes,
            duplicate_of: r.duplicate_of,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DocumentFile {
    pub id: i64,
    pub document_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the content; the object key is derived from it.
    pub sha256: String,
    pub object_key: String,
    /// When the stored object was last re-read and found intact.
    pub verified_at: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub seq: i64,
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for crate::audit::AuditEntry {
    fn from(r: AuditRow) -> Self {
        Self {
            seq: r.seq,
            entry: crate::audit::NewAuditEntry {
                at_ms: r.at_ms,
                actor_id: r.actor_id,
                actor: r.actor,
                action: r.action,
                target_kind: r.target_kind,
                target_id: r.target_id,
                ip: r.ip,
                details: r.details,
            },
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// A session joined with its user, as the authentication middleware reads it.
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub user: User,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// Columns of the document table, in `DocumentRow` order.
pub(crate) const DOCUMENT_COLUMNS: &str = "id, agency_id, direction, document_type, status, subject, number, symbol, year, \
    series_id, issuer_name, issuer_code, issued_on, arrival_number, arrival_series_id, arrival_year, arrived_on, urgency, \
    signer_name, signer_position, signing_authority, page_count, recipients, deadline, unit_id, external_id, notes, \
    duplicate_of, created_by, created_at, updated_at";

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, password_hash, agency_id, unit_id, position, roles, \
    locked, failed_logins, password_changed_at, created_at";
