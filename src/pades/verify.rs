//! Verification of the signatures in a PDF: a structured report per signature and a verdict.
//!
//! Pure: the validation time, the trust anchors and any CRLs are arguments. Per signature it
//! checks the byte range (two ranges from 0, the gap is exactly this signature's `/Contents`,
//! the signed revision ends at `%%EOF`), the digest, the CMS signature over the DER signed
//! attributes, the ESS signing-certificate-v2 hash, the certificate path to a trust anchor (each
//! link's signature, CA flags, validity at the validation time, unknown critical extensions),
//! the signer's key usage, revocation from the CRLs given and those in the document's DSS, and
//! what later incremental updates changed.
//!
//! Verdict: `valid` when every check passes; `invalid` with reasons when one fails;
//! `indeterminate` when everything else passes but revocation could not be established.
//! Not yet covered: timestamps (B-T and later, so the validation time is always the one
//! given), OCSP responses, DocMDP permission levels.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode, SliceReader};
use lopdf::{Document, Object};
use ring::digest::{Context, SHA256, SHA384, SHA512};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::Serialize;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::Certificate;

use super::cms::{
    SigningCertificateV2, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_CERTIFICATE_V2, ID_SIGNING_TIME,
};
use super::keys::check_signing_usage;
use super::{PadesError, PadesResult};

const ID_CONTENT_TYPE: ObjectIdentifier = super::cms::ID_CONTENT_TYPE;
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// Critical extensions this verifier understands (or that carry no constraint it must apply).
const KNOWN_CRITICAL: [&str; 6] = [
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.17",
    "2.5.29.32",
    "2.5.29.14",
];
const MAX_PATH: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Indeterminate,
    Invalid,
}

/// One signature's findings.
#[derive(Clone, Debug, Serialize)]
pub struct SignatureReport {
    pub field: Option<String>,
    pub sub_filter: Option<String>,
    /// `/M`, the time the signer claims (not trusted without a timestamp).
    pub claimed_time: Option<String>,
    pub signer: Option<String>,
    pub byte_range: Vec<i64>,
    /// Whether this signature covers the whole file (no later revision).
    pub covers_whole_file: bool,
    /// What later revisions changed, when they changed more than signing and validation data.
    pub modifications: Vec<String>,
    pub revocation: String,
    pub verdict: Verdict,
    /// Why the verdict is not `valid`.
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerificationReport {
    pub validation_time: String,
    pub signatures: Vec<SignatureReport>,
    pub verdict: Verdict,
}

/// What a verification trusts and when it validates.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub trust: Vec<Certificate>,
    pub crls: Vec<CertificateList>,
    pub at: DateTime<Utc>,
    /// Accept a signature whose revocation status is unknown (like pyHanko's
    /// `--no-revocation-check`); its report still says so.
    pub allow_unknown_revocation: bool,
}

/// Loads CRLs from PEM (`X509 CRL` blocks) or DER.
pub fn load_crls(bytes: &[u8]) -> PadesResult<Vec<CertificateList>> {
    let blocks = super::keys::pem_blocks(bytes).map_err(|e| PadesError::Certificate(e.to_string()))?;
    blocks
        .into_iter()
        .filter(|(label, _)| label.is_empty() || label == "X509 CRL")
        .map(|(_, der)| CertificateList::from_der(&der).map_err(|e| PadesError::Certificate(format!("not a CRL: {e}"))))
        .collect()
}

