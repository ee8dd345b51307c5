//! Documents, their numbers and their files.

use super::rows::{Document, DocumentFile, DocumentRow, DOCUMENT_COLUMNS};
use super::{audit, jobs, search, series, Db, StorageError, StorageResult};
use crate::audit::NewAuditEntry;
use crate::auth::ReadScope;
use crate::model::ValidDocument;

/// Where an incoming document is entered: the register (an incoming series), the year and date.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub series_id: i64,
    pub year: i64,
    pub arrived_on: String,
}

/// A document to insert, with everything decided before the write transaction: owner, status,
/// register (for an incoming document registered by a clerk), flagged duplicates and the audit
/// entry (its target and details are filled in by storage).
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub agency_id: i64,
    pub doc: ValidDocument,
    pub status: String,
    pub created_by: Option<i64>,
    pub arrival: Option<Arrival>,
    pub duplicates: Vec<i64>,
    /// Look for earlier duplicates inside the write transaction (batched with the other
    /// documents of the batch) and add them to `duplicates`.
    pub check_duplicates: bool,
    pub now_ms: i64,
    pub audit_entry: NewAuditEntry,
}

/// The outcome of creating a document.
#[derive(Clone, Debug)]
pub struct Registration {
    pub document: Document,
    /// Earlier documents with the same identifier or the same (number, symbol, issuer).
    pub duplicates: Vec<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub direction: Option<String>,
    pub document_type: Option<String>,
    pub status: Option<String>,
    pub urgency: Option<String>,
    pub unit_id: Option<i64>,
    pub issued_from: Option<String>,
    pub issued_to: Option<String>,
    pub arrived_from: Option<String>,
    pub arrived_to: Option<String>,
    /// Case-insensitive substring of the subject, number/symbol or issuer.
    pub text: Option<String>,
    pub limit: i64,
    pub offset: i64,
    pub sort: SortOrder,
}

#[derive(Clone, Debug)]
pub struct NewFile {
    pub document_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub object_key: String,
    pub created_by: Option<i64>,
}

/// A value bound into a dynamically built query.
enum Bind {
    I(i64),
    S(String),
}

