//! The mock axis's own SQLite database (`DIR/axis.sqlite`), separate from vanthu's: packets
//! (bodies are files under the data dir), per-receiver deliveries (the inboxes and the senders'
//! delivery lists) and the agency directory. The schema is embedded and created on open.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{StorageError, StorageResult};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS axis_packets (
        id TEXT PRIMARY KEY,
        sender_system TEXT NOT NULL,
        message_type TEXT NOT NULL,
        from_code TEXT NOT NULL,
        document_id TEXT,
        title TEXT NOT NULL,
        notation TEXT NOT NULL,
        status_code TEXT,
        body_path TEXT NOT NULL,
        body_len INTEGER NOT NULL,
        body_sha256 TEXT NOT NULL,
        created_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS axis_packets_sender ON axis_packets (sender_system, message_type, created_ms)",
    "CREATE INDEX IF NOT EXISTS axis_packets_document ON axis_packets (document_id)",
    "CREATE TABLE IF NOT EXISTS axis_deliveries (
        doc_id TEXT PRIMARY KEY,
        packet_id TEXT NOT NULL REFERENCES axis_packets (id),
        receiver_system TEXT,
        to_code TEXT NOT NULL,
        message_type TEXT NOT NULL,
        send_status TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        received_ms INTEGER,
        last_status_code TEXT)",
    "CREATE INDEX IF NOT EXISTS axis_deliveries_inbox ON axis_deliveries (receiver_system, message_type, state, created_ms)",
    "CREATE INDEX IF NOT EXISTS axis_deliveries_packet ON axis_deliveries (packet_id)",
    "CREATE TABLE IF NOT EXISTS axis_agencies (
        code TEXT PRIMARY KEY,
        pcode TEXT NOT NULL,
        name TEXT NOT NULL,
        mail TEXT NOT NULL,
        mobile TEXT NOT NULL,
        fax TEXT NOT NULL,
        owner_system TEXT NOT NULL,
        from_tenants_file INTEGER NOT NULL,
        created_ms INTEGER NOT NULL)",
];

/// A packet accepted by `sendEdoc`.
#[derive(Clone, Debug)]
pub struct NewAxisPacket {
    pub id: String,
    pub sender_system: String,
    pub message_type: String,
    pub from_code: String,
    pub document_id: Option<String>,
    pub title: String,
    pub notation: String,
    pub status_code: Option<String>,
    pub body_path: String,
    pub body_len: i64,
    pub body_sha256: String,
    pub created_ms: i64,
}

/// One delivery of a packet to one receiving organ. `receiver_system` is `None` when no tenant
/// owns the organ (the delivery then fails and shows only in the sender's list).
#[derive(Clone, Debug)]
pub struct NewAxisDelivery {
    pub doc_id: String,
    pub receiver_system: Option<String>,
    pub to_code: String,
    pub send_status: String,
    pub state: String,
}

/// A status packet reported `code` on `document_id` from organ `reporter`: the sender's rows for
/// that document at that organ take it as their latest status.
#[derive(Clone, Debug)]
pub struct StatusReport {
    pub reporter: String,
    pub document_id: String,
    pub code: String,
}

#[derive(Clone, Debug)]
pub struct AxisInboxRow {
    pub doc_id: String,
    pub message_type: String,
    pub from_code: String,
    pub to_code: String,
    pub state: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub body_len: i64,
    pub body_sha256: String,
}

#[derive(Clone, Debug)]
pub struct AxisDeliveryBody {
    pub receiver_system: Option<String>,
    pub body_path: String,
    pub state: String,
}