fn name_of(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Verifies every signature in `pdf`.
pub fn verify_pdf(pdf: &[u8], opts: &VerifyOptions) -> PadesResult<VerificationReport> {
    let doc = Document::load_mem(pdf).map_err(|e| PadesError::Pdf(e.to_string()))?;
    let dss = dss_material(&doc);
    let mut signatures = Vec::new();
    for (field, sig) in signature_dictionaries(&doc) {
        signatures.push(verify_one(pdf, &doc, field, &sig, &dss, opts));
    }
    if signatures.is_empty() {
        return Err(PadesError::Pdf("the PDF has no signatures".into()));
    }
    let verdict = if signatures.iter().any(|s| s.verdict == Verdict::Invalid) {
        Verdict::Invalid
    } else if signatures.iter().any(|s| s.verdict == Verdict::Indeterminate) {
        Verdict::Indeterminate
    } else {
        Verdict::Valid
    };
    Ok(VerificationReport {
        validation_time: opts.at.to_rfc3339(),
        signatures,
        verdict,
    })
}

/// (field name, signature dictionary) of every signed signature field, in AcroForm order.
fn signature_dictionaries(doc: &Document) -> Vec<(Option<String>, lopdf::Dictionary)> {
    let mut out = Vec::new();
    let Ok(catalog) = doc.catalog() else { return out };
    let Some(acro) = catalog
        .get(b"AcroForm")
        .ok()
        .and_then(|a| doc.dereference(a).ok())
        .and_then(|(_, a)| a.as_dict().ok())
    else {
        return out;
    };
    let Some(fields) = acro
        .get(b"Fields")
        .ok()
        .and_then(|f| doc.dereference(f).ok())
        .and_then(|(_, f)| f.as_array().ok())
    else {
        return out;
    };
    for f in fields {
        let Some(field) = doc.dereference(f).ok().and_then(|(_, f)| f.as_dict().ok()) else {
            continue;
        };
        if field.get(b"FT").and_then(Object::as_name).ok() != Some(b"Sig".as_slice()) {
            continue;
        }
        let Some(sig) = field
            .get(b"V")
            .ok()
            .and_then(|v| doc.dereference(v).ok())
            .and_then(|(_, v)| v.as_dict().ok())
        else {
            continue;
        };
        let name = field.get(b"T").ok().and_then(|t| t.as_str().ok()).map(decode_text);
        out.push((name, sig.clone()));
    }
    out
}

/// A PDF text string (UTF-16BE with BOM, or PDFDocEncoding read as Latin-1).
fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

/// Certificates and CRLs from the document security store, if any.
struct Dss {
    certs: Vec<Certificate>,
    crls: Vec<CertificateList>,
}

fn dss_material(doc: &Document) -> Dss {
    let mut dss = Dss {
        certs: Vec::new(),
        crls: Vec::new(),
    };
    let Some(store) = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"DSS").ok())
        .and_then(|d| doc.dereference(d).ok())
        .and_then(|(_, d)| d.as_dict().ok())
    else {
        return dss;
    };
    let streams = |key: &[u8]| -> Vec<Vec<u8>> {
        store
            .get(key)
            .ok()
            .and_then(|a| doc.dereference(a).ok())
            .and_then(|(_, a)| a.as_array().ok())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| doc.dereference(i).ok())
                    .filter_map(|(_, s)| s.as_stream().ok())
                    .filter_map(|s| s.decompressed_content().ok().or_else(|| Some(s.content.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    dss.certs = streams(b"Certs")
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    dss.crls = streams(b"CRLs")
        .iter()
        .filter_map(|d| CertificateList::from_der(d).ok())
        .collect();
    dss
}

fn verify_one(
    pdf: &[u8],
    doc: &Document,
    field: Option<String>,
    sig: &lopdf::Dictionary,
    dss: &Dss,
    opts: &VerifyOptions,
) -> SignatureReport {
    let text = |k: &[u8]| sig.get(k).ok().and_then(|o| o.as_str().ok()).map(decode_text);
    let mut report = SignatureReport {
        field,
        sub_filter: sig
            .get(b"SubFilter")
            .and_then(Object::as_name)
            .ok()
            .map(|n| String::from_utf8_lossy(n).into_owned()),
        claimed_time: text(b"M"),
        signer: None,
        byte_range: Vec::new(),
        covers_whole_file: false,
        modifications: Vec::new(),
        revocation: "not checked".into(),
        verdict: Verdict::Invalid,
        reasons: Vec::new(),
    };
    match check_signature(pdf, doc, sig, dss, opts, &mut report) {
        Ok(()) if report.reasons.is_empty() => report.verdict = Verdict::Valid,
        Ok(()) => {}
        Err(reason) => report.reasons.push(reason),
    }
    if report.verdict != Verdict::Valid && report.reasons.is_empty() {
        report.reasons.push("unknown failure".into());
    }
    report
}

fn check_signature(
    pdf: &[u8],
    doc: &Document,
    sig: &lopdf::Dictionary,
    dss: &Dss,
    opts: &VerifyOptions,
    report: &mut SignatureReport,
) -> Result<(), String> {
    // ---- byte range
    let br: Vec<i64> = sig
        .get(b"ByteRange")
        .and_then(Object::as_array)
        .map_err(|_| "no /ByteRange".to_string())?
        .iter()
        .map(|o| o.as_i64().map_err(|_| "/ByteRange holds a non-integer".to_string()))
        .collect::<Result<_, _>>()?;
    report.byte_range = br.clone();
    let [b0, b1, b2, b3] = br[..] else {
        return Err("/ByteRange must hold exactly two ranges".into());
    };
    let len = pdf.len() as i64;
    if b0 != 0 || b1 <= 0 || b2 <= b1 || b3 < 0 || b2 + b3 > len {
        return Err(format!("/ByteRange {br:?} does not fit the file"));
    }
    let (b1, b2, end) = (b1 as usize, b2 as usize, (b2 + b3) as usize);
    if pdf[b1] != b'<' || pdf[b2 - 1] != b'>' {
        return Err("the /ByteRange gap is not a hex string".into());
    }
    let contents = sig
        .get(b"Contents")
        .and_then(Object::as_str)
        .map_err(|_| "no /Contents".to_string())?;
    let gap = hex::decode(&pdf[b1 + 1..b2 - 1]).map_err(|_| "the /ByteRange gap is not valid hex".to_string())?;
    if gap != contents {
        return Err("the /ByteRange gap is not this signature's /Contents".into());
    }
    let revision = &pdf[..end];
    let tail = revision.trim_ascii_end();
    if !tail.ends_with(b"%%EOF") {
        return Err("the signed revision does not end at %%EOF".into());
    }
    report.covers_whole_file = end == pdf.len();
    if !report.covers_whole_file {
        report.modifications = later_changes(revision, doc);
        if !report.modifications.is_empty() {
            report.reasons.push(format!(
                "the document was modified after signing: {}",
                report.modifications.join("; ")
            ));
        }
    }

    // ---- CMS
    let mut reader = SliceReader::new(contents).map_err(|e| format!("CMS: {e}"))?;
    let info = ContentInfo::decode(&mut reader).map_err(|e| format!("the CMS is not DER ContentInfo: {e}"))?;
    let used = info
        .encoded_len()
        .ok()
        .and_then(|l| usize::try_from(u32::from(l)).ok())
        .unwrap_or(contents.len());
    if !contents.get(used..).unwrap_or_default().iter().all(|&b| b == 0) {
        return Err("bytes after the CMS in /Contents are not zero padding".into());
    }
    if info.content_type != ID_SIGNED_DATA {
        return Err("the CMS is not SignedData".into());
    }
    let signed: SignedData = info.content.decode_as().map_err(|e| format!("SignedData: {e}"))?;
    if signed.encap_content_info.econtent_type != ID_DATA || signed.encap_content_info.econtent.is_some() {
        return Err("the CMS must be detached over id-data".into());
    }
    let signers: Vec<_> = signed.signer_infos.0.iter().collect();
    let [si] = signers[..] else {
        return Err(format!("PAdES needs exactly one SignerInfo, found {}", signers.len()));
    };
    let mut pool: Vec<Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    pool.extend(dss.certs.iter().cloned());
    let signer = pool
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate.issuer == isn.issuer && c.tbs_certificate.serial_number == isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => subject_key_id(c).as_deref() == Some(ski.0.as_bytes()),
        })
        .cloned()
        .ok_or("the signer's certificate is not in the CMS")?;
    report.signer = Some(name_of(&signer));

    // ---- digest and signed attributes
    let algorithm = match si.digest_alg.oid {
        o if o == SHA256_OID => &SHA256,
        o if o == SHA384_OID => &SHA384,
        o if o == SHA512_OID => &SHA512,
        o => return Err(format!("unsupported digest algorithm {o}")),
    };
    let mut ctx = Context::new(algorithm);
    ctx.update(&pdf[..b1]);
    ctx.update(&pdf[b2..end]);
    let digest = ctx.finish();
    let attrs = si.signed_attrs.as_ref().ok_or("the CMS has no signed attributes")?;
    let attr = |oid: ObjectIdentifier| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.iter().next());
    let md = attr(ID_MESSAGE_DIGEST).ok_or("no message-digest attribute")?;
    let md: OctetString = md.decode_as().map_err(|e| format!("message-digest: {e}"))?;
    if md.as_bytes() != digest.as_ref() {
        report
            .reasons
            .push("integrity: the document's digest does not match the signed message-digest".into());
    }
    let ct: ObjectIdentifier = attr(ID_CONTENT_TYPE)
        .ok_or("no content-type attribute")?
        .decode_as()
        .map_err(|e| format!("content-type: {e}"))?;
    if ct != ID_DATA {
        report.reasons.push("the content-type attribute is not id-data".into());
    }
    if attr(ID_SIGNING_TIME).is_some() && report.sub_filter.as_deref() == Some("ETSI.CAdES.detached") {
        report.reasons.push("PAdES forbids the signing-time attribute".into());
    }
    match attr(ID_SIGNING_CERTIFICATE_V2) {
        Some(v) => {
            let ess: SigningCertificateV2 = v.decode_as().map_err(|e| format!("signing-certificate-v2: {e}"))?;
            let cert_der = signer.to_der().map_err(|e| e.to_string())?;
            let hash = ring::digest::digest(&SHA256, &cert_der);
            if ess.certs.first().map(|c| c.cert_hash.as_bytes()) != Some(hash.as_ref()) {
                report
                    .reasons
                    .push("signing-certificate-v2 does not name the signer's certificate".into());
            }
        }
        None if report.sub_filter.as_deref() == Some("ETSI.CAdES.detached") => {
            report
                .reasons
                .push("PAdES needs the signing-certificate-v2 attribute".into());
        }
        None => {}
    }
    let signed_bytes = attrs.to_der().map_err(|e| e.to_string())?;
    verify_with(
        &signer,
        &si.signature_algorithm.oid,
        Some(&si.digest_alg.oid),
        &signed_bytes,
        si.signature.as_bytes(),
    )
    .map_err(|e| format!("the CMS signature does not verify: {e}"))?;

    // ---- certificate path, validity, key usage, revocation
    if let Err(e) = check_signing_usage(&signer) {
        report.reasons.push(e.to_string());
    }
    let path = build_path(&signer, &pool, &opts.trust, opts.at)?;
    let crls: Vec<&CertificateList> = opts.crls.iter().chain(&dss.crls).collect();
    match revocation(&path, &crls, opts.at) {
        Ok(()) => report.revocation = "good (CRL)".into(),
        Err(Revocation::Revoked(why)) => {
            report.revocation = "revoked".into();
            report.reasons.push(why);
        }
        Err(Revocation::Unknown(why)) => {
            report.revocation = format!("unknown: {why}");
            if report.reasons.is_empty() && !opts.allow_unknown_revocation {
                report.verdict = Verdict::Indeterminate;
                report.reasons.push(format!("revocation status unknown: {why}"));
            }
        }
    }
    Ok(())
}

