//! The shared vocabulary of the registry: pure types and validation, no IO, no clock.
//!
//! Everything regulation-derived (document types, abbreviations) is loaded from versioned data
//! in `src/data/`, never written into code.

pub mod agency_code;
pub mod document;
pub mod document_types;
pub mod marks;
pub mod role;
pub mod symbol;

pub use agency_code::AgencyCode;
pub use document::{Direction, DocumentInput, DocumentStatus, ValidDocument, ValidationError};
pub use document_types::{DocumentType, DocumentTypeCatalog, SymbolStyle};
pub use marks::{Secrecy, SigningAuthority, Urgency};
pub use role::Role;
