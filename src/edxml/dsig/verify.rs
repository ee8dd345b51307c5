//! Verification of a packet's enveloped signature. Opt-in: parsing never verifies.
//!
//! Two streaming passes over the input: the first finds and captures the first `Signature`
//! element (any namespace; EdXML102 writes it unqualified), the second canonicalizes the
//! document without it, as its reference's transforms say, straight into the digest. Then the
//! `SignatureValue` is checked over the canonical `SignedInfo` with the `KeyInfo` certificate,
//! and that certificate's path to a trust anchor, its validity, key usage and revocation with
//! the PAdES verifier's helpers.
//!
//! Strict where it matters against signature wrapping: exactly one `Reference`, and it must
//! be the whole document (`URI=""`) with the enveloped-signature transform.

use std::io::{self, BufRead, BufWriter, Seek, SeekFrom, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use der::asn1::ObjectIdentifier;
use der::Decode;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use super::algorithms as alg;
use super::c14n::{Context, Mode};
use super::scan::{scan, Captured, Scan};
use super::signature::{canonical_signed_info, mode_for, parts};
use super::{DsigError, DsigReport};
use crate::edxml::Limits;
use crate::pades::keys::check_signing_usage;
use crate::pades::verify::{build_path, revocation, Revocation};
use crate::pades::{Verdict, VerifyOptions};

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

enum Finding {
    Invalid(String),
    Indeterminate(String),
}

use Finding::{Indeterminate, Invalid};

#[derive(Clone, Copy)]
enum SignatureAlgorithm {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

fn signature_algorithm(uri: &str) -> Result<SignatureAlgorithm, Finding> {
    Ok(match uri {
        alg::RSA_SHA256 => SignatureAlgorithm::RsaSha256,
        alg::RSA_SHA384 => SignatureAlgorithm::RsaSha384,
        alg::RSA_SHA512 => SignatureAlgorithm::RsaSha512,
        alg::ECDSA_SHA256 => SignatureAlgorithm::EcdsaSha256,
        alg::ECDSA_SHA384 => SignatureAlgorithm::EcdsaSha384,
        alg::RSA_SHA1 => {
            return Err(Indeterminate(
                "signature method rsa-sha1 is refused: SHA-1 is no longer safe for signatures".into(),
            ))
        }
        other => return Err(Indeterminate(format!("unsupported signature method {other:?}"))),
    })
}

fn digest_algorithm(uri: &str) -> Result<&'static ring::digest::Algorithm, Finding> {
    Ok(match uri {
        alg::SHA256 => &ring::digest::SHA256,
        alg::SHA384 => &ring::digest::SHA384,
        alg::SHA512 => &ring::digest::SHA512,
        alg::SHA1 => {
            return Err(Indeterminate(
                "digest method sha1 is refused: SHA-1 is no longer safe for signatures".into(),
            ))
        }
        other => return Err(Indeterminate(format!("unsupported digest method {other:?}"))),
    })
}

fn base64(text: &str, what: &str) -> Result<Vec<u8>, Finding> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(Invalid(format!("{what} is empty")));
    }
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| Invalid(format!("{what} is not valid base64: {e}")))
}

/// Verifies the enveloped signature of the packet in `input` (read twice: it must seek).
/// `Err` when the input is not well-formed XML or carries no `Signature`; otherwise a report.
pub fn verify_packet<R: BufRead + Seek>(
    mut input: R,
    opts: &VerifyOptions,
    limits: &Limits,
) -> Result<DsigReport, DsigError> {
    let captured = scan(
        &mut input,
        Scan {
            limits,
            context: Context::default(),
            canonical: None,
            capture_signature: true,
        },
    )?
    .ok_or(DsigError::NoSignature)?;
    let mut report = DsigReport {
        validation_time: opts.at.to_rfc3339(),
        signature_namespace: captured.namespace.clone(),
        canonicalization: None,
        signature_method: None,
        digest_method: None,
        transforms: Vec::new(),
        digest_matches: None,
        signature_matches: None,
        signer: None,
        certificate_path: Vec::new(),
        revocation: "not checked".into(),
        verdict: Verdict::Invalid,
        reasons: Vec::new(),
    };
    match check(&captured, &mut input, opts, limits, &mut report) {
        Ok(()) if report.reasons.is_empty() => report.verdict = Verdict::Valid,
        Ok(()) => report.verdict = Verdict::Invalid,
        Err(Invalid(reason)) => {
            report.reasons.push(reason);
            report.verdict = Verdict::Invalid;
        }
        Err(Indeterminate(reason)) => {
            report.verdict = if report.reasons.is_empty() {
                Verdict::Indeterminate
            } else {
                Verdict::Invalid
            };
            report.reasons.push(reason);
        }
    }
    Ok(report)
}