fn subject_key_id(c: &Certificate) -> Option<Vec<u8>> {
    let ext = c
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id.to_string() == "2.5.29.14")?;
    let ski = OctetString::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(ski.as_bytes().to_vec())
}

/// Verifies `signature` over `message` with `cert`'s public key and the algorithm named by
/// `alg` (and, for plain rsaEncryption, the digest algorithm).
fn verify_with(
    cert: &Certificate,
    alg: &ObjectIdentifier,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki.subject_public_key.raw_bytes();
    let curve = if spki.algorithm.oid == EC_PUBLIC_KEY {
        spki.algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    } else {
        None
    };
    let algorithm: &dyn VerificationAlgorithm = match *alg {
        a if a == SHA256_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
        a if a == SHA384_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
        a if a == SHA512_RSA => &signature::RSA_PKCS1_2048_8192_SHA512,
        a if a == RSA_ENCRYPTION => match digest {
            Some(d) if *d == SHA384_OID => &signature::RSA_PKCS1_2048_8192_SHA384,
            Some(d) if *d == SHA512_OID => &signature::RSA_PKCS1_2048_8192_SHA512,
            _ => &signature::RSA_PKCS1_2048_8192_SHA256,
        },
        a if a == RSA_PSS => &signature::RSA_PSS_2048_8192_SHA256,
        a if a == ECDSA_SHA256 && curve == Some(P256) => &signature::ECDSA_P256_SHA256_ASN1,
        a if a == ECDSA_SHA256 && curve == Some(P384) => &signature::ECDSA_P384_SHA256_ASN1,
        a if a == ECDSA_SHA384 && curve == Some(P256) => &signature::ECDSA_P256_SHA384_ASN1,
        a if a == ECDSA_SHA384 && curve == Some(P384) => &signature::ECDSA_P384_SHA384_ASN1,
        a => return Err(format!("unsupported signature algorithm {a}")),
    };
    UnparsedPublicKey::new(algorithm, key)
        .verify(message, sig)
        .map_err(|_| "bad signature".to_string())
}

