//! Enveloped XML signatures (XMLDSig) over whole edXML packets: signing while building, and
//! opt-in verification. Interoperable with `xmlsec1` both ways.
//!
//! ```text
//! c14n       ─ Canonical XML 1.0 and Exclusive C14N as a streaming event sink
//! scan       ─ quick-xml for markup, character data streamed from the input in chunks; feeds the
//!              canonicalizer with everything but the enveloped Signature, which it captures
//! signature  ─ the Signature's parts, its canonical SignedInfo, and the one this signer writes
//! sign       ─ build → canonicalize → digest on a second thread, sign SignedInfo, build again
//!              with the Signature in edXMLHeader after TraceHeaderList (brief edxml.md §5)
//! verify     ─ find the Signature, digest the document (a second pass over the input), check
//!              the signature value and the certificate path → valid / invalid / indeterminate
//! ```
//!
//! Memory stays bounded on any packet size: the canonical form goes straight into the digest,
//! and only the Signature subtree (at most 1 MiB) is held. The digest covers the whole document
//! (`URI=""`) with the enveloped-signature transform, so the attachments' base64 is signed too.

mod c14n;
mod pipe;
mod scan;
mod sign;
mod signature;
mod verify;

use serde::Serialize;

pub use sign::{build_signed, C14nMethod, SignParams};
pub use verify::verify_packet;

use super::EdxmlError;
use crate::pades::{PadesError, Verdict};

/// Algorithm identifiers (URIs) this module reads and writes.
pub mod algorithms {
    pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
    pub const C14N_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
    pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
    pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    /// Refused (SHA-1), named in reports.
    pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
}

/// Why a packet could not be signed, or its signature not examined at all.
#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    #[error(transparent)]
    Edxml(#[from] EdxmlError),
    #[error("the packet carries no Signature element")]
    NoSignature,
    #[error("status packets carry no signature (QCVN 102:2016 signs document packets, in edXMLHeader)")]
    StatusPacket,
    #[error(transparent)]
    Signer(#[from] PadesError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("signing failed: {0}")]
    Internal(String),
}

/// Writes the canonical form of the XML document in `input` to `out` (Canonical XML 1.0, or
/// Exclusive XML Canonicalization 1.0; comments kept or not), streaming. For tests against
/// other canonicalizers and for fuzzing; signing and verification use the same code.
pub fn canonicalize<R: std::io::BufRead, W: std::io::Write>(
    input: R,
    exclusive: bool,
    with_comments: bool,
    mut out: W,
    limits: &super::Limits,
) -> Result<(), EdxmlError> {
    let mode = c14n::Mode {
        exclusive,
        comments: with_comments,
        inclusive_prefixes: Vec::new(),
    };
    scan::scan(
        input,
        scan::Scan {
            limits,
            context: c14n::Context::default(),
            canonical: Some((mode, &mut out)),
            capture_signature: false,
        },
    )?;
    out.flush()?;
    Ok(())
}

/// The findings about one packet's signature.
#[derive(Clone, Debug, Serialize)]
pub struct DsigReport {
    pub validation_time: String,
    /// The `Signature` element's namespace: xmldsig, the edXML namespace (EdXML102 writes it
    /// unqualified) or none.
    pub signature_namespace: Option<String>,
    pub canonicalization: Option<String>,
    pub signature_method: Option<String>,
    pub digest_method: Option<String>,
    pub transforms: Vec<String>,
    /// The canonical document's digest equals `DigestValue` (None: not computed).
    pub digest_matches: Option<bool>,
    /// `SignatureValue` verifies over the canonical `SignedInfo` with a KeyInfo certificate.
    pub signature_matches: Option<bool>,
    pub signer: Option<String>,
    /// Signer first, up to (not including) the trust anchor.
    pub certificate_path: Vec<String>,
    pub revocation: String,
    pub verdict: Verdict,
    /// Why the verdict is not `valid`.
    pub reasons: Vec<String>,
}