fn name_of(c: &Certificate) -> String {
    c.tbs_certificate.subject.to_string()
}

fn check<R: BufRead + Seek>(
    captured: &Captured,
    input: &mut R,
    opts: &VerifyOptions,
    limits: &Limits,
    report: &mut DsigReport,
) -> Result<(), Finding> {
    if captured.depth == 0 {
        return Err(Invalid(
            "the Signature is the root element: an enveloped signature must sit inside the packet".into(),
        ));
    }
    let p = parts(captured).map_err(Invalid)?;
    report.canonicalization = p.c14n.clone();
    report.signature_method = p.signature_method.clone();

    // ---- what the signature claims, and whether we can check it
    let c14n_uri = p
        .c14n
        .as_deref()
        .ok_or_else(|| Invalid("SignedInfo has no CanonicalizationMethod".into()))?;
    let signed_info_mode = mode_for(c14n_uri, &p.c14n_prefixes)
        .ok_or_else(|| Indeterminate(format!("unsupported canonicalization method {c14n_uri:?}")))?;
    let method = signature_algorithm(
        p.signature_method
            .as_deref()
            .ok_or_else(|| Invalid("SignedInfo has no SignatureMethod".into()))?,
    )?;
    let [reference] = &p.references[..] else {
        return Err(Invalid(format!(
            "SignedInfo must hold exactly one Reference (to the whole packet), found {}",
            p.references.len()
        )));
    };
    report.digest_method = reference.digest_method.clone();
    report.transforms = reference.transforms.iter().map(|(t, _)| t.clone()).collect();
    if reference.uri.as_deref() != Some("") {
        return Err(Invalid(format!(
            "the Reference must cover the whole packet (URI=\"\"), found URI={:?}",
            reference.uri.as_deref().unwrap_or("(none)")
        )));
    }
    let enveloped = reference.transforms.iter().filter(|(t, _)| t == alg::ENVELOPED).count();
    if enveloped != 1 {
        return Err(Invalid(
            "the Reference needs the enveloped-signature transform exactly once".into(),
        ));
    }
    let others: Vec<&(String, Vec<String>)> = reference
        .transforms
        .iter()
        .filter(|(t, _)| t != alg::ENVELOPED)
        .collect();
    let reference_mode = match others[..] {
        [] => Mode::default(),
        [(uri, prefixes)] => {
            let mut mode =
                mode_for(uri, prefixes).ok_or_else(|| Indeterminate(format!("unsupported transform {uri:?}")))?;
            // URI="" selects the document without comments, whatever the method says.
            mode.comments = false;
            mode
        }
        _ => {
            return Err(Indeterminate(
                "more transforms than enveloped-signature and one canonicalization".into(),
            ))
        }
    };
    let digest_alg = digest_algorithm(
        reference
            .digest_method
            .as_deref()
            .ok_or_else(|| Invalid("the Reference has no DigestMethod".into()))?,
    )?;
    let expected_digest = base64(
        reference
            .digest_value
            .as_deref()
            .ok_or_else(|| Invalid("the Reference has no DigestValue".into()))?,
        "DigestValue",
    )?;
    let signature_value = base64(
        p.signature_value
            .as_deref()
            .ok_or_else(|| Invalid("the Signature has no SignatureValue".into()))?,
        "SignatureValue",
    )?;
    if !p.key_info {
        return Err(Indeterminate(
            "the Signature has no KeyInfo: the signer's certificate is unknown".into(),
        ));
    }
    if p.certificates.is_empty() {
        return Err(Indeterminate(
            "KeyInfo holds no X509Certificate: the signer's certificate is unknown".into(),
        ));
    }
    let mut certs = Vec::new();
    for (i, text) in p.certificates.iter().enumerate() {
        let der = base64(text, &format!("KeyInfo X509Certificate {}", i + 1))?;
        certs.push(Certificate::from_der(&der).map_err(|e| {
            Invalid(format!(
                "KeyInfo X509Certificate {} is not an X.509 certificate: {e}",
                i + 1
            ))
        })?);
    }

    // ---- signature value over the canonical SignedInfo
    let signed_info = canonical_signed_info(captured, &p, signed_info_mode)
        .map_err(|e| Invalid(format!("SignedInfo cannot be canonicalized: {e}")))?;
    let signer = certs
        .iter()
        .position(|c| verify_value(c, method, &signed_info, &signature_value));
    report.signature_matches = Some(signer.is_some());

    // ---- digest of the canonical packet without its signature
    let digest = document_digest(input, reference_mode, digest_alg, limits)
        .map_err(|e| Invalid(format!("the packet cannot be canonicalized: {e}")))?;
    let digest_ok = digest.as_slice() == expected_digest.as_slice();
    report.digest_matches = Some(digest_ok);
    if !digest_ok {
        report
            .reasons
            .push("integrity: the packet's digest does not match DigestValue (the signed content was changed)".into());
    }
    let Some(signer_index) = signer else {
        return Err(Invalid(
            "the SignatureValue does not verify with the KeyInfo certificate (SignedInfo changed, or not the signer's certificate)"
                .into(),
        ));
    };
    let signer = &certs[signer_index];
    report.signer = Some(name_of(signer));

    // ---- the signer's certificate
    if let Err(e) = check_signing_usage(signer) {
        report.reasons.push(e.to_string());
    }
    let pool: Vec<Certificate> = certs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != signer_index)
        .map(|(_, c)| c.clone())
        .collect();
    let path = build_path(signer, &pool, &opts.trust, opts.at).map_err(Invalid)?;
    report.certificate_path = path.iter().map(name_of).collect();
    let crls: Vec<&CertificateList> = opts.crls.iter().collect();
    match revocation(&path, &opts.trust, &crls, &[], opts.at, opts.at) {
        Ok(how) => report.revocation = how,
        Err(Revocation::Revoked(why)) => {
            report.revocation = "revoked".into();
            report.reasons.push(why);
        }
        Err(Revocation::Unknown(why)) => {
            report.revocation = format!("unknown: {why}");
            if !opts.allow_unknown_revocation {
                return Err(Indeterminate(format!("revocation status unknown: {why}")));
            }
        }
    }
    Ok(())
}