fn issued_by(child: &Certificate, issuer: &Certificate) -> bool {
    child.tbs_certificate.issuer == issuer.tbs_certificate.subject
        && child.tbs_certificate.to_der().is_ok_and(|tbs| {
            verify_with(
                issuer,
                &child.signature_algorithm.oid,
                None,
                &tbs,
                child.signature.raw_bytes(),
            )
            .is_ok()
        })
}

pub(crate) fn valid_at(cert: &Certificate, at: DateTime<Utc>) -> bool {
    let v = &cert.tbs_certificate.validity;
    let secs = at.timestamp();
    let from = v.not_before.to_unix_duration().as_secs() as i64;
    let to = v.not_after.to_unix_duration().as_secs() as i64;
    (from..=to).contains(&secs)
}

fn unknown_critical(cert: &Certificate) -> Option<String> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.critical && !KNOWN_CRITICAL.contains(&e.extn_id.to_string().as_str()))
        .map(|e| e.extn_id.to_string())
}

fn is_ca(cert: &Certificate) -> bool {
    let ext = |oid: ObjectIdentifier| {
        cert.tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == oid)
    };
    let ca = ext(BASIC_CONSTRAINTS)
        .and_then(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .is_some_and(|bc| bc.ca);
    let signs_certs = ext(KEY_USAGE)
        .and_then(|e| KeyUsage::from_der(e.extn_value.as_bytes()).ok())
        .is_none_or(|ku| ku.key_cert_sign());
    ca && signs_certs
}