#[derive(Clone, Debug)]
pub struct AxisSentRow {
    pub packet_id: String,
    pub doc_id: String,
    pub message_type: String,
    pub from_code: String,
    pub to_code: String,
    pub title: String,
    pub notation: String,
    pub created_ms: i64,
    pub received_ms: Option<i64>,
    pub send_status: String,
    pub state: String,
    pub last_status_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxisAgencyRow {
    pub code: String,
    pub pcode: String,
    pub name: String,
    pub mail: String,
    pub mobile: String,
    pub fax: String,
    pub owner_system: String,
    pub from_tenants_file: bool,
}

/// The mock axis's database: one writer connection, a few readers (WAL).
#[derive(Clone, Debug)]
pub struct AxisStore {
    write: SqlitePool,
    read: SqlitePool,
}

impl AxisStore {
    /// Opens (creating) `path` and its schema.
    pub async fn open(path: &Path) -> StorageResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&write).await?;
        }
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Self { write, read })
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }

    /// Records a packet, its deliveries and (for a status) the sender-side status, in one
    /// transaction.
    pub async fn insert_send(
        &self,
        p: &NewAxisPacket,
        deliveries: &[NewAxisDelivery],
        report: Option<&StatusReport>,
    ) -> StorageResult<()> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO axis_packets (id, sender_system, message_type, from_code, document_id, title, notation,
                status_code, body_path, body_len, body_sha256, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(&p.id)
        .bind(&p.sender_system)
        .bind(&p.message_type)
        .bind(&p.from_code)
        .bind(&p.document_id)
        .bind(&p.title)
        .bind(&p.notation)
        .bind(&p.status_code)
        .bind(&p.body_path)
        .bind(p.body_len)
        .bind(&p.body_sha256)
        .bind(p.created_ms)
        .execute(&mut *tx)
        .await?;
        for d in deliveries {
            sqlx::query(
                "INSERT INTO axis_deliveries (doc_id, packet_id, receiver_system, to_code, message_type, send_status,
                    state, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )
            .bind(&d.doc_id)
            .bind(&p.id)
            .bind(&d.receiver_system)
            .bind(&d.to_code)
            .bind(&p.message_type)
            .bind(&d.send_status)
            .bind(&d.state)
            .bind(p.created_ms)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(r) = report {
            sqlx::query(
                "UPDATE axis_deliveries SET last_status_code = ?1
                 WHERE to_code = ?2 AND message_type = 'edoc'
                   AND packet_id IN (SELECT id FROM axis_packets WHERE document_id = ?3 AND message_type = 'edoc')",
            )
            .bind(&r.code)
            .bind(&r.reporter)
            .bind(&r.document_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The receiver's items of one message type not yet acknowledged `done`, oldest first.
    pub async fn inbox(
        &self,
        system: &str,
        message_type: &str,
        limit: i64,
        offset: i64,
    ) -> StorageResult<Vec<AxisInboxRow>> {
        let rows = sqlx::query(
            "SELECT d.doc_id, d.message_type, p.from_code, d.to_code, d.state, d.created_ms, d.updated_ms,
                    p.body_len, p.body_sha256
             FROM axis_deliveries d JOIN axis_packets p ON p.id = d.packet_id
             WHERE d.receiver_system = ?1 AND d.message_type = ?2 AND d.state <> 'DONE'
             ORDER BY d.created_ms, d.doc_id LIMIT ?3 OFFSET ?4",
        )
        .bind(system)
        .bind(message_type)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AxisInboxRow {
                    doc_id: r.try_get(0)?,
                    message_type: r.try_get(1)?,
                    from_code: r.try_get(2)?,
                    to_code: r.try_get(3)?,
                    state: r.try_get(4)?,
                    created_ms: r.try_get(5)?,
                    updated_ms: r.try_get(6)?,
                    body_len: r.try_get(7)?,
                    body_sha256: r.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// How many items `inbox` would list.
    pub async fn count_inbox(&self, system: &str, message_type: &str) -> StorageResult<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM axis_deliveries WHERE receiver_system = ?1 AND message_type = ?2 AND state <> 'DONE'",
        )
        .bind(system)
        .bind(message_type)
        .fetch_one(&self.read)
        .await?;
        Ok(n)
    }

    /// The body and owner of a delivery.
    pub async fn delivery(&self, doc_id: &str) -> StorageResult<Option<AxisDeliveryBody>> {
        let row = sqlx::query(
            "SELECT d.receiver_system, p.body_path, d.state FROM axis_deliveries d
             JOIN axis_packets p ON p.id = d.packet_id WHERE d.doc_id = ?1",
        )
        .bind(doc_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok::<_, sqlx::Error>(AxisDeliveryBody {
                receiver_system: r.try_get(0)?,
                body_path: r.try_get(1)?,
                state: r.try_get(2)?,
            })
        })
        .transpose()
        .map_err(Into::into)
    }

    /// The receiver fetched a delivery: `INITIAL` becomes `PROCESSING`, the first fetch time is kept.
    pub async fn mark_fetched(&self, doc_id: &str, now_ms: i64) -> StorageResult<()> {
        sqlx::query(
            "UPDATE axis_deliveries SET state = CASE WHEN state = 'INITIAL' THEN 'PROCESSING' ELSE state END,
                received_ms = COALESCE(received_ms, ?2), updated_ms = ?2 WHERE doc_id = ?1",
        )
        .bind(doc_id)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Sets a delivery's state for its receiver; `false` when there is no such delivery for it.
    pub async fn set_state(&self, doc_id: &str, system: &str, state: &str, now_ms: i64) -> StorageResult<bool> {
        let done = sqlx::query(
            "UPDATE axis_deliveries SET state = ?3, updated_ms = ?4, received_ms = COALESCE(received_ms, ?4)
             WHERE doc_id = ?1 AND receiver_system = ?2",
        )
        .bind(doc_id)
        .bind(system)
        .bind(state)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The sender's deliveries, of one packet or the newest first.
    pub async fn sent(
        &self,
        system: &str,
        message_type: &str,
        packet_id: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<AxisSentRow>> {
        let rows = sqlx::query(
            "SELECT p.id, d.doc_id, p.message_type, p.from_code, d.to_code, p.title, p.notation, p.created_ms,
                    d.received_ms, d.send_status, d.state, d.last_status_code
             FROM axis_packets p JOIN axis_deliveries d ON d.packet_id = p.id
             WHERE p.sender_system = ?1 AND p.message_type = ?2 AND (?3 IS NULL OR p.id = ?3)
             ORDER BY p.created_ms DESC, p.id, d.created_ms, d.doc_id LIMIT ?4",
        )
        .bind(system)
        .bind(message_type)
        .bind(packet_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AxisSentRow {
                    packet_id: r.try_get(0)?,
                    doc_id: r.try_get(1)?,
                    message_type: r.try_get(2)?,
                    from_code: r.try_get(3)?,
                    to_code: r.try_get(4)?,
                    title: r.try_get(5)?,
                    notation: r.try_get(6)?,
                    created_ms: r.try_get(7)?,
                    received_ms: r.try_get(8)?,
                    send_status: r.try_get(9)?,
                    state: r.try_get(10)?,
                    last_status_code: r.try_get(11)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Every agency, by code.
    pub async fn agencies(&self) -> StorageResult<Vec<AxisAgencyRow>> {
        let rows = sqlx::query(
            "SELECT code, pcode, name, mail, mobile, fax, owner_system, from_tenants_file FROM axis_agencies ORDER BY code",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AxisAgencyRow {
                    code: r.try_get(0)?,
                    pcode: r.try_get(1)?,
                    name: r.try_get(2)?,
                    mail: r.try_get(3)?,
                    mobile: r.try_get(4)?,
                    fax: r.try_get(5)?,
                    owner_system: r.try_get(6)?,
                    from_tenants_file: r.try_get::<i64, _>(7)? != 0,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Inserts or updates an agency. An agency owned by another system is a conflict.
    pub async fn upsert_agency(&self, a: &AxisAgencyRow, now_ms: i64) -> StorageResult<()> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let owner: Option<(String,)> = sqlx::query_as("SELECT owner_system FROM axis_agencies WHERE code = ?1")
            .bind(&a.code)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((owner,)) = owner {
            if owner != a.owner_system {
                return Err(StorageError::Conflict(format!("{} belongs to another system", a.code)));
            }
        }
        sqlx::query(
            "INSERT INTO axis_agencies (code, pcode, name, mail, mobile, fax, owner_system, from_tenants_file, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (code) DO UPDATE SET pcode = excluded.pcode, name = excluded.name, mail = excluded.mail,
                mobile = excluded.mobile, fax = excluded.fax,
                from_tenants_file = MAX(axis_agencies.from_tenants_file, excluded.from_tenants_file)",
        )
        .bind(&a.code)
        .bind(&a.pcode)
        .bind(&a.name)
        .bind(&a.mail)
        .bind(&a.mobile)
        .bind(&a.fax)
        .bind(&a.owner_system)
        .bind(i64::from(a.from_tenants_file))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Seeds a tenants-file organ unless it is known (keeps names given by `registerAgency`).
    pub async fn seed_agency(&self, code: &str, owner: &str, now_ms: i64) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO axis_agencies (code, pcode, name, mail, mobile, fax, owner_system, from_tenants_file, created_ms)
             VALUES (?1, '', ?1, '', '', '', ?2, 1, ?3)
             ON CONFLICT (code) DO UPDATE SET owner_system = excluded.owner_system, from_tenants_file = 1",
        )
        .bind(code)
        .bind(owner)
        .bind(now_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Deletes an agency registered by `owner` (not one from the tenants file); `false` when
    /// there is none.
    pub async fn delete_agency(&self, code: &str, owner: &str) -> StorageResult<bool> {
        let done =
            sqlx::query("DELETE FROM axis_agencies WHERE code = ?1 AND owner_system = ?2 AND from_tenants_file = 0")
                .bind(code)
                .bind(owner)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}
