//! External signing, for USB tokens and remote-signing services that hold the key themselves.
//!
//! Two steps with a handle in between:
//!
//! 1. [`prepare`] writes the incremental update with its placeholders (exactly as a server-held
//!    key would) and returns a [`PreparedSignature`]: the prepared file and a [`Handle`] holding
//!    what must be signed — the DER of the signed attributes (content-type, message-digest of the
//!    byte range, signing-certificate-v2) and its SHA-256 — the signer's certificates and an
//!    expiry time.
//! 2. [`complete`] takes the handle, the prepared file and what the signer returned: a raw
//!    signature over the signed attributes (RSA PKCS#1 v1.5, RSA-PSS with SHA-256 and a 32-byte
//!    salt, or ECDSA as DER or as the fixed r‖s form tokens return) or a complete detached CMS
//!    made elsewhere over the byte-range digest. It refuses an expired handle, a prepared file that
//!    is not the one the handle describes, and a signature that does not verify against the
//!    certificate, then embeds the CMS.
//!
//! Pure: the clock is an argument and nothing here does IO.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use x509_cert::Certificate;

use super::cms::{self as pades_cms, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use super::{keys, pdf, verify, PadesError, PadesResult, SignOptions};

/// Longest lifetime of a prepared handle.
pub const MAX_HANDLE_TTL: Duration = Duration::minutes(60);

/// What a client needs to sign, and what [`complete`] needs to finish. Serializable so that it
/// can be kept between the two calls (a file for the CLI, a row for the server).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Handle {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Offsets of the `/Contents` hole in the prepared file (`<` and just after `>`).
    pub gap_start: usize,
    pub gap_end: usize,
    /// SHA-256 of the byte range, hex: what a complete CMS must carry as message-digest.
    pub document_digest: String,
    /// DER of the signed attributes (base64): what a raw signature signs.
    pub signed_attributes: String,
    /// SHA-256 of `signed_attributes`, hex: what a token that signs a hash is given.
    pub hash_to_sign: String,
    /// Signer certificate then chain, DER in base64.
    pub certificates: Vec<String>,
    /// Bytes reserved for the CMS.
    pub reserved: usize,
}

/// The prepared file and its handle.
pub struct PreparedSignature {
    pub handle: Handle,
    pub pdf: Vec<u8>,
}

/// What the external signer returned.
#[derive(Clone, Debug)]
pub enum ExternalSignature {
    /// A bare signature over the DER signed attributes.
    Raw(Vec<u8>),
    /// A whole detached CMS (ContentInfo of SignedData) over the byte range.
    Cms(Vec<u8>),
}

fn enc(e: der::Error) -> PadesError {
    PadesError::Encoding(e.to_string())
}

fn handle_err(msg: impl Into<String>) -> PadesError {
    PadesError::External(msg.into())
}

/// Writes the update for a signature by `cert` and returns what must be signed. The handle
/// expires `ttl` after `now` (at most [`MAX_HANDLE_TTL`]).
pub fn prepare(
    pdf: Vec<u8>,
    cert: &Certificate,
    chain: &[Certificate],
    opts: &SignOptions,
    now: DateTime<Utc>,
    ttl: Duration,
) -> PadesResult<PreparedSignature> {
    if !(4096..=super::MAX_CONTENTS_SIZE).contains(&opts.contents_size) {
        return Err(PadesError::ContentsSize(opts.contents_size));
    }
    if ttl <= Duration::zero() || ttl > MAX_HANDLE_TTL {
        return Err(handle_err(format!(
            "a handle must live between 1 second and {} minutes",
            MAX_HANDLE_TTL.num_minutes()
        )));
    }
    keys::check_signing_usage(cert)?;
    if !verify::valid_at(cert, opts.signing_time.with_timezone(&Utc)) {
        return Err(PadesError::NotValidAt(opts.signing_time.to_rfc3339()));
    }
    let prepared = pdf::prepare(pdf, opts)?;
    let document_digest = prepared.digest();
    let attrs = pades_cms::signed_attributes(cert, &document_digest)?;
    let attrs_der = attrs.to_der().map_err(enc)?;
    let mut certificates = vec![B64.encode(cert.to_der().map_err(enc)?)];
    for c in chain {
        certificates.push(B64.encode(c.to_der().map_err(enc)?));
    }
    let (gap_start, gap_end) = prepared.gap();
    let handle = Handle {
        id: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        expires_at: now + ttl,
        gap_start,
        gap_end,
        document_digest: hex::encode(&document_digest),
        hash_to_sign: hex::encode(digest(&SHA256, &attrs_der)),
        signed_attributes: B64.encode(&attrs_der),
        certificates,
        reserved: (gap_end - gap_start - 2) / 2,
    };
    Ok(PreparedSignature {
        handle,
        pdf: prepared.into_bytes(),
    })
}

fn decode_b64(what: &str, s: &str) -> PadesResult<Vec<u8>> {
    B64.decode(s)
        .map_err(|_| handle_err(format!("the handle's {what} is not base64")))
}