fn document_digest<R: BufRead + Seek>(
    input: &mut R,
    mode: Mode,
    algorithm: &'static ring::digest::Algorithm,
    limits: &Limits,
) -> Result<Vec<u8>, DsigError> {
    input.seek(SeekFrom::Start(0))?;
    let mut hasher = DigestWriter(ring::digest::Context::new(algorithm));
    {
        let mut buffered = BufWriter::with_capacity(64 * 1024, &mut hasher);
        scan(
            &mut *input,
            Scan {
                limits,
                context: Context::default(),
                canonical: Some((mode, &mut buffered)),
                capture_signature: true,
            },
        )?;
        buffered.flush()?;
    }
    Ok(hasher.0.finish().as_ref().to_vec())
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

/// Whether `sig` is `cert`'s key's signature over `message` (ECDSA as r ‖ s).
fn verify_value(cert: &Certificate, method: SignatureAlgorithm, message: &[u8], sig: &[u8]) -> bool {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let curve = (spki.algorithm.oid == EC_PUBLIC_KEY)
        .then(|| {
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
        })
        .flatten();
    let algorithm: &dyn VerificationAlgorithm = match (method, curve) {
        (SignatureAlgorithm::RsaSha256, None) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (SignatureAlgorithm::RsaSha384, None) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (SignatureAlgorithm::RsaSha512, None) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (SignatureAlgorithm::EcdsaSha256, Some(c)) if c == P256 => &signature::ECDSA_P256_SHA256_FIXED,
        (SignatureAlgorithm::EcdsaSha384, Some(c)) if c == P384 => &signature::ECDSA_P384_SHA384_FIXED,
        _ => return false,
    };
    UnparsedPublicKey::new(algorithm, spki.subject_public_key.raw_bytes())
        .verify(message, sig)
        .is_ok()
}
