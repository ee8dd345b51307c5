//! Agencies and their unit trees.

use super::rows::{Agency, NewAgency, NewUnit, Unit};
use super::{audit, Db, StorageResult};
use crate::audit::NewAuditEntry;

const AGENCY_COLUMNS: &str = "id, agency_id, parent_id, name, abbreviation, created_at";

impl Db {
    /// Creates an agency with its default number series: one shared outgoing series and the
    /// incoming register (sổ đăng ký văn bản đến).
    pub async fn create_agency(&self, a: &NewAgency, now_ms: i64, audit_entry: NewAuditEntry) -> StorageResult<Agency> {
        let mut tx = self.begin_write().await?;
        let agency: Agency = sqlx::query_as(
            "INSERT INTO agencies (code, name, abbreviation, parent_name, place_name, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, code, name, abbreviation, parent_name, place_name, created_at",
        )
        .bind(&a.code)
        .bind(&a.name)
        .bind(&a.abbreviation)
        .bind(&a.parent_name)
        .bind(&a.place_name)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        for (code, name, direction) in [
            ("di", "Số văn bản đi (chung)", "outgoing"),
            ("den", "Sổ đăng ký văn bản đến", "incoming"),
        ] {
            sqlx::query(
                "INSERT INTO number_series (agency_id, code, name, direction, document_types, advisory_body, created_at) \
                 VALUES ($1, $2, $3, $4, '*', NULL, $5)",
            )
            .bind(agency.id)
            .bind(code)
            .bind(name)
            .bind(direction)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        let mut entry = audit_entry;
        entry.target_id = Some(agency.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(agency)
    }

    pub async fn agencies(&self) -> StorageResult<Vec<Agency>> {
        Ok(sqlx::query_as(
            "SELECT id, code, name, abbreviation, parent_name, place_name, created_at FROM agencies ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn agency(&self, id: i64) -> StorageResult<Agency> {
        Ok(sqlx::query_as(
            "SELECT id, code, name, abbreviation, parent_name, place_name, created_at FROM agencies WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&self.read)
        .await?)
    }

    pub async fn agency_by_code(&self, code: &str) -> StorageResult<Agency> {
        Ok(sqlx::query_as(
            "SELECT id, code, name, abbreviation, parent_name, place_name, created_at FROM agencies WHERE code = $1",
        )
        .bind(code)
        .fetch_one(&self.read)
        .await?)
    }

    pub async fn create_unit(&self, u: &NewUnit, now_ms: i64, audit_entry: NewAuditEntry) -> StorageResult<Unit> {
        let mut tx = self.begin_write().await?;
        if let Some(parent) = u.parent_id {
            let (parent_agency,): (i64,) = sqlx::query_as("SELECT agency_id FROM units WHERE id = $1")
                .bind(parent)
                .fetch_one(&mut *tx)
                .await?;
            if parent_agency != u.agency_id {
                return Err(super::StorageError::Conflict(
                    "parent unit belongs to another agency".into(),
                ));
            }
        }
        let unit: Unit = sqlx::query_as(&format!(
            "INSERT INTO units (agency_id, parent_id, name, abbreviation, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {AGENCY_COLUMNS}"
        ))
        .bind(u.agency_id)
        .bind(u.parent_id)
        .bind(&u.name)
        .bind(&u.abbreviation)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.target_id = Some(unit.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(unit)
    }

    pub async fn units(&self, agency_id: i64) -> StorageResult<Vec<Unit>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {AGENCY_COLUMNS} FROM units WHERE agency_id = $1 ORDER BY id"
        ))
        .bind(agency_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn unit(&self, id: i64) -> StorageResult<Unit> {
        Ok(
            sqlx::query_as(&format!("SELECT {AGENCY_COLUMNS} FROM units WHERE id = $1"))
                .bind(id)
                .fetch_one(&self.read)
                .await?,
        )
    }
}