/// Embeds the signer's answer into the prepared file, after checking it.
pub fn complete(
    handle: &Handle,
    pdf: Vec<u8>,
    signature: &ExternalSignature,
    now: DateTime<Utc>,
) -> PadesResult<Vec<u8>> {
    if now > handle.expires_at {
        return Err(handle_err(format!(
            "handle {} expired at {}; prepare the signature again",
            handle.id,
            handle.expires_at.to_rfc3339()
        )));
    }
    let mut prepared = pdf::Prepared::from_parts(pdf, handle.gap_start, handle.gap_end)?;
    let document_digest = prepared.digest();
    if hex::encode(&document_digest) != handle.document_digest {
        return Err(handle_err("the prepared file is not the one this handle was made for"));
    }
    let mut certs = Vec::new();
    for c in &handle.certificates {
        certs.push(
            Certificate::from_der(&decode_b64("certificate", c)?)
                .map_err(|e| handle_err(format!("the handle holds a malformed certificate: {e}")))?,
        );
    }
    let (cert, chain) = certs
        .split_first()
        .ok_or_else(|| handle_err("the handle names no certificate"))?;
    let cms = match signature {
        ExternalSignature::Raw(raw) => {
            let attrs_der = decode_b64("signed attributes", &handle.signed_attributes)?;
            let (algorithm, signature) = raw_signature(cert, &attrs_der, raw)?;
            let attrs = cms::signed_data::SignedAttributes::from_der(&attrs_der)
                .map_err(|e| handle_err(format!("the handle's signed attributes are malformed: {e}")))?;
            pades_cms::assemble(cert, chain, attrs, algorithm, signature)?
        }
        ExternalSignature::Cms(der) => {
            check_cms(cert, der, &document_digest)?;
            der.clone()
        }
    };
    prepared.embed(&cms)?;
    Ok(prepared.into_bytes())
}

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Identifies the scheme of a raw signature by verifying it, and returns the CMS signature
/// algorithm and the signature in the form CMS stores it.
fn raw_signature(
    cert: &Certificate,
    message: &[u8],
    raw: &[u8],
) -> PadesResult<(spki::AlgorithmIdentifierOwned, Vec<u8>)> {
    let is_rsa = cert.tbs_certificate.subject_public_key_info.algorithm.oid == RSA_ENCRYPTION;
    if is_rsa {
        let pkcs1 = pades_cms::rsa_pkcs1_sha256();
        if verify::verify_with(cert, &pkcs1.oid, None, message, raw).is_ok() {
            return Ok((pkcs1, raw.to_vec()));
        }
        let pss = pades_cms::rsa_pss_sha256()?;
        if verify::verify_with(cert, &pss.oid, None, message, raw).is_ok() {
            return Ok((pss, raw.to_vec()));
        }
        return Err(handle_err(
            "the signature does not verify with the certificate's RSA key (PKCS#1 v1.5 or PSS over SHA-256 of the signed attributes)",
        ));
    }
    let alg = pades_cms::ecdsa_for(cert)?;
    let der_sig = match ecdsa_fixed_to_der(cert, raw) {
        Some(d) => d,
        None => raw.to_vec(),
    };
    verify::verify_with(cert, &alg.oid, None, message, &der_sig)
        .map_err(|_| handle_err("the ECDSA signature does not verify with the certificate's key"))?;
    Ok((alg, der_sig))
}

/// An ECDSA signature in the fixed `r‖s` form (what PKCS#11 tokens return) as DER, when `raw`
/// has that form's length for the certificate's curve.
fn ecdsa_fixed_to_der(cert: &Certificate, raw: &[u8]) -> Option<Vec<u8>> {
    let width = match pades_cms::ec_field_len(cert)? {
        w if raw.len() == 2 * w => w,
        _ => return None,
    };
    let (r, s) = raw.split_at(width);
    let r = der::asn1::UintRef::new(r).ok()?;
    let s = der::asn1::UintRef::new(s).ok()?;
    let seq = EcdsaSig { r, s };
    seq.to_der().ok()
}

#[derive(der::Sequence)]
struct EcdsaSig<'a> {
    r: der::asn1::UintRef<'a>,
    s: der::asn1::UintRef<'a>,
}

/// A complete CMS from a remote signer must be detached SignedData over this document's byte
/// range, signed by the certificate the handle names, with a signature that verifies.
fn check_cms(cert: &Certificate, der: &[u8], document_digest: &[u8]) -> PadesResult<()> {
    let bad = |m: String| handle_err(format!("the returned CMS is not acceptable: {m}"));
    let info = ContentInfo::from_der(der).map_err(|e| bad(format!("not DER ContentInfo ({e})")))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(bad("not SignedData".into()));
    }
    let signed: SignedData = info.content.decode_as().map_err(|e| bad(e.to_string()))?;
    if signed.encap_content_info.econtent.is_some() {
        return Err(bad("the content is embedded; it must be detached".into()));
    }
    let [si] = signed.signer_infos.0.as_slice() else {
        return Err(bad("it must hold exactly one SignerInfo".into()));
    };
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("it has no signed attributes".into()))?;
    let md = attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .ok_or_else(|| bad("no message-digest attribute".into()))?;
    let md: OctetString = md.decode_as().map_err(|e| bad(e.to_string()))?;
    if md.as_bytes() != document_digest {
        return Err(bad("its message-digest is not this document's byte-range digest".into()));
    }
    let attrs_der = attrs.to_der().map_err(enc)?;
    verify::verify_with(
        cert,
        &si.signature_algorithm.oid,
        Some(&si.digest_alg.oid),
        &attrs_der,
        si.signature.as_bytes(),
    )
    .map_err(|e| {
        bad(format!(
            "its signature does not verify with the handle's certificate ({e})"
        ))
    })
}
