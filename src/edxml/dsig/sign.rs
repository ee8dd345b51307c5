//! Signing while building. The Signature sits in `edXMLHeader` after `TraceHeaderList`, before
//! the body and the attachments it covers, so its digest is known only after a first build:
//!
//! 1. build the packet with an empty placeholder Signature into a pipe; a second thread
//!    canonicalizes what arrives (leaving the Signature out, as the enveloped-signature
//!    transform does) straight into SHA-256;
//! 2. write `SignedInfo` with that digest, canonicalize it in its place's namespace context,
//!    sign it with the key;
//! 3. build again, attachments read a second time, with the real Signature.
//!
//! Memory stays that of a plain build; the cost is a second read and base64 encoding of each
//! attachment (measured in BENCHMARKS.md).

use std::io::{self, BufWriter, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use x509_cert::Certificate;

use super::algorithms as alg;
use super::c14n::{Context, Mode};
use super::pipe::pipe;
use super::scan::{scan, Scan};
use super::signature::{canonical_signed_info, parts, signature_xml, signed_info_xml, SIGNATURE_OPEN};
use super::DsigError;
use crate::edxml::build::build_with_signature;
use crate::edxml::{check_required, AttachmentSource, EdxmlError, Limits, Packet};
use crate::pades::keys::check_signing_usage;
use crate::pades::verify::valid_at;
use crate::pades::{PadesError, SigningKey};

/// Which canonicalization the signature uses (for `SignedInfo` and the reference).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum C14nMethod {
    /// Canonical XML 1.0 without comments (what EdXML102 names).
    #[default]
    Inclusive,
    /// Exclusive XML Canonicalization 1.0 without comments.
    Exclusive,
}

/// Who signs, and when (for the certificate's validity; XMLDSig carries no signing time).
pub struct SignParams<'a> {
    pub key: &'a SigningKey,
    pub cert: &'a Certificate,
    /// Intermediates (optionally the root) written after the signer in `KeyInfo`.
    pub chain: &'a [Certificate],
    pub c14n: C14nMethod,
    pub at: DateTime<Utc>,
}

/// Opens attachment `i`; [`build_signed`] calls it twice per attachment (steps 1 and 3).
pub type OpenSource<'f, 's> = &'f mut dyn FnMut(usize) -> io::Result<AttachmentSource<'s>>;

