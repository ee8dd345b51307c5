//! The audit log: append-only, hash-chained. Each entry's hash covers its content and the hash
//! of the entry before it, so editing or deleting any entry breaks the chain at that point.
//! The chain arithmetic is pure ([`chain`]); storage appends inside the caller's transaction.

pub mod chain;

pub use chain::{Actor, AuditEntry, ChainBreak, NewAuditEntry, Verifier, GENESIS_HASH};
