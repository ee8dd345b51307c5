//! Planner statistics on PostgreSQL. A fresh database has none, and autovacuum looks at a table
//! at most once a minute (`autovacuum_naptime`) and analyses it only after 50 rows + 10 % have
//! changed. Until then the planner guesses, and for the data-dependent queries (duplicate check,
//! listings, job leasing) its guess on a table that grew from empty to thousands of rows in
//! seconds is an index that filters every incoming document. This keeper runs `ANALYZE` itself
//! on tables that were never analysed or changed much since, checked every few seconds.

use super::{Backend, Db, StorageResult};

/// Rows a table needs before it is analysed: a handful of rows tell the planner nothing, and a
/// small table is cheap to scan whatever the plan. This also leaves alone the one-row tables
/// that are updated on every write (`audit_head`, `series_counters`, `search_change_head`):
/// their change counters grow fast, and analysing them only invalidates every connection's
/// cached plans.
const FIRST_AT: f64 = 200.0;
/// Changed rows since the last analysis that trigger another: at least this many …
const MIN_CHANGES: f64 = 500.0;
/// … and at least this fraction of the table. Autovacuum's default is 10 %, which on a table
/// growing by thousands of rows a second means an `ANALYZE` (200 ms at 40k documents) every
/// two seconds; plans change when a table grows by orders of magnitude, so the keeper waits
/// until it has doubled.
const CHANGE_FRACTION: f64 = 1.0;

/// The keeper's sample: `ANALYZE` reads 300 × this many rows. PostgreSQL's default of 100
/// (30,000 rows) took 100–200 ms of a core per table at 40k documents, every time a table
/// doubled, while registrations waited for the cores; a tenth of it still tells the planner
/// which index is selective. Autovacuum, where it runs, analyses with the full default later.
const STATISTICS_TARGET: u32 = 10;

/// Whether a table with these counters needs `ANALYZE` (pure; `reltuples` < 0: never analysed).
pub fn needs_analyze(reltuples: f64, live: f64, changed_since: f64) -> bool {
    if live < FIRST_AT {
        return false;
    }
    if reltuples < 0.0 {
        return true;
    }
    changed_since >= MIN_CHANGES && changed_since >= CHANGE_FRACTION * reltuples
}

impl Db {
    /// Analyses the tables of the current schema whose statistics are missing or stale (see the
    /// module doc), and returns their names. Does nothing on SQLite, whose queries here are
    /// planned from the indexes alone.
    pub async fn refresh_statistics(&self) -> StorageResult<Vec<String>> {
        if self.backend != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, f64, i64, i64)> = sqlx::query_as(
            "SELECT s.relname::TEXT, c.reltuples::FLOAT8, s.n_live_tup, s.n_mod_since_analyze \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema()",
        )
        .persistent(false)
        .fetch_all(&self.write)
        .await?;
        let mut analysed = Vec::new();
        for (table, reltuples, live, changed) in rows {
            if !needs_analyze(reltuples, live as f64, changed as f64) {
                continue;
            }
            // The name comes from the catalog; quote it anyway.
            let quoted = format!("\"{}\"", table.replace('"', "\"\""));
            let mut tx = self.write.begin().await?;
            sqlx::query(&format!("SET LOCAL default_statistics_target = {STATISTICS_TARGET}"))
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            sqlx::query(&format!("ANALYZE {quoted}"))
                .persistent(false)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            analysed.push(table);
        }
        Ok(analysed)
    }
}

#[cfg(test)]
mod tests {
    use super::needs_analyze;

    #[test]
    fn fresh_tables_are_analysed_once_they_hold_some_rows() {
        assert!(!needs_analyze(-1.0, 0.0, 0.0));
        assert!(!needs_analyze(-1.0, 199.0, 199.0));
        assert!(needs_analyze(-1.0, 200.0, 200.0));
    }

    #[test]
    fn one_row_tables_updated_on_every_write_are_left_alone() {
        assert!(!needs_analyze(-1.0, 1.0, 300.0));
        assert!(!needs_analyze(1.0, 1.0, 1_000_000.0));
    }

    #[test]
    fn analysed_tables_again_once_they_doubled() {
        assert!(!needs_analyze(200.0, 600.0, 499.0));
        assert!(needs_analyze(200.0, 700.0, 500.0));
        assert!(!needs_analyze(10_000.0, 19_000.0, 9_999.0));
        assert!(needs_analyze(10_000.0, 20_000.0, 10_000.0));
    }
}
