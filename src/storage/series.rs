//! Number series and their yearly counters. A counter row per (series, year) is incremented
//! inside the transaction that uses the number, so a rolled-back transaction gives its number
//! back and a committed one can never be handed out again: gapless and never reused.

use sqlx::AnyConnection;

use super::rows::{NewSeries, NumberSeries};
use super::{audit, Db, StorageError, StorageResult};
use crate::audit::NewAuditEntry;

const SERIES_COLUMNS: &str = "id, agency_id, code, name, direction, document_types, advisory_body, created_at";

/// Takes the next number of `series_id` for `year` inside the caller's transaction. The row lock
/// taken by the UPDATE is held until commit, which serialises concurrent registrations.
pub(crate) async fn next_number(conn: &mut AnyConnection, series_id: i64, year: i64) -> StorageResult<i64> {
    take_numbers(conn, series_id, year, 1).await
}

/// Takes `count` consecutive numbers and returns the last of them.
pub(crate) async fn take_numbers(
    conn: &mut AnyConnection,
    series_id: i64,
    year: i64,
    count: i64,
) -> StorageResult<i64> {
    for _ in 0..2 {
        let next: Option<(i64,)> = sqlx::query_as(
            "UPDATE series_counters SET last_number = last_number + $3 WHERE series_id = $1 AND year = $2 RETURNING last_number",
        )
        .bind(series_id)
        .bind(year)
        .bind(count)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((n,)) = next {
            return Ok(n);
        }
        sqlx::query(
            "INSERT INTO series_counters (series_id, year, last_number) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
        )
        .bind(series_id)
        .bind(year)
        .execute(&mut *conn)
        .await?;
    }
    Err(StorageError::Corrupt(format!(
        "counter for series {series_id}/{year} could not be created"
    )))
}

/// Picks the series for a document type: the one listing the type explicitly, else the one
/// with `*`. Advisory-body series are only used when asked for by id.
pub fn choose<'a>(series: &'a [NumberSeries], direction: &str, document_type: &str) -> Option<&'a NumberSeries> {
    let candidates = series
        .iter()
        .filter(|s| s.direction == direction && s.advisory_body.is_none());
    let mut wildcard = None;
    for s in candidates {
        if s.document_types.split(',').any(|t| t.trim() == document_type) {
            return Some(s);
        }
        if s.document_types.trim() == "*" && wildcard.is_none() {
            wildcard = Some(s);
        }
    }
    wildcard
}

impl Db {
    pub async fn series(&self, agency_id: i64) -> StorageResult<Vec<NumberSeries>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM number_series WHERE agency_id = $1 ORDER BY id"
        ))
        .bind(agency_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn create_series(
        &self,
        s: &NewSeries,
        now_ms: i64,
        audit_entry: NewAuditEntry,
    ) -> StorageResult<NumberSeries> {
        let mut tx = self.begin_write().await?;
        let created: NumberSeries = sqlx::query_as(&format!(
            "INSERT INTO number_series (agency_id, code, name, direction, document_types, advisory_body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SERIES_COLUMNS}"
        ))
        .bind(s.agency_id)
        .bind(&s.code)
        .bind(&s.name)
        .bind(&s.direction)
        .bind(&s.document_types)
        .bind(&s.advisory_body)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.target_id = Some(created.id.to_string());
        audit::append(&mut tx, &[entry]).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The last number used per year of a series (for the admin view).
    pub async fn series_counters(&self, series_id: i64) -> StorageResult<Vec<(i64, i64)>> {
        Ok(
            sqlx::query_as("SELECT year, last_number FROM series_counters WHERE series_id = $1 ORDER BY year DESC")
                .bind(series_id)
                .fetch_all(&self.read)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: i64, direction: &str, types: &str, advisory: Option<&str>) -> NumberSeries {
        NumberSeries {
            id,
            agency_id: 1,
            code: format!("s{id}"),
            name: String::new(),
            direction: direction.into(),
            document_types: types.into(),
            advisory_body: advisory.map(Into::into),
            created_at: 0,
        }
    }

    #[test]
    fn explicit_type_beats_wildcard_and_advisory_series_are_skipped() {
        let all = vec![
            s(1, "outgoing", "*", None),
            s(2, "outgoing", "quyet_dinh,chi_thi", None),
            s(3, "outgoing", "*", Some("Hội đồng thi đua")),
            s(4, "incoming", "*", None),
        ];
        assert_eq!(choose(&all, "outgoing", "quyet_dinh").map(|s| s.id), Some(2));
        assert_eq!(choose(&all, "outgoing", "cong_van").map(|s| s.id), Some(1));
        assert_eq!(choose(&all, "incoming", "cong_van").map(|s| s.id), Some(4));
        assert_eq!(choose(&all[1..3], "outgoing", "cong_van").map(|s| s.id), None);
    }
}
