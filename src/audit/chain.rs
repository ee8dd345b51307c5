//! Pure hash-chain arithmetic for the audit log.

use ring::digest::{Context, SHA256};
use serde::Serialize;

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry to append (before it has a sequence number and hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewAuditEntry {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    /// Dotted verb, e.g. `document.create`, `document.read`, `auth.login_failed`.
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    /// Client address, when the change came over HTTP.
    pub ip: Option<String>,
    /// JSON object with details.
    pub details: String,
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: NewAuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Where and why verification failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum ChainBreak {
    #[error("entry {seq}: content does not match its hash (edited)")]
    Edited { seq: i64 },
    #[error("entry {seq}: previous hash does not match entry {prev} (an entry was removed or altered before it)")]
    Unlinked { seq: i64, prev: i64 },
    #[error("entries {from}..{to} are missing (deleted)")]
    Gap { from: i64, to: i64 },
    #[error("the log ends at entry {last} but the chain head says {head} (entries deleted from the end)")]
    Truncated { last: i64, head: i64 },
}

fn field(ctx: &mut Context, bytes: &[u8]) {
    ctx.update(&(bytes.len() as u64).to_be_bytes());
    ctx.update(bytes);
}

fn opt(ctx: &mut Context, v: Option<&str>) {
    match v {
        None => ctx.update(&[0]),
        Some(s) => {
            ctx.update(&[1]);
            field(ctx, s.as_bytes());
        }
    }
}

/// The hash of an entry: SHA-256 over length-prefixed fields, starting with the previous hash.
pub fn entry_hash(seq: i64, prev_hash: &str, e: &NewAuditEntry) -> String {
    let mut ctx = Context::new(&SHA256);
    field(&mut ctx, b"vanthu-audit-v1");
    field(&mut ctx, prev_hash.as_bytes());
    ctx.update(&seq.to_be_bytes());
    ctx.update(&e.at_ms.to_be_bytes());
    opt(&mut ctx, e.actor_id.map(|i| i.to_string()).as_deref());
    field(&mut ctx, e.actor.as_bytes());
    field(&mut ctx, e.action.as_bytes());
    field(&mut ctx, e.target_kind.as_bytes());
    opt(&mut ctx, e.target_id.as_deref());
    opt(&mut ctx, e.ip.as_deref());
    field(&mut ctx, e.details.as_bytes());
    hex::encode(ctx.finish())
}

/// Incremental verifier: feed entries in sequence order.
#[derive(Debug)]
pub struct Verifier {
    last_seq: i64,
    last_hash: String,
    pub checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            checked: 0,
        }
    }
}

impl Verifier {
    pub fn push(&mut self, e: &AuditEntry) -> Result<(), ChainBreak> {
        if e.seq != self.last_seq + 1 {
            return Err(ChainBreak::Gap {
                from: self.last_seq + 1,
                to: e.seq - 1,
            });
        }
        if e.prev_hash != self.last_hash {
            return Err(ChainBreak::Unlinked {
                seq: e.seq,
                prev: self.last_seq,
            });
        }
        if entry_hash(e.seq, &e.prev_hash, &e.entry) != e.hash {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        self.last_seq = e.seq;
        self.last_hash.clone_from(&e.hash);
        self.checked += 1;
        Ok(())
    }

    /// Final check against the stored chain head (detects deletion of the newest entries).
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), ChainBreak> {
        if head_seq != self.last_seq || head_hash != self.last_hash {
            return Err(ChainBreak::Truncated {
                last: self.last_seq,
                head: head_seq,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let entry = NewAuditEntry {
                    at_ms: 1_700_000_000_000 + seq,
                    actor_id: Some(1),
                    actor: "vanthu".into(),
                    action: "document.read".into(),
                    target_kind: "document".into(),
                    target_id: Some(seq.to_string()),
                    ip: Some("127.0.0.1".into()),
                    details: "{}".into(),
                };
                let hash = entry_hash(seq, &prev, &entry);
                let e = AuditEntry {
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry], head: (i64, &str)) -> Result<(), ChainBreak> {
        let mut v = Verifier::default();
        for e in entries {
            v.push(e)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(()));
    }

    #[test]
    fn edits_deletions_and_truncation_are_detected() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut edited = c.clone();
        edited[2].entry.actor = "someone-else".into();
        assert_eq!(verify(&edited, (head.0, &head.1)), Err(ChainBreak::Edited { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(
            verify(&deleted, (head.0, &head.1)),
            Err(ChainBreak::Gap { from: 2, to: 2 })
        );

        let truncated = &c[..4];
        assert_eq!(
            verify(truncated, (head.0, &head.1)),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );

        // Deleting an entry and renumbering the rest is caught by the link to the previous hash.
        let mut renumbered = c.clone();
        renumbered.remove(1);
        for (i, e) in renumbered.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        assert!(matches!(
            verify(&renumbered, (4, &c[4].hash)),
            Err(ChainBreak::Unlinked { seq: 2, .. })
        ));
    }
}

/// Who did something, as recorded in the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    /// The operator at the console (CLI commands).
    pub fn console(name: &str) -> Self {
        Self {
            user_id: None,
            name: format!("cli:{name}"),
            ip: None,
        }
    }

    /// An audit entry for this actor.
    pub fn entry(
        &self,
        at_ms: i64,
        action: &str,
        target_kind: &str,
        target_id: Option<String>,
        details: serde_json::Value,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at_ms,
            actor_id: self.user_id,
            actor: self.name.clone(),
            action: action.to_string(),
            target_kind: target_kind.to_string(),
            target_id,
            ip: self.ip.clone(),
            details: details.to_string(),
        }
    }
}