/// The path from `leaf` up to (not including) a trust anchor, leaf first.
pub(crate) fn build_path(
    leaf: &Certificate,
    pool: &[Certificate],
    trust: &[Certificate],
    at: DateTime<Utc>,
) -> Result<Vec<Certificate>, String> {
    let mut path = vec![leaf.clone()];
    let mut seen = HashSet::new();
    loop {
        let current = path.last().cloned().ok_or("empty path")?;
        if let Some(ext) = unknown_critical(&current) {
            return Err(format!("{} has an unknown critical extension {ext}", name_of(&current)));
        }
        if !valid_at(&current, at) {
            return Err(format!(
                "{} is not valid at the validation time {}",
                name_of(&current),
                at.to_rfc3339()
            ));
        }
        if let Some(anchor) = trust.iter().find(|a| issued_by(&current, a)) {
            if !valid_at(anchor, at) {
                return Err(format!(
                    "the trust anchor {} is not valid at the validation time",
                    name_of(anchor)
                ));
            }
            return Ok(path);
        }
        if path.len() > MAX_PATH {
            return Err("the certificate path is too long".into());
        }
        let issuer = pool
            .iter()
            .find(|c| issued_by(&current, c) && seen.insert(c.tbs_certificate.serial_number.as_bytes().to_vec()))
            .ok_or_else(|| format!("no path from {} to a trust anchor", name_of(leaf)))?;
        if !is_ca(issuer) {
            return Err(format!(
                "{} is not a CA but issued {}",
                name_of(issuer),
                name_of(&current)
            ));
        }
        path.push(issuer.clone());
    }
}

pub(crate) enum Revocation {
    Revoked(String),
    Unknown(String),
}