/// Builds a document packet with an enveloped XML signature over the whole document.
/// `open(i)` opens attachment `i` (in the order of `attachments`); it is called twice.
pub fn build_signed<W: Write>(
    packet: &Packet,
    open: OpenSource<'_, '_>,
    params: &SignParams<'_>,
    out: W,
) -> Result<(), DsigError> {
    let Packet::Document(doc) = packet else {
        return Err(DsigError::StatusPacket);
    };
    check_required(packet)?;
    params.key.check_matches(params.cert)?;
    check_signing_usage(params.cert)?;
    if !valid_at(params.cert, params.at) {
        return Err(PadesError::NotValidAt(params.at.to_rfc3339()).into());
    }
    let count = doc.attachments.len();
    let mode = Mode {
        exclusive: params.c14n == C14nMethod::Exclusive,
        ..Mode::default()
    };
    let limits = Limits::default();

    // 1. Digest of the canonical packet, placeholder left out.
    let sources = (0..count).map(&mut *open).collect::<io::Result<Vec<_>>>()?;
    let placeholder = format!("{}</Signature>", SIGNATURE_OPEN);
    let (digest, context) = std::thread::scope(|s| {
        let (writer, reader) = pipe();
        let limits = &limits;
        let mode = mode.clone();
        let canonicalizer = s.spawn(move || -> Result<(Vec<u8>, Context), EdxmlError> {
            let mut hasher = DigestWriter(ring::digest::Context::new(&ring::digest::SHA256));
            let mut buffered = BufWriter::with_capacity(64 * 1024, &mut hasher);
            let captured = scan(
                reader,
                Scan {
                    limits,
                    context: Context::default(),
                    canonical: Some((mode, &mut buffered)),
                    capture_signature: true,
                },
            )?;
            buffered.flush()?;
            drop(buffered);
            let captured = captured.ok_or(EdxmlError::Truncated)?;
            Ok((hasher.0.finish().as_ref().to_vec(), captured.context))
        });
        let built = build_with_signature(packet, sources, writer, Some(&placeholder));
        let scanned = canonicalizer
            .join()
            .map_err(|_| DsigError::Internal("the canonicalizer thread panicked".into()))?;
        match (built, scanned) {
            (Ok(()), Ok(v)) => Ok(v),
            (Err(EdxmlError::Io(_)), Err(e)) => Err(DsigError::Internal(format!("canonicalizing our own packet: {e}"))),
            (Err(e), _) => Err(e.into()),
            (Ok(()), Err(e)) => Err(DsigError::Internal(format!("canonicalizing our own packet: {e}"))),
        }
    })?;

    // 2. SignedInfo, canonicalized where it will stand, and signed.
    let (c14n_uri, method) = (
        match params.c14n {
            C14nMethod::Inclusive => alg::C14N,
            C14nMethod::Exclusive => alg::EXC_C14N,
        },
        match params.key {
            SigningKey::Rsa(_) => alg::RSA_SHA256,
            SigningKey::EcdsaP256(_) => alg::ECDSA_SHA256,
            SigningKey::EcdsaP384(_) => alg::ECDSA_SHA384,
        },
    );
    let signed_info = signed_info_xml(c14n_uri, method, &STANDARD.encode(&digest));
    let fragment = signature_xml(&signed_info, None);
    let captured = scan(
        fragment.as_bytes(),
        Scan {
            limits: &limits,
            context,
            canonical: None,
            capture_signature: true,
        },
    )?
    .ok_or_else(|| DsigError::Internal("the SignedInfo written cannot be read back".into()))?;
    let p = parts(&captured).map_err(DsigError::Internal)?;
    let canonical = canonical_signed_info(&captured, &p, mode)?;
    let raw = params.key.sign(&canonical)?;
    let value = match params.key {
        SigningKey::Rsa(_) => raw,
        SigningKey::EcdsaP256(_) => ecdsa_fixed(&raw, 32)?,
        SigningKey::EcdsaP384(_) => ecdsa_fixed(&raw, 48)?,
    };
    let mut certificates = Vec::new();
    for c in std::iter::once(params.cert).chain(params.chain) {
        let der = c
            .to_der()
            .map_err(|e| PadesError::Certificate(format!("cannot encode: {e}")))?;
        certificates.push(STANDARD.encode(der));
    }
    let signature = signature_xml(&signed_info, Some((&STANDARD.encode(value), &certificates)));

    // 3. The packet with its signature.
    let sources = (0..count).map(&mut *open).collect::<io::Result<Vec<_>>>()?;
    build_with_signature(packet, sources, out, Some(&signature))?;
    Ok(())
}

struct DigestWriter(ring::digest::Context);

impl Write for DigestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
#[derive(der::Sequence)]
struct EcdsaSigValue<'a> {
    r: der::asn1::UintRef<'a>,
    s: der::asn1::UintRef<'a>,
}

/// ring's ASN.1 ECDSA signature as XMLDSig wants it: r ‖ s, each `size` bytes (RFC 4050 §3.3).
fn ecdsa_fixed(der_sig: &[u8], size: usize) -> Result<Vec<u8>, DsigError> {
    let v = EcdsaSigValue::from_der(der_sig).map_err(|e| DsigError::Internal(format!("ECDSA signature: {e}")))?;
    let mut out = vec![0u8; 2 * size];
    for (i, n) in [v.r.as_bytes(), v.s.as_bytes()].into_iter().enumerate() {
        if n.len() > size {
            return Err(DsigError::Internal("ECDSA signature component too long".into()));
        }
        out[(i + 1) * size - n.len()..(i + 1) * size].copy_from_slice(n);
    }
    Ok(out)
}