struct Where {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn new() -> Self {
        Self {
            clauses: Vec::new(),
            binds: Vec::new(),
        }
    }
    fn next(&self) -> usize {
        self.binds.len() + 1
    }
    fn push(&mut self, clause: impl FnOnce(usize) -> String, bind: Bind) {
        let c = clause(self.next());
        self.clauses.push(c);
        self.binds.push(bind);
    }
    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

fn scope_where(w: &mut Where, scope: &ReadScope) {
    match scope {
        ReadScope::Agency { agency_id } => w.push(|n| format!("agency_id = ${n}"), Bind::I(*agency_id)),
        ReadScope::Units {
            agency_id,
            unit_ids,
            user_id,
        } => {
            w.push(|n| format!("agency_id = ${n}"), Bind::I(*agency_id));
            let mut parts = Vec::new();
            let n = w.next();
            parts.push(format!("created_by = ${n}"));
            w.binds.push(Bind::I(*user_id));
            for u in unit_ids {
                let n = w.next();
                parts.push(format!("unit_id = ${n}"));
                w.binds.push(Bind::I(*u));
            }
            w.clauses.push(format!("({})", parts.join(" OR ")));
        }
        ReadScope::Nothing => w.clauses.push("1 = 0".into()),
    }
}

/// Columns a registration writes, in bind order (see [`bind_document`]).
const INSERT_COLUMNS: &str = "id, agency_id, direction, document_type, status, subject, number, symbol, year, issuer_name, \
    issuer_code, issued_on, urgency, signer_name, signer_position, signing_authority, page_count, recipients, deadline, \
    unit_id, external_id, notes, duplicate_of, created_by, created_at, updated_at, search_text, arrival_number, \
    arrival_series_id, arrival_year, arrived_on";
const INSERT_ARITY: usize = 31;

/// Binds one document's values in [`INSERT_COLUMNS`] order. `id` is `None` on SQLite, where
/// the row id is chosen by the single writer.
fn bind_document<'q>(
    q: sqlx::query::QueryAs<'q, sqlx::Any, DocumentRow, sqlx::any::AnyArguments<'q>>,
    id: Option<i64>,
    item: &'q NewDocument,
    arrival_number: Option<i64>,
) -> StorageResult<sqlx::query::QueryAs<'q, sqlx::Any, DocumentRow, sqlx::any::AnyArguments<'q>>> {
    let doc = &item.doc;
    let recipients = serde_json::to_string(&doc.recipients).map_err(|e| StorageError::Other(e.to_string()))?;
    let arrival = item.arrival.as_ref();
    Ok(q.bind(id)
        .bind(item.agency_id)
        .bind(doc.direction.code())
        .bind(&doc.document_type)
        .bind(&item.status)
        .bind(&doc.subject)
        .bind(doc.number)
        .bind(&doc.symbol)
        .bind(doc.issued_on.map(|d| i64::from(chrono::Datelike::year(&d))))
        .bind(&doc.issuer_name)
        .bind(&doc.issuer_code)
        .bind(doc.issued_on.map(|d| d.to_string()))
        .bind(doc.urgency.code())
        .bind(&doc.signer_name)
        .bind(&doc.signer_position)
        .bind(doc.signing_authority.map(|a| a.code()))
        .bind(doc.page_count)
        .bind(recipients)
        .bind(doc.deadline.map(|d| d.to_string()))
        .bind(doc.unit_id)
        .bind(&doc.external_id)
        .bind(&doc.notes)
        .bind(item.duplicates.first().copied())
        .bind(item.created_by)
        .bind(item.now_ms)
        .bind(item.now_ms)
        .bind(search_text(&[
            Some(&doc.subject),
            doc.symbol.as_deref(),
            doc.issuer_name.as_deref(),
        ]))
        .bind(arrival_number)
        .bind(arrival.map(|a| a.series_id))
        .bind(arrival.map(|a| a.year))
        .bind(arrival.map(|a| a.arrived_on.clone())))
}

/// `($1, …, $31), ($32, …)` for `rows` rows (`?` on SQLite, see [`super::placeholder`]).
fn values_placeholders(postgres: bool, rows: usize) -> String {
    let mut sql = String::with_capacity(rows * INSERT_ARITY * 5);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..INSERT_ARITY {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&super::placeholder(postgres, r * INSERT_ARITY + c + 1));
        }
        sql.push(')');
    }
    sql
}

/// Inserts the documents and returns their rows in input order.
///
/// The ids are taken first and the rows go in multi-row INSERTs (one statement per
/// [`super::fixed_chunks`] chunk: on PostgreSQL each statement is a round trip and a parse, on
/// SQLite a hand-off to the connection's thread). On PostgreSQL the ids come from the identity
/// sequence; on SQLite from `MAX(id)`, which is safe because the write transaction began with
/// `BEGIN IMMEDIATE` and holds the database's write lock (the table has no AUTOINCREMENT, so
/// this is the id SQLite itself would pick). The returned rows are matched to their inputs by
/// id (RETURNING order is not guaranteed).
async fn insert_documents(
    conn: &mut sqlx::AnyConnection,
    items: &[(&NewDocument, Option<i64>)],
) -> StorageResult<Vec<DocumentRow>> {
    let postgres = conn.backend_name() == "PostgreSQL";
    let mut ids: Vec<i64> = if postgres {
        sqlx::query_as::<_, (i64,)>(
            "SELECT nextval(pg_get_serial_sequence('documents', 'id')) FROM generate_series(1, $1)",
        )
        .bind(items.len() as i64)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect()
    } else {
        let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM documents")
            .fetch_one(&mut *conn)
            .await?;
        (1..=items.len() as i64).map(|i| max + i).collect()
    };
    if ids.len() != items.len() {
        return Err(StorageError::Corrupt("the id sequence returned too few values".into()));
    }
    ids.sort_unstable();
    let mut by_id = std::collections::HashMap::with_capacity(items.len());
    for (start, size) in super::fixed_chunks(items.len()) {
        let sql = format!(
            "INSERT INTO documents ({INSERT_COLUMNS}) VALUES {} RETURNING {DOCUMENT_COLUMNS}",
            values_placeholders(postgres, size)
        );
        let mut q = sqlx::query_as::<_, DocumentRow>(&sql);
        for (i, (item, arrival_number)) in items[start..start + size].iter().enumerate() {
            q = bind_document(q, Some(ids[start + i]), item, *arrival_number)?;
        }
        for row in q.fetch_all(&mut *conn).await? {
            by_id.insert(row.id, row);
        }
    }
    ids.iter()
        .map(|id| {
            by_id
                .remove(id)
                .ok_or_else(|| StorageError::Corrupt(format!("inserted document {id} not returned")))
        })
        .collect()
}

