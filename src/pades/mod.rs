//! PAdES signing of PDF files (ETSI EN 319 142-1, baseline B-B).
//!
//! Pure: bytes in, bytes out. The signing time is an argument, never read from a clock, and
//! nothing here does IO. A signature is added by an **incremental update** (the original bytes
//! are kept verbatim), so earlier signatures stay valid and any number of sequential signatures
//! can be added. The CMS is `ETSI.CAdES.detached` with exactly the signed attributes PAdES asks
//! for — content-type, message-digest, signing-certificate-v2, and no signing-time (the claimed
//! time goes into the signature dictionary's `/M`).
//!
//! ```text
//! keys   ─ load a signing key (PKCS#8, encrypted PKCS#8 + PIN, PKCS#1 RSA, SEC1 EC; PEM or DER)
//!          and certificates; check that the key matches the certificate
//! cms    ─ build the detached CMS SignedData around a digest, signing with `keys`
//! external ─ signing with a key held elsewhere (USB token, remote service): prepare returns
//!          the signed attributes to sign and a handle; complete checks and embeds the answer
//! pdf    ─ the incremental update: signature field + widget + dictionary with fixed-size
//!          placeholders, then the byte range, the digest and the CMS patched in place; a
//!          certification signature also gets the DocMDP `/Reference` and the catalog's
//!          `/Perms /DocMDP` in the same update ([`MdpPerm`]); an empty pre-created signature
//!          field named by `field_name` is signed in place
//! appearance ─ visible signatures per NĐ 30 (leader, seal, attachment): font subset, images,
//!          placement; nothing of it runs for an invisible signature
//! ```

pub mod appearance;
pub mod cms;
pub mod external;
pub mod keys;
pub mod ltv;
mod pdf;
pub mod timestamp;
pub mod verify;

use chrono::{DateTime, FixedOffset};
use x509_cert::Certificate;

pub use appearance::{Appearance, AppearanceKind};
pub use keys::{from_pkcs12, load_certificates, Pkcs12Bundle, SigningKey};
pub use verify::{load_crls, verify_pdf, Verdict, VerificationReport, VerifyOptions};

/// Bytes reserved for the CMS in `/Contents` unless the caller asks for more. A B-B signature
/// with a two-certificate RSA chain takes about 2.8 KB; this leaves room for longer chains.
pub const DEFAULT_CONTENTS_SIZE: usize = 16 * 1024;

/// Largest `/Contents` reservation accepted (hex doubles it in the file).
pub const MAX_CONTENTS_SIZE: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PadesError {
    #[error("the file is not a readable PDF: {0}")]
    Pdf(String),
    #[error("the PDF is encrypted; decrypt it before signing")]
    Encrypted,
    #[error("the PDF's cross-reference table is damaged (it was only readable by scanning); repair it before signing")]
    Damaged,
    #[error("the PDF has no pages")]
    NoPages,
    #[error(
        "the signature needs {needed} bytes but /Contents reserves {reserved}; sign again with a larger reservation"
    )]
    ContentsTooSmall { needed: usize, reserved: usize },
    #[error("the /Contents reservation must be between 4096 and {MAX_CONTENTS_SIZE} bytes, not {0}")]
    ContentsSize(usize),
    #[error("key: {0}")]
    Key(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("the private key does not belong to the signer's certificate")]
    KeyMismatch,
    #[error("the signer's certificate does not allow signing documents (key usage has neither digitalSignature nor nonRepudiation)")]
    KeyUsage,
    #[error("the signer's certificate is not valid at the signing time {0}")]
    NotValidAt(String),
    #[error("external signing: {0}")]
    External(String),
    #[error("encoding the CMS failed: {0}")]
    Encoding(String),
    #[error("time-stamp: {0}")]
    Timestamp(String),
    #[error("validation data (B-LT): {0}")]
    ValidationData(String),
    #[error("appearance: {0}")]
    Appearance(String),
    #[error("certification: {0}")]
    Certification(String),
}

pub type PadesResult<T> = Result<T, PadesError>;

/// What a signature says besides the CMS itself.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// The claimed signing time, written to `/M` (with its offset, e.g. +07:00).
    pub signing_time: DateTime<FixedOffset>,
    /// Name of the new signature field; `None` picks the first free `SignatureN`.
    pub field_name: Option<String>,
    pub reason: Option<String>,
    pub location: Option<String>,
    /// Bytes reserved for the CMS (see [`DEFAULT_CONTENTS_SIZE`]).
    pub contents_size: usize,
    /// A visible appearance (NĐ 30); `None` adds an invisible signature.
    pub appearance: Option<Appearance>,
    /// Make this a certification signature (DocMDP) with these permissions. Only the first
    /// signature of a document may certify it.
    pub certify: Option<MdpPerm>,
}

/// DocMDP permissions of a certification signature (ISO 32000-1 12.8.2.2, `/P`): which changes
/// later incremental updates may make. DSS and document time-stamp updates are always allowed
/// (ISO 32000-2 12.8.5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MdpPerm {
    /// P=1: no changes at all; no further signatures.
    NoChanges = 1,
    /// P=2: filling in forms and signing (existing signature fields).
    FormFilling = 2,
    /// P=3: form filling, signing, and creating, deleting and changing annotations.
    Annotations = 3,
}

impl MdpPerm {
    /// The `/P` value 1, 2 or 3.
    pub fn from_level(p: i64) -> Option<Self> {
        match p {
            1 => Some(Self::NoChanges),
            2 => Some(Self::FormFilling),
            3 => Some(Self::Annotations),
            _ => None,
        }
    }

    pub fn level(self) -> u8 {
        self as u8
    }
}

impl SignOptions {
    pub fn at(signing_time: DateTime<FixedOffset>) -> Self {
        Self {
            signing_time,
            field_name: None,
            reason: None,
            location: None,
            contents_size: DEFAULT_CONTENTS_SIZE,
            appearance: None,
            certify: None,
        }
    }
}

/// Signs `pdf` at PAdES B-B with `key` for `cert`, embedding `chain` (intermediates, optionally
/// the root) in the CMS. Returns the whole signed file: the input bytes followed by the update.
pub fn sign_pdf(
    pdf: &[u8],
    key: &SigningKey,
    cert: &Certificate,
    chain: &[Certificate],
    opts: &SignOptions,
) -> PadesResult<Vec<u8>> {
    sign_pdf_owned(pdf.to_vec(), key, cert, chain, opts)
}

/// [`sign_pdf`] taking the file by value: the bytes become the output's prefix without a copy,
/// and stream data is not kept while parsing, so peak memory stays near twice the file.
pub fn sign_pdf_owned(
    pdf: Vec<u8>,
    key: &SigningKey,
    cert: &Certificate,
    chain: &[Certificate],
    opts: &SignOptions,
) -> PadesResult<Vec<u8>> {
    if !(4096..=MAX_CONTENTS_SIZE).contains(&opts.contents_size) {
        return Err(PadesError::ContentsSize(opts.contents_size));
    }
    key.check_matches(cert)?;
    keys::check_signing_usage(cert)?;
    if !verify::valid_at(cert, opts.signing_time.with_timezone(&chrono::Utc)) {
        return Err(PadesError::NotValidAt(opts.signing_time.to_rfc3339()));
    }
    let mut prepared = pdf::prepare(pdf, opts)?;
    let digest = prepared.digest();
    let cms = cms::signed_data(key, cert, chain, &digest)?;
    prepared.embed(&cms)?;
    Ok(prepared.into_bytes())
}
