//! The archive (lưu trữ): write-once, content-addressed objects for registered documents and
//! their files, with a metadata record per document (NĐ 30 Phụ lục VI / TT 02/2019) kept in the
//! database and as JSON and XML objects.
//!
//! - [`store`]: the write-once object layer (IO at the edge, over `object_store`);
//! - [`metadata`]: the metadata record, JSON and XML (pure);
//! - [`service`]: archiving a document (the `archive.document` job) and reading it back;
//! - [`fixity`]: re-reading objects against the database (missing, corrupt, orphaned);
//! - [`retention`]: retention periods as versioned data, disposal and deposit rules (pure);
//! - [`records`]: records (hồ sơ) — the annual list, filing, closing, legal hold, disposal;
//! - [`deposit`]: deposit packages (nộp lưu), BagIt export and check.
//!
//! Invariants: an archive object is never overwritten; a document is marked archived only after
//! every object it needs is stored; archiving is idempotent.

pub mod deposit;
pub mod fixity;
pub mod metadata;
pub mod records;
pub mod retention;
pub mod service;
pub mod store;

pub use metadata::DocumentMetadata;
pub use service::{archive_document, archive_documents, ArchiveDocumentJob, ArchiveError, ArchivedDocumentView};
pub use store::{ArchiveStore, ArchivedObject, StoreError};