/// Lookups per duplicate-check statement (each a `UNION ALL` branch; SQLite allows 500).
const DUPLICATE_CHUNK: usize = 100;

/// The duplicate check for several incoming documents in one statement: one `UNION ALL`
/// branch per lookup, each exactly the single-document query of [`Db::find_duplicates`] (so
/// each is planned on its own partial index), tagged with the item's position. Returns, per
/// item, the earlier documents it duplicates (sorted, at most 10).
async fn find_duplicates_batch(
    conn: &mut sqlx::AnyConnection,
    docs: &[(i64, &ValidDocument)],
) -> StorageResult<Vec<Vec<i64>>> {
    // (item, agency, lookup): a (number, symbol, issuer) lookup or an external-id lookup.
    enum Lookup<'a> {
        Reference(i64, &'a str, &'a str),
        External(&'a str),
    }
    let mut lookups: Vec<(usize, i64, Lookup)> = Vec::new();
    for (i, (agency_id, doc)) in docs.iter().enumerate() {
        if doc.direction != crate::model::Direction::Incoming {
            continue;
        }
        if let (Some(number), Some(symbol), Some(issuer)) = (doc.number, &doc.symbol, &doc.issuer_name) {
            lookups.push((i, *agency_id, Lookup::Reference(number, symbol, issuer)));
        }
        if let Some(external_id) = doc.external_id.as_deref().filter(|s| !s.is_empty()) {
            lookups.push((i, *agency_id, Lookup::External(external_id)));
        }
    }
    let postgres = conn.backend_name() == "PostgreSQL";
    let ph = |n: usize| super::placeholder(postgres, n);
    let mut out: Vec<Vec<i64>> = vec![Vec::new(); docs.len()];
    for chunk in lookups.chunks(DUPLICATE_CHUNK) {
        let mut sql = String::new();
        let mut n = 0usize;
        for (item, _, lookup) in chunk {
            if !sql.is_empty() {
                sql.push_str(" UNION ALL ");
            }
            match lookup {
                Lookup::Reference(..) => sql.push_str(&format!(
                    "SELECT {item}, id FROM documents WHERE agency_id = {} AND number = {} AND symbol = {} \
                     AND issuer_name = {} AND direction = 'incoming'",
                    ph(n + 1),
                    ph(n + 2),
                    ph(n + 3),
                    ph(n + 4)
                )),
                Lookup::External(_) => sql.push_str(&format!(
                    "SELECT {item}, id FROM documents WHERE agency_id = {} AND external_id = {} \
                     AND direction = 'incoming' AND external_id IS NOT NULL",
                    ph(n + 1),
                    ph(n + 2)
                )),
            }
            n += match lookup {
                Lookup::Reference(..) => 4,
                Lookup::External(_) => 2,
            };
        }
        let mut q = sqlx::query_as::<_, (i64, i64)>(&sql).persistent(false);
        for (_, agency_id, lookup) in chunk {
            q = q.bind(*agency_id);
            q = match lookup {
                Lookup::Reference(number, symbol, issuer) => q.bind(*number).bind(*symbol).bind(*issuer),
                Lookup::External(external_id) => q.bind(*external_id),
            };
        }
        for (item, id) in q.fetch_all(&mut *conn).await? {
            if let Some(v) = usize::try_from(item).ok().and_then(|i| out.get_mut(i)) {
                v.push(id);
            }
        }
    }
    for v in &mut out {
        v.sort_unstable();
        v.dedup();
        v.truncate(10);
    }
    Ok(out)
}