/// Every certificate of the path must be covered by a CRL of its issuer that verifies.
pub(crate) fn revocation(path: &[Certificate], crls: &[&CertificateList], at: DateTime<Utc>) -> Result<(), Revocation> {
    for (i, cert) in path.iter().enumerate() {
        let issuer = path.get(i + 1);
        let crl = crls.iter().find(|crl| {
            crl.tbs_cert_list.issuer == cert.tbs_certificate.issuer
                && match issuer {
                    Some(issuer) => crl_signed_by(crl, issuer),
                    // The top of the path is issued by an anchor we hold only by name here; the
                    // anchor's CRL is accepted when its issuer name matches.
                    None => true,
                }
        });
        let Some(crl) = crl else {
            return Err(Revocation::Unknown(format!("no CRL for {}", name_of(cert))));
        };
        if let Some(entry) = crl
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .find(|r| r.serial_number == cert.tbs_certificate.serial_number)
        {
            let when = entry.revocation_date.to_unix_duration().as_secs() as i64;
            if when <= at.timestamp() {
                return Err(Revocation::Revoked(format!(
                    "{} was revoked on {}",
                    name_of(cert),
                    DateTime::from_timestamp(when, 0)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}

fn crl_signed_by(crl: &CertificateList, issuer: &Certificate) -> bool {
    crl.tbs_cert_list.to_der().is_ok_and(|tbs| {
        verify_with(
            issuer,
            &crl.signature_algorithm.oid,
            None,
            &tbs,
            crl.signature.raw_bytes(),
        )
        .is_ok()
    })
}

/// What the revisions after `revision` changed beyond signature fields, their widgets, the
/// AcroForm's field list and the DSS. Empty when nothing else changed.
fn later_changes(revision: &[u8], full: &Document) -> Vec<String> {
    let Ok(old) = Document::load_mem(revision) else {
        return vec!["the signed revision cannot be read on its own".into()];
    };
    let mut changes = Vec::new();
    // Keys a later signature or validation-data update may set: the form, the DSS, a page's
    // widgets, and the catalog's version, extension and XMP metadata markers (pyHanko sets these).
    let allowed_keys: [&[u8]; 6] = [b"AcroForm", b"DSS", b"Annots", b"Version", b"Extensions", b"Metadata"];
    let info = full.trailer.get(b"Info").and_then(Object::as_reference).ok();
    for (id, new_obj) in &full.objects {
        let Some(old_obj) = old.objects.get(id) else { continue };
        if old_obj == new_obj || Some(*id) == info || is_xmp(new_obj) {
            continue;
        }
        let ok = match (old_obj.as_dict(), new_obj.as_dict()) {
            (Ok(a), Ok(b)) => {
                let strip = |d: &lopdf::Dictionary| {
                    let mut d = d.clone();
                    for k in allowed_keys {
                        d.remove(k);
                    }
                    let is_acroform = d.has(b"Fields");
                    if is_acroform {
                        d.remove(b"Fields");
                        d.remove(b"SigFlags");
                    }
                    d
                };
                strip(a) == strip(b) && annots_only_signatures(full, a, b)
            }
            // Arrays (a field list or annotation list held in its own object) may only grow.
            _ => match (old_obj.as_array(), new_obj.as_array()) {
                (Ok(a), Ok(b)) => b.starts_with(a) && b[a.len()..].iter().all(|o| is_signature_widget(full, o)),
                _ => false,
            },
        };
        if !ok {
            let kind = new_obj
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|| kind_of(new_obj).to_string());
            changes.push(format!("object {} {} ({kind}) changed", id.0, id.1));
        }
    }
    changes
}

fn is_signature_widget(doc: &Document, o: &Object) -> bool {
    doc.dereference(o)
        .ok()
        .and_then(|(_, o)| o.as_dict().ok())
        .is_some_and(|d| d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig".as_slice()))
}

/// A page's `/Annots` may only gain signature widgets.
fn annots_only_signatures(doc: &Document, old: &lopdf::Dictionary, new: &lopdf::Dictionary) -> bool {
    let list = |d: &lopdf::Dictionary| -> Vec<Object> {
        d.get(b"Annots")
            .ok()
            .and_then(|a| doc.dereference(a).ok())
            .and_then(|(_, a)| a.as_array().ok().cloned())
            .unwrap_or_default()
    };
    let (a, b) = (list(old), list(new));
    b.starts_with(&a) && b[a.len()..].iter().all(|o| is_signature_widget(doc, o))
}

fn kind_of(o: &Object) -> &'static str {
    match o {
        Object::Dictionary(_) => "dictionary",
        Object::Stream(_) => "stream",
        Object::Array(_) => "array",
        Object::String(..) => "string",
        _ => "value",
    }
}

/// An XMP metadata stream (document information, not content).
fn is_xmp(o: &Object) -> bool {
    o.as_stream().is_ok_and(|s| {
        s.dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Metadata".as_slice())
            && s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"XML".as_slice())
    })
}
