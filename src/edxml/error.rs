//! The codec's one error type.

/// Why a packet could not be parsed or built.
#[derive(Debug, thiserror::Error)]
pub enum EdxmlError {
    #[error("not well-formed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("the root element is <{0}>, not <edXML>")]
    NotEdxml(String),
    #[error("the packet ends before its root element is closed")]
    Truncated,
    #[error("DOCTYPE declarations are refused (no DTDs, no entity expansion, no external fetches)")]
    Doctype,
    #[error("unknown entity reference &{0}; (only the five XML entities and character references are allowed)")]
    UnknownEntity(String),
    #[error("elements nest deeper than {0} levels")]
    TooDeep(usize),
    #[error("the text of <{element}> is longer than {limit} bytes")]
    TextTooLong { element: String, limit: usize },
    #[error("invalid UTF-8 in the packet at byte {0}")]
    InvalidUtf8(u64),
    #[error("attachment {attachment}: invalid base64: {message}")]
    Base64 { attachment: String, message: String },
    #[error("attachment {attachment}: larger than the limit of {limit} bytes")]
    AttachmentTooLarge { attachment: String, limit: u64 },
    #[error("more than {0} attachments")]
    TooManyAttachments(usize),
    #[error("attachment {attachment}: bad zip: {message}")]
    Zip { attachment: String, message: String },
    #[error("attachment {attachment}: the zip holds {entries} entries, expected exactly one")]
    ZipEntries { attachment: String, entries: usize },
    #[error("attachment name {0:?} is not usable as a file name")]
    UnsafeName(String),
    #[error("missing required field {0} for a build")]
    MissingField(&'static str),
    #[error("{0} attachments described but {1} sources given")]
    AttachmentCount(usize, usize),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