/// The text the substring filter searches: subject, symbol and issuer, lower-cased by Rust
/// (Unicode-aware; SQLite's `LOWER()` folds only A-Z), one field per line.
fn search_text(fields: &[Option<&str>]) -> String {
    fields
        .iter()
        .flatten()
        .map(|f| f.to_lowercase())
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Bind::I(i) => q.bind(*i),
                Bind::S(s) => q.bind(s.clone()),
            };
        }
        q
    }};
}

impl Db {
    /// Creates a document. For an incoming document registered by a clerk, `arrival` gives the
    /// register, and the arrival number (số đến) is taken in the same transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_document(
        &self,
        agency_id: i64,
        doc: &ValidDocument,
        status: &str,
        created_by: Option<i64>,
        arrival: Option<Arrival>,
        now_ms: i64,
        audit_entry: NewAuditEntry,
    ) -> StorageResult<Registration> {
        let duplicates = self.find_duplicates(agency_id, doc).await?;
        let item = NewDocument {
            agency_id,
            doc: doc.clone(),
            status: status.to_string(),
            created_by,
            arrival,
            duplicates,
            check_duplicates: false,
            now_ms,
            audit_entry,
        };
        let mut out = self.create_documents(std::slice::from_ref(&item)).await?;
        out.pop()
            .ok_or_else(|| StorageError::Corrupt("batch returned no row".into()))
    }

    /// Creates several documents in one transaction (group commit): one counter update per
    /// register, one audit-chain append and one commit for the whole batch. All or nothing.
    pub async fn create_documents(&self, items: &[NewDocument]) -> StorageResult<Vec<Registration>> {
        let mut tx = self.begin_write().await?;
        // The duplicate check, for the documents that ask for it: one statement for the batch,
        // inside the transaction (so it sees every document committed before this batch).
        let checked: Vec<(i64, &ValidDocument)> = items
            .iter()
            .filter(|i| i.check_duplicates)
            .map(|i| (i.agency_id, &i.doc))
            .collect();
        let mut found = if checked.is_empty() {
            Vec::new()
        } else {
            find_duplicates_batch(&mut tx, &checked).await?
        }
        .into_iter();
        let with_duplicates: Vec<NewDocument>;
        let items: &[NewDocument] = if checked.is_empty() {
            items
        } else {
            with_duplicates = items
                .iter()
                .map(|i| {
                    let mut i = i.clone();
                    if i.check_duplicates {
                        i.duplicates.extend(found.next().unwrap_or_default());
                        i.duplicates.sort_unstable();
                        i.duplicates.dedup();
                        i.duplicates.truncate(10);
                    }
                    i
                })
                .collect();
            &with_duplicates
        };
        // Numbers first, one counter update per (register, year), in a fixed order so that two
        // processes never wait on each other's counters in opposite orders.
        let mut wanted: std::collections::BTreeMap<(i64, i64), i64> = std::collections::BTreeMap::new();
        for a in items.iter().filter_map(|i| i.arrival.as_ref()) {
            *wanted.entry((a.series_id, a.year)).or_default() += 1;
        }
        let mut next: std::collections::BTreeMap<(i64, i64), i64> = std::collections::BTreeMap::new();
        for (&(series_id, year), &count) in &wanted {
            let last = series::take_numbers(&mut tx, series_id, year, count).await?;
            next.insert((series_id, year), last - count + 1);
        }
        let mut numbered = Vec::with_capacity(items.len());
        for item in items {
            let arrival_number = match &item.arrival {
                Some(a) => {
                    let slot = next
                        .get_mut(&(a.series_id, a.year))
                        .ok_or_else(|| StorageError::Corrupt("no number reserved".into()))?;
                    let n = *slot;
                    *slot += 1;
                    Some(n)
                }
                None => None,
            };
            numbered.push((item, arrival_number));
        }
        let rows = insert_documents(&mut tx, &numbered).await?;
        let mut out = Vec::with_capacity(items.len());
        let mut entries = Vec::with_capacity(items.len());
        for ((item, arrival_number), row) in numbered.into_iter().zip(rows) {
            let mut details =
                serde_json::json!({"direction": item.doc.direction.code(), "document_type": item.doc.document_type});
            if let Some(n) = arrival_number {
                details["arrival_number"] = n.into();
            }
            if !item.duplicates.is_empty() {
                details["duplicate_of"] = item.duplicates.clone().into();
            }
            let mut entry = item.audit_entry.clone();
            entry.target_id = Some(row.id.to_string());
            entry.details = details.to_string();
            entries.push(entry);
            out.push(Registration {
                document: row.into(),
                duplicates: item.duplicates.clone(),
            });
        }
        let ids: Vec<i64> = out.iter().map(|r| r.document.id).collect();
        search::log_changes(&mut tx, &ids, items.first().map_or(0, |i| i.now_ms)).await?;
        audit::append(&mut tx, &entries).await?;
        let registered: Vec<i64> = out
            .iter()
            .filter(|r| r.document.status == "registered")
            .map(|r| r.document.id)
            .collect();
        super::archive::enqueue_archive(
            &mut tx,
            &registered,
            "registered",
            items.first().map_or(0, |i| i.now_ms),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Earlier incoming documents with the same identifier, or the same (number, symbol, issuer)
    /// (PL VI §III.1.h). Two index lookups, never a scan of the agency's documents.
    ///
    /// Queries whose best index depends on the data are sent unnamed (`persistent(false)`), so
    /// PostgreSQL plans them with the real parameters and current table size each time; a generic
    /// plan cached while the table was empty would scan the whole agency for the connection's life.
    ///
    /// Each lookup's predicate is exactly the columns of its partial index (migration 0002) and
    /// has no `ORDER BY … LIMIT`: with an ordering clause, PostgreSQL without statistics preferred
    /// walking `documents_listing` in id order and filtering every incoming document. Duplicates
    /// are few, so they are sorted and capped here.
    pub async fn find_duplicates(&self, agency_id: i64, doc: &ValidDocument) -> StorageResult<Vec<i64>> {
        let mut ids: Vec<i64> = Vec::new();
        if let (Some(number), Some(symbol), Some(issuer)) = (doc.number, &doc.symbol, &doc.issuer_name) {
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT id FROM documents WHERE agency_id = $1 AND number = $2 AND symbol = $3 AND issuer_name = $4 \
                 AND direction = 'incoming'",
            )
            .persistent(false)
            .bind(agency_id)
            .bind(number)
            .bind(symbol)
            .bind(issuer)
            .fetch_all(&self.read)
            .await?;
            ids.extend(rows.into_iter().map(|r| r.0));
        }
        if let Some(external_id) = doc.external_id.as_deref().filter(|s| !s.is_empty()) {
            let rows: Vec<(i64,)> = sqlx::query_as(
                "SELECT id FROM documents WHERE agency_id = $1 AND external_id = $2 AND direction = 'incoming' \
                 AND external_id IS NOT NULL",
            )
            .persistent(false)
            .bind(agency_id)
            .bind(external_id)
            .fetch_all(&self.read)
            .await?;
            ids.extend(rows.into_iter().map(|r| r.0));
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(10);
        Ok(ids)
    }

    pub async fn document(&self, id: i64) -> StorageResult<Document> {
        let row: DocumentRow = sqlx::query_as(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        Ok(row.into())
    }

    /// Gives an outgoing draft its number from `series_id` for `year`, with `symbol`, and marks it
    /// issued on `issued_on`. Fails with `Conflict` when the document is no longer a draft.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_number(
        &self,
        id: i64,
        series_id: i64,
        year: i64,
        symbol: &str,
        issued_on: &str,
        now_ms: i64,
        audit_entry: NewAuditEntry,
    ) -> StorageResult<Document> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE documents SET updated_at = $2 WHERE id = $1 AND direction = 'outgoing' AND status = 'draft'",
        )
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(StorageError::Conflict("document is not an outgoing draft".into()));
        }
        let n = series::next_number(&mut tx, series_id, year).await?;
        sqlx::query(
            "UPDATE documents SET number = $2, symbol = $3, year = $4, series_id = $5, issued_on = $6, status = 'issued' WHERE id = $1",
        )
        .bind(id)
        .bind(n)
        .bind(symbol)
        .bind(year)
        .bind(series_id)
        .bind(issued_on)
        .execute(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.target_id = Some(id.to_string());
        entry.details =
            serde_json::json!({"number": n, "symbol": symbol, "year": year, "series_id": series_id}).to_string();
        search::log_changes(&mut tx, &[id], now_ms).await?;
        audit::append(&mut tx, &[entry]).await?;
        super::archive::enqueue_archive(&mut tx, &[id], "issued", now_ms).await?;
        let row: DocumentRow = sqlx::query_as(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Recalls (thu hồi) an issued or registered document. Its number stays taken.
    pub async fn recall_document(&self, id: i64, now_ms: i64, audit_entry: NewAuditEntry) -> StorageResult<Document> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE documents SET status = 'recalled', updated_at = $2 WHERE id = $1 AND status IN ('issued', 'registered')")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StorageError::Conflict(
                "only an issued or registered document can be recalled".into(),
            ));
        }
        search::log_changes(&mut tx, &[id], now_ms).await?;
        audit::append(&mut tx, &[audit_entry]).await?;
        let row: DocumentRow = sqlx::query_as(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Documents visible in `scope` matching `filter`, and the total count.
    pub async fn list_documents(
        &self,
        scope: &ReadScope,
        filter: &DocumentFilter,
    ) -> StorageResult<(Vec<Document>, i64)> {
        let mut w = Where::new();
        scope_where(&mut w, scope);
        let eq = |w: &mut Where, col: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                w.push(|n| format!("{col} = ${n}"), Bind::S(v.clone()));
            }
        };
        eq(&mut w, "direction", &filter.direction);
        eq(&mut w, "document_type", &filter.document_type);
        eq(&mut w, "status", &filter.status);
        eq(&mut w, "urgency", &filter.urgency);
        if let Some(u) = filter.unit_id {
            w.push(|n| format!("unit_id = ${n}"), Bind::I(u));
        }
        let range = |w: &mut Where, col: &'static str, op: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                w.push(|n| format!("{col} {op} ${n}"), Bind::S(v.clone()));
            }
        };
        range(&mut w, "issued_on", ">=", &filter.issued_from);
        range(&mut w, "issued_on", "<=", &filter.issued_to);
        range(&mut w, "arrived_on", ">=", &filter.arrived_from);
        range(&mut w, "arrived_on", "<=", &filter.arrived_to);
        if let Some(t) = filter.text.as_ref().filter(|t| !t.is_empty()) {
            let escaped = t
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            w.push(
                |n| format!("search_text LIKE ${n} ESCAPE '\\'"),
                Bind::S(format!("%{escaped}%")),
            );
        }
        let where_sql = w.sql();
        let order = match filter.sort {
            SortOrder::NewestFirst => "id DESC",
            SortOrder::OldestFirst => "id ASC",
        };
        let n = w.next();
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {where_sql} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let q = bind_all!(sqlx::query_as::<_, DocumentRow>(&sql).persistent(false), &w.binds);
        let rows = q.bind(filter.limit).bind(filter.offset).fetch_all(&self.read).await?;
        let count_sql = format!("SELECT COUNT(*) FROM documents WHERE {where_sql}");
        let (total,): (i64,) = bind_all!(sqlx::query_as::<_, (i64,)>(&count_sql).persistent(false), &w.binds)
            .fetch_one(&self.read)
            .await?;
        Ok((rows.into_iter().map(Into::into).collect(), total))
    }

    /// Register rows (sổ đăng ký) for a date range: incoming by arrival date and số đến,
    /// outgoing by issue date and number.
    pub async fn register_rows(
        &self,
        agency_id: i64,
        direction: &str,
        from: &str,
        to: &str,
    ) -> StorageResult<Vec<Document>> {
        let sql = if direction == "incoming" {
            format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE agency_id = $1 AND direction = 'incoming' AND arrival_number IS NOT NULL \
                 AND arrived_on >= $2 AND arrived_on <= $3 ORDER BY arrival_year, arrival_series_id, arrival_number"
            )
        } else {
            format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE agency_id = $1 AND direction = 'outgoing' AND number IS NOT NULL \
                 AND issued_on >= $2 AND issued_on <= $3 ORDER BY year, series_id, number"
            )
        };
        let rows: Vec<DocumentRow> = sqlx::query_as(&sql)
            .persistent(false)
            .bind(agency_id)
            .bind(from)
            .bind(to)
            .fetch_all(&self.read)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Records a stored file and queues its fixity check, in one transaction.
    pub async fn add_file(&self, f: &NewFile, now_ms: i64, audit_entry: NewAuditEntry) -> StorageResult<DocumentFile> {
        let mut tx = self.begin_write().await?;
        let file: DocumentFile = sqlx::query_as(
            "INSERT INTO document_files (document_id, filename, content_type, size_bytes, sha256, object_key, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, document_id, filename, content_type, size_bytes, sha256, object_key, \
             verified_at, created_by, created_at",
        )
        .bind(f.document_id)
        .bind(&f.filename)
        .bind(&f.content_type)
        .bind(f.size_bytes)
        .bind(&f.sha256)
        .bind(&f.object_key)
        .bind(f.created_by)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let mut entry = audit_entry;
        entry.details = serde_json::json!({"file_id": file.id, "filename": file.filename, "sha256": file.sha256, "size": file.size_bytes}).to_string();
        search::log_changes(&mut tx, &[f.document_id], now_ms).await?;
        audit::append(&mut tx, &[entry]).await?;
        jobs::enqueue(
            &mut tx,
            "file.verify",
            &format!("file.verify:{}", file.id),
            &serde_json::json!({"file_id": file.id}).to_string(),
            now_ms,
            now_ms,
        )
        .await?;
        super::archive::enqueue_archive(&mut tx, &[file.document_id], &format!("file-{}", file.id), now_ms).await?;
        tx.commit().await?;
        Ok(file)
    }

    pub async fn files(&self, document_id: i64) -> StorageResult<Vec<DocumentFile>> {
        Ok(sqlx::query_as(
            "SELECT id, document_id, filename, content_type, size_bytes, sha256, object_key, verified_at, created_by, created_at \
             FROM document_files WHERE document_id = $1 ORDER BY id",
        )
        .bind(document_id)
        .fetch_all(&self.read)
        .await?)
    }

    pub async fn file(&self, file_id: i64) -> StorageResult<DocumentFile> {
        Ok(sqlx::query_as(
            "SELECT id, document_id, filename, content_type, size_bytes, sha256, object_key, verified_at, created_by, created_at \
             FROM document_files WHERE id = $1",
        )
        .bind(file_id)
        .fetch_one(&self.read)
        .await?)
    }

    pub async fn mark_file_verified(&self, file_id: i64, now_ms: i64) -> StorageResult<()> {
        sqlx::query("UPDATE document_files SET verified_at = $2 WHERE id = $1")
            .bind(file_id)
            .bind(now_ms)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Count of documents per direction (for metrics and the demo banner).
    pub async fn document_count(&self) -> StorageResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM documents")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }
}
