//! Idempotent receive: a packet fetched from the axis is stored in a folder under a name derived
//! from what identifies it ([`routing::receipt_key`]: DocumentId and business operation, or the
//! status report), so a packet delivered twice (a retried send, a duplicated delivery, a second
//! fetch) is stored once. The store is atomic: a temporary file is hard-linked into place, which
//! fails when the name exists.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::client::{AxisClient, ClientError};
use super::protocol::{hex_sha256, AckStatus, MessageType};
use super::routing::receipt_key;
use crate::edxml::{parse_bytes, DiscardSink, EdxmlError, Limits, Packet};

/// One stored packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub path: PathBuf,
    /// `false` when the same packet had been stored before.
    pub new: bool,
    pub message_type: MessageType,
    /// The edXML DocumentId (of the document, or the one a status reports on).
    pub document_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the packet is not usable edXML: {0}")]
    Packet(#[from] EdxmlError),
    #[error("cannot store into {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Stores `bytes` (an edXML packet) in `dir` unless the same packet is already there.
pub fn store_packet(dir: &Path, bytes: &[u8]) -> Result<Receipt, ReceiveError> {
    let parsed = parse_bytes(bytes, &mut DiscardSink, &Limits::default())?;
    let (message_type, document_id) = match &parsed.packet {
        Packet::Document(d) => (MessageType::Edoc, d.document_id.clone()),
        Packet::Status(s) => (MessageType::Status, s.response_for.document_id.clone()),
    };
    let key = receipt_key(&parsed.packet).unwrap_or_else(|| format!("bytes\u{1f}{}", hex_sha256(bytes)));
    let digest = hex_sha256(key.as_bytes());
    let name = format!("{}-{}.edxml", message_type.as_str(), &digest[..32]);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| ReceiveError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(name);
    if target.exists() {
        return Ok(Receipt {
            path: target,
            new: false,
            message_type,
            document_id,
        });
    }
    let tmp = dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(ReceiveError::Io { path: tmp, source: e });
    }
    let linked = std::fs::hard_link(&tmp, &target);
    let _ = std::fs::remove_file(&tmp);
    let new = match linked {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            return Err(ReceiveError::Io {
                path: target,
                source: e,
            })
        }
    };
    Ok(Receipt {
        path: target,
        new,
        message_type,
        document_id,
    })
}

/// `getEdoc` then [`store_packet`]. The item is not acknowledged.
pub async fn fetch(client: &AxisClient, doc_id: &str, dir: &Path) -> Result<Receipt, ReceiveError> {
    let bytes = client.get_edoc(doc_id).await?;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || store_packet(&dir, &bytes))
        .await
        .map_err(|e| ReceiveError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// What one pass over the inbox did.
#[derive(Debug, Default)]
pub struct ReceiveReport {
    pub stored: Vec<Receipt>,
    /// Items acknowledged `fail` because their packet was unusable: (axis id, reason).
    pub failed: Vec<(String, String)>,
}

/// One pass over the inbox: lists the items of `message_type`, fetches and stores each
/// idempotently, and acknowledges it `done` (or `fail` when the packet is unusable). Running it
/// again after a crash anywhere in between stores nothing twice.
pub async fn receive_all(
    client: &AxisClient,
    message_type: MessageType,
    dir: &Path,
) -> Result<ReceiveReport, ReceiveError> {
    let mut report = ReceiveReport::default();
    for item in client.get_received_edoc_list(message_type).await? {
        match fetch(client, &item.doc_id, dir).await {
            Ok(r) => {
                client.update_status(&item.doc_id, AckStatus::Done).await?;
                report.stored.push(r);
            }
            Err(ReceiveError::Packet(e)) => {
                client.update_status(&item.doc_id, AckStatus::Fail).await?;
                report.failed.push((item.doc_id, e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}
