//! edXML (QCVN 102:2016/BTTTT) codec: a **pure** typed model, a lenient streaming parser and an
//! exact builder. No IO except through the `Read`/`Write` values the caller passes in; no clock.
//!
//! - [`parse`] reads a packet with quick-xml's streaming reader (no DOM), matches local names
//!   whatever the prefix, in any order, and streams each attachment's base64 into an
//!   [`AttachmentSink`] chunk by chunk.
//! - [`build`] writes the EdXML102 emission order and namespace layout (brief `edxml.md` §1.2),
//!   streaming attachment bytes from readers.

mod base64_stream;
mod build;
pub mod dsig;
mod error;
mod model;
mod names;
mod parse;
mod sink;

pub use build::{build, build_to_vec, check_required, AttachmentSource};
pub use error::EdxmlError;
pub use model::*;
pub use names::{safe_file_name, EDXML_NS};
pub use parse::{parse, parse_bytes, Limits, Parsed, Warning};
pub use sink::{AttachmentSink, DiscardSink, MemorySink};
