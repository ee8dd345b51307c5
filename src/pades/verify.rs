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
//!
//! Time-stamps: a signature time-stamp token (B-T) is checked (`timestamp::check_token`) and its
//! genTime becomes the signature's validation time; a `/DocTimeStamp` (B-LTA) is reported as
//! its own entry (`kind: document_timestamp`). Revocation uses OCSP responses (DSS) before CRLs.
//! Each signature reports the level reached (B-B, B-T, B-LT, B-LTA).
//! An OCSP response counts only while fresh: thisUpdate no later than the verifier's clock and
//! nextUpdate no earlier than the validation time (5 minutes' tolerance each).
//! Data fetched online (`vanthu pdf verify --online`) comes in through [`verify_pdf_with`].
//!
//! Certification (DocMDP): the catalog's `/Perms /DocMDP` names the certification signature,
//! whose `/Reference` carries the permission level `P`. That signature is reported with
//! `certification: Some(P)`, must be the document's first signature, and the level governs what
//! later revisions may change for every signature of the document: P=1 only validation data
//! (DSS, document time-stamps); P=2 also form filling and signing pre-created signature fields;
//! P=3 also annotations. A violation makes the certification signature invalid.

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
    /// `signature` or `document_timestamp` (a B-LTA `/DocTimeStamp`).
    pub kind: String,
    /// PAdES level reached: `B-B`, `B-T` (a valid signature time-stamp), `B-LT` (and the DSS
    /// alone establishes revocation), `B-LTA` (and a later valid document time-stamp).
    pub level: Option<String>,
    /// The signature time-stamp (for a document time-stamp: the token itself), when valid.
    pub timestamp: Option<TimestampReport>,
    pub sub_filter: Option<String>,
    /// `/M`, the time the signer claims (not trusted without a timestamp).
    pub claimed_time: Option<String>,
    pub signer: Option<String>,
    pub byte_range: Vec<i64>,
    /// Whether this signature covers the whole file (no later revision).
    pub covers_whole_file: bool,
    /// The DocMDP permission level `P` (1, 2 or 3) when this is the certification signature.
    pub certification: Option<u8>,
    /// What later revisions changed, when they changed more than signing and validation data.
    pub modifications: Vec<String>,
    pub revocation: String,
    pub verdict: Verdict,
    /// Why the verdict is not `valid`.
    pub reasons: Vec<String>,
}

/// A time-stamp token that verified.
#[derive(Clone, Debug, Serialize)]
pub struct TimestampReport {
    /// genTime: the validation time of the signature it stamps.
    pub time: String,
    pub tsa: String,
    pub revocation: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerificationReport {
    pub validation_time: String,
    pub signatures: Vec<SignatureReport>,
    pub verdict: Verdict,
    /// Problems of the document as a whole (e.g. a `/Perms /DocMDP` that names no signature).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
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

pub(crate) fn name_of(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Verifies every signature in `pdf`.
pub fn verify_pdf(pdf: &[u8], opts: &VerifyOptions) -> PadesResult<VerificationReport> {
    verify_pdf_with(pdf, opts, &super::ltv::ValidationData::default())
}

/// [`verify_pdf`] with validation data from outside the document (e.g. fetched online):
/// its certificates, CRLs and OCSP responses count for revocation, but not towards B-LT.
pub fn verify_pdf_with(
    pdf: &[u8],
    opts: &VerifyOptions,
    extra: &super::ltv::ValidationData,
) -> PadesResult<VerificationReport> {
    let doc = Document::load_mem(pdf).map_err(|e| PadesError::Pdf(e.to_string()))?;
    let mut dss = dss_material(&doc);
    dss.all_ocsps = dss.ocsps.iter().chain(&extra.ocsps).cloned().collect();
    dss.extra_certs = extra
        .certs
        .iter()
        .filter_map(|d| Certificate::from_der(d).ok())
        .collect();
    let mut with_extra;
    let opts = if extra.crls.is_empty() {
        opts
    } else {
        with_extra = opts.clone();
        with_extra
            .crls
            .extend(extra.crls.iter().filter_map(|d| CertificateList::from_der(d).ok()));
        &with_extra
    };
    let entries = signature_entries(&doc);
    if entries.is_empty() {
        return Err(PadesError::Pdf("the PDF has no signatures".into()));
    }
    let mdp = docmdp_of(&doc);
    // An unreadable P allows nothing (the certification is reported invalid anyway).
    let policy = ChangePolicy::of(mdp.as_ref().map(|m| m.perm.unwrap_or(super::MdpPerm::NoChanges)));
    let mut reasons = Vec::new();
    // Which entry the catalog's /Perms /DocMDP names, and the first signature of the document.
    let certifying = mdp.as_ref().and_then(|m| {
        entries
            .iter()
            .position(|(_, id, _)| m.sig_id.is_some() && *id == m.sig_id)
    });
    if mdp.is_some() && certifying.is_none() {
        reasons.push("/Perms /DocMDP does not name any signature of the document".into());
    }
    let first = entries
        .iter()
        .enumerate()
        .filter_map(|(i, (_, _, sig))| Some((i, revision_end(sig)?)))
        .min_by_key(|&(_, end)| end)
        .map(|(i, _)| i);
    let mut signatures = Vec::new();
    for (i, (field, _, sig)) in entries.iter().enumerate() {
        let certification = if Some(i) == certifying {
            Some(Certification {
                level: mdp.as_ref().and_then(|m| m.perm).map(super::MdpPerm::level),
                raw: mdp.as_ref().map_or(0, |m| m.raw),
                first: first == Some(i),
            })
        } else {
            None
        };
        let ctx = DocContext { policy, certification };
        let mut report = verify_one(pdf, &doc, field.clone(), sig, &dss, opts, &ctx);
        if certification.is_none() && has_docmdp_reference(sig) {
            report.reasons.push(
                "the signature claims to certify the document (DocMDP) but /Perms /DocMDP does not name it".into(),
            );
            report.verdict = Verdict::Invalid;
        }
        signatures.push(report);
    }
    // B-LTA: a B-LT signature followed by a valid document time-stamp over a later revision.
    let stamped_ends: Vec<i64> = signatures
        .iter()
        .filter(|s| s.kind == "document_timestamp" && s.verdict == Verdict::Valid)
        .filter_map(|s| Some(s.byte_range.get(2)? + s.byte_range.get(3)?))
        .collect();
    for s in &mut signatures {
        let end = s.byte_range.get(2).zip(s.byte_range.get(3)).map(|(a, b)| a + b);
        if s.level.as_deref() == Some("B-LT") && end.is_some_and(|e| stamped_ends.iter().any(|&d| d > e)) {
            s.level = Some("B-LTA".into());
        }
    }
    let verdict = if !reasons.is_empty() || signatures.iter().any(|s| s.verdict == Verdict::Invalid) {
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
        reasons,
    })
}

/// The certification signature: its DocMDP level, as read (`raw`), and whether it is the
/// document's first signature.
#[derive(Clone, Copy, Debug)]
struct Certification {
    level: Option<u8>,
    raw: i64,
    first: bool,
}

/// What one signature's checks need to know about the document.
struct DocContext {
    policy: ChangePolicy,
    certification: Option<Certification>,
}

/// What later revisions may change besides validation data (DSS, document time-stamps).
#[derive(Clone, Copy, Debug)]
struct ChangePolicy {
    /// Signatures may be added.
    signatures: bool,
    /// New visible signature fields may be created (invisible ones always may, as pyHanko
    /// and Acrobat allow; pyHanko refuses new visible ones after a certification).
    new_visible_signature_fields: bool,
    /// Form fields other than signatures may be filled in.
    form_filling: bool,
    /// Annotations (not widgets) may be created, deleted and changed.
    annotations: bool,
}

impl ChangePolicy {
    /// Without certification: signatures in new fields (and nothing else); with it, per `P`
    /// (an unreadable `P` allows nothing).
    fn of(perm: Option<super::MdpPerm>) -> Self {
        use super::MdpPerm::*;
        let (signatures, new_visible_signature_fields, form_filling, annotations) = match perm {
            None => (true, true, false, false),
            Some(NoChanges) => (false, false, false, false),
            Some(FormFilling) => (true, false, true, false),
            Some(Annotations) => (true, false, true, true),
        };
        Self {
            signatures,
            new_visible_signature_fields,
            form_filling,
            annotations,
        }
    }
}

/// The certification of a document: `/Perms /DocMDP` and the `P` of its DocMDP reference.
#[derive(Clone, Debug)]
pub(crate) struct DocMdp {
    /// The signature dictionary /Perms /DocMDP refers to (`None` when it is not a reference).
    pub sig_id: Option<lopdf::ObjectId>,
    /// The permission level; `None` when `P` is not 1, 2 or 3.
    pub perm: Option<super::MdpPerm>,
    /// `P` as written (2 when absent, as ISO 32000 says).
    pub raw: i64,
}

/// Reads the catalog's `/Perms /DocMDP`, if any.
pub(crate) fn docmdp_of(doc: &Document) -> Option<DocMdp> {
    let perms = doc
        .catalog()
        .ok()?
        .get(b"Perms")
        .ok()
        .and_then(|p| doc.dereference(p).ok())
        .and_then(|(_, p)| p.as_dict().ok())?;
    let entry = perms.get(b"DocMDP").ok()?;
    let sig_id = entry.as_reference().ok();
    let raw = doc
        .dereference(entry)
        .ok()
        .and_then(|(_, s)| s.as_dict().ok())
        .and_then(|sig| docmdp_p(doc, sig))
        .unwrap_or(0);
    Some(DocMdp {
        sig_id,
        perm: super::MdpPerm::from_level(raw),
        raw,
    })
}

/// The `P` of a signature dictionary's DocMDP transform (2 when `/P` is absent).
fn docmdp_p(doc: &Document, sig: &lopdf::Dictionary) -> Option<i64> {
    let refs = sig
        .get(b"Reference")
        .ok()
        .and_then(|r| doc.dereference(r).ok())
        .and_then(|(_, r)| r.as_array().ok())?;
    refs.iter()
        .filter_map(|r| doc.dereference(r).ok().and_then(|(_, r)| r.as_dict().ok()))
        .find(|r| r.get(b"TransformMethod").and_then(Object::as_name).ok() == Some(b"DocMDP".as_slice()))
        .map(|r| {
            r.get(b"TransformParams")
                .ok()
                .and_then(|p| doc.dereference(p).ok())
                .and_then(|(_, p)| p.as_dict().ok())
                .and_then(|p| p.get(b"P").ok())
                .map_or(2, |p| p.as_i64().unwrap_or(0))
        })
}

fn has_docmdp_reference(sig: &lopdf::Dictionary) -> bool {
    sig.get(b"Reference").and_then(Object::as_array).is_ok_and(|refs| {
        refs.iter().any(|r| {
            r.as_dict()
                .is_ok_and(|r| r.get(b"TransformMethod").and_then(Object::as_name).ok() == Some(b"DocMDP".as_slice()))
        })
    })
}

/// Where the revision a signature dictionary signs ends (`b + c` of its byte range).
fn revision_end(sig: &lopdf::Dictionary) -> Option<i64> {
    let br = sig.get(b"ByteRange").and_then(Object::as_array).ok()?;
    Some(br.get(2)?.as_i64().ok()? + br.get(3)?.as_i64().ok()?)
}

/// (field name, signature dictionary) of every signed signature field, in AcroForm order.
pub(crate) fn signature_dictionaries(doc: &Document) -> Vec<(Option<String>, lopdf::Dictionary)> {
    signature_entries(doc).into_iter().map(|(n, _, d)| (n, d)).collect()
}

type SignatureEntry = (Option<String>, Option<lopdf::ObjectId>, lopdf::Dictionary);

/// [`signature_dictionaries`] with the id of each signature dictionary (when indirect).
fn signature_entries(doc: &Document) -> Vec<SignatureEntry> {
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
        let Some((sig_id, sig)) = field
            .get(b"V")
            .ok()
            .and_then(|v| doc.dereference(v).ok())
            .and_then(|(id, v)| Some((id, v.as_dict().ok()?)))
        else {
            continue;
        };
        let name = field.get(b"T").ok().and_then(|t| t.as_str().ok()).map(decode_text);
        out.push((name, sig_id, sig.clone()));
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
    present: bool,
    certs: Vec<Certificate>,
    crls: Vec<CertificateList>,
    /// DER OCSPResponses.
    ocsps: Vec<Vec<u8>>,
    /// The DSS's OCSP responses and those from outside the document.
    all_ocsps: Vec<Vec<u8>>,
    /// Certificates from outside the document.
    extra_certs: Vec<Certificate>,
}

fn dss_material(doc: &Document) -> Dss {
    let mut dss = Dss {
        present: false,
        certs: Vec::new(),
        crls: Vec::new(),
        ocsps: Vec::new(),
        all_ocsps: Vec::new(),
        extra_certs: Vec::new(),
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
    dss.ocsps = streams(b"OCSPs");
    dss.present = true;
    dss
}

fn verify_one(
    pdf: &[u8],
    doc: &Document,
    field: Option<String>,
    sig: &lopdf::Dictionary,
    dss: &Dss,
    opts: &VerifyOptions,
    ctx: &DocContext,
) -> SignatureReport {
    let text = |k: &[u8]| sig.get(k).ok().and_then(|o| o.as_str().ok()).map(decode_text);
    let is_doc_ts = sig.get(b"SubFilter").and_then(Object::as_name).ok() == Some(b"ETSI.RFC3161".as_slice())
        || sig.get(b"Type").and_then(Object::as_name).ok() == Some(b"DocTimeStamp".as_slice());
    let mut report = SignatureReport {
        field,
        kind: if is_doc_ts { "document_timestamp" } else { "signature" }.into(),
        level: None,
        timestamp: None,
        sub_filter: sig
            .get(b"SubFilter")
            .and_then(Object::as_name)
            .ok()
            .map(|n| String::from_utf8_lossy(n).into_owned()),
        claimed_time: text(b"M"),
        signer: None,
        byte_range: Vec::new(),
        covers_whole_file: false,
        certification: ctx.certification.and_then(|c| c.level),
        modifications: Vec::new(),
        revocation: "not checked".into(),
        verdict: Verdict::Invalid,
        reasons: Vec::new(),
    };
    if let Some(c) = ctx.certification {
        if is_doc_ts {
            report.reasons.push("/Perms /DocMDP names a document time-stamp".into());
        }
        if c.level.is_none() {
            report
                .reasons
                .push(format!("the DocMDP permission level P={} is not 1, 2 or 3", c.raw));
        }
        if !c.first {
            report
                .reasons
                .push("the certification signature is not the document's first signature".into());
        }
    }
    let checked = if is_doc_ts {
        check_document_timestamp(pdf, doc, sig, dss, opts, ctx, &mut report)
    } else {
        check_signature(pdf, doc, sig, dss, opts, ctx, &mut report)
    };
    match checked {
        Ok(()) if report.reasons.is_empty() => report.verdict = Verdict::Valid,
        Ok(()) => {}
        Err(reason) => report.reasons.push(reason),
    }
    if report.verdict != Verdict::Valid && report.reasons.is_empty() {
        report.reasons.push("unknown failure".into());
    }
    report
}

/// The byte range checks shared by signatures and document time-stamps. Returns the gap
/// (`b1`, `b2`), the end of the signed revision and the `/Contents` bytes.
fn check_byte_range<'a>(
    pdf: &[u8],
    doc: &Document,
    sig: &'a lopdf::Dictionary,
    ctx: &DocContext,
    report: &mut SignatureReport,
) -> Result<(usize, usize, usize, &'a [u8]), String> {
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
        report.modifications = later_changes(revision, doc, ctx.policy);
        if !report.modifications.is_empty() {
            let what = report.modifications.join("; ");
            report.reasons.push(match ctx.certification {
                Some(c) => format!("changed after certification with P={}: {what}", c.raw),
                None => format!("the document was modified after signing: {what}"),
            });
        }
    }
    Ok((b1, b2, end, contents))
}

/// A DER ContentInfo at the start of `/Contents`, followed only by zero padding.
pub(crate) fn decode_padded_cms(contents: &[u8]) -> Result<ContentInfo, String> {
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
    Ok(info)
}

/// The certificates of a SignedData's certificate set.
pub(crate) fn certificates_of(signed: &SignedData) -> Vec<Certificate> {
    signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// The certificate a SignerInfo names, from `pool`.
pub(crate) fn signer_of(si: &cms::signed_data::SignerInfo, pool: &[Certificate]) -> Option<Certificate> {
    pool.iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate.issuer == isn.issuer && c.tbs_certificate.serial_number == isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => subject_key_id(c).as_deref() == Some(ski.0.as_bytes()),
        })
        .cloned()
}

/// A `/DocTimeStamp` (B-LTA): the token's imprint is the hash of the byte range.
fn check_document_timestamp(
    pdf: &[u8],
    doc: &Document,
    sig: &lopdf::Dictionary,
    dss: &Dss,
    opts: &VerifyOptions,
    doc_ctx: &DocContext,
    report: &mut SignatureReport,
) -> Result<(), String> {
    let (b1, b2, end, contents) = check_byte_range(pdf, doc, sig, doc_ctx, report)?;
    let token = decode_padded_cms(contents)?;
    let imprint = |alg: &'static ring::digest::Algorithm| {
        let mut ctx = Context::new(alg);
        ctx.update(&pdf[..b1]);
        ctx.update(&pdf[b2..end]);
        ctx.finish().as_ref().to_vec()
    };
    let checked = super::timestamp::check_token(&token, &imprint, &dss.certs, &opts.trust, opts.at)?;
    report.signer = Some(name_of(&checked.tsa));
    let crls: Vec<&CertificateList> = opts.crls.iter().chain(&dss.crls).collect();
    let revocation_text = timestamp_revocation(&checked, &crls, &dss.all_ocsps, opts, report);
    report.revocation = revocation_text.clone();
    report.timestamp = Some(TimestampReport {
        time: checked.gen_time.to_rfc3339(),
        tsa: name_of(&checked.tsa),
        revocation: revocation_text,
    });
    Ok(())
}

/// Revocation of a TSA's path at the validation time; an unknown status makes the report
/// indeterminate (unless allowed), a revoked TSA invalid.
fn timestamp_revocation(
    checked: &super::timestamp::CheckedToken,
    crls: &[&CertificateList],
    ocsps: &[Vec<u8>],
    opts: &VerifyOptions,
    report: &mut SignatureReport,
) -> String {
    match revocation(&checked.tsa_path, &opts.trust, crls, ocsps, opts.at, opts.at) {
        Ok(how) => how,
        Err(Revocation::Revoked(why)) => {
            report.reasons.push(format!("TSA: {why}"));
            "revoked".into()
        }
        Err(Revocation::Unknown(why)) => {
            if report.reasons.is_empty() && !opts.allow_unknown_revocation {
                report.verdict = Verdict::Indeterminate;
                report.reasons.push(format!("TSA revocation status unknown: {why}"));
            }
            format!("unknown: {why}")
        }
    }
}

fn check_signature(
    pdf: &[u8],
    doc: &Document,
    sig: &lopdf::Dictionary,
    dss: &Dss,
    opts: &VerifyOptions,
    doc_ctx: &DocContext,
    report: &mut SignatureReport,
) -> Result<(), String> {
    let (b1, b2, end, contents) = check_byte_range(pdf, doc, sig, doc_ctx, report)?;

    // ---- CMS
    let info = decode_padded_cms(contents)?;
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
    let mut pool: Vec<Certificate> = certificates_of(&signed);
    pool.extend(dss.certs.iter().cloned());
    pool.extend(dss.extra_certs.iter().cloned());
    let signer = signer_of(si, &pool).ok_or("the signer's certificate is not in the CMS")?;
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

    // ---- signature time-stamp (B-T): its genTime becomes the validation time
    let crls: Vec<&CertificateList> = opts.crls.iter().chain(&dss.crls).collect();
    let mut at = opts.at;
    let tokens: Vec<&der::Any> = si
        .unsigned_attrs
        .iter()
        .flat_map(|s| s.iter())
        .filter(|a| a.oid == super::timestamp::ID_AA_SIGNATURE_TIME_STAMP)
        .flat_map(|a| a.values.iter())
        .collect();
    let mut level = "B-B";
    if let Some(token) = tokens.first() {
        let stamped = si.signature.as_bytes();
        let imprint = |alg: &'static ring::digest::Algorithm| ring::digest::digest(alg, stamped).as_ref().to_vec();
        let checked = token
            .decode_as::<ContentInfo>()
            .map_err(|e| format!("signature time-stamp: {e}"))
            .and_then(|t| super::timestamp::check_token(&t, &imprint, &pool, &opts.trust, opts.at));
        match checked {
            Ok(checked) => {
                at = checked.gen_time;
                level = "B-T";
                let revocation_text = timestamp_revocation(&checked, &crls, &dss.all_ocsps, opts, report);
                report.timestamp = Some(TimestampReport {
                    time: checked.gen_time.to_rfc3339(),
                    tsa: name_of(&checked.tsa),
                    revocation: revocation_text,
                });
            }
            Err(e) => report.reasons.push(format!("signature time-stamp: {e}")),
        }
    }

    // ---- certificate path, validity, key usage, revocation
    if let Err(e) = check_signing_usage(&signer) {
        report.reasons.push(e.to_string());
    }
    let path = build_path(&signer, &pool, &opts.trust, at)?;
    if level == "B-T"
        && dss.present
        && revocation(
            &path,
            &opts.trust,
            &dss.crls.iter().collect::<Vec<_>>(),
            &dss.ocsps,
            at,
            opts.at,
        )
        .is_ok()
    {
        level = "B-LT";
    }
    report.level = Some(level.into());
    match revocation(&path, &opts.trust, &crls, &dss.all_ocsps, at, opts.at) {
        Ok(how) => report.revocation = how,
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

pub(crate) fn subject_key_id(c: &Certificate) -> Option<Vec<u8>> {
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
pub(crate) fn verify_with(
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

pub(crate) fn issued_by(child: &Certificate, issuer: &Certificate) -> bool {
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

/// Clock skew tolerated when checking an OCSP response's thisUpdate and nextUpdate.
pub(crate) const OCSP_TOLERANCE_SECS: i64 = 300;

/// Whether a "good" OCSP response may be relied on: issued no later than the verifier's clock
/// `now` and not expired (nextUpdate) at the validation time `at`, each within
/// [`OCSP_TOLERANCE_SECS`]. With `at == now` this is thisUpdate ≤ at ≤ nextUpdate. A response
/// issued after a past validation time (the usual B-LT case: fetched after the time-stamp)
/// counts, since a certificate good then was not revoked before. Without nextUpdate, the
/// response must be issued no earlier than the tolerance before `at`.
pub(crate) fn ocsp_fresh(
    checked: &crate::pki::ocsp::CheckedResponse,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let tolerance = chrono::Duration::seconds(OCSP_TOLERANCE_SECS);
    if checked.this_update > now + tolerance {
        return Err(format!(
            "its thisUpdate {} is after the verification time {}",
            checked.this_update.to_rfc3339(),
            now.to_rfc3339()
        ));
    }
    match checked.next_update {
        Some(next) if at > next + tolerance => Err(format!(
            "it expired (nextUpdate {}) before the validation time {}",
            next.to_rfc3339(),
            at.to_rfc3339()
        )),
        None if checked.this_update + tolerance < at => Err(format!(
            "it has no nextUpdate and its thisUpdate {} is before the validation time {}",
            checked.this_update.to_rfc3339(),
            at.to_rfc3339()
        )),
        _ => Ok(()),
    }
}

/// Every certificate of the path must be covered by a fresh OCSP response ([`ocsp_fresh`])
/// from its issuer (or a responder it authorised) or by a CRL of its issuer that verifies.
/// `at` is the validation time, `now` the verifier's clock. Returns how.
pub(crate) fn revocation(
    path: &[Certificate],
    trust: &[Certificate],
    crls: &[&CertificateList],
    ocsps: &[Vec<u8>],
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, Revocation> {
    let mut used_ocsp = false;
    let mut used_crl = false;
    'path: for (i, cert) in path.iter().enumerate() {
        let mut stale = None;
        let issuer = path.get(i + 1);
        let ocsp_issuer = issuer.or_else(|| trust.iter().find(|a| issued_by(cert, a)));
        if let Some(ocsp_issuer) = ocsp_issuer {
            let verify = |c: &Certificate, alg: &ObjectIdentifier, msg: &[u8], sig: &[u8]| {
                verify_with(c, alg, None, msg, sig).is_ok()
            };
            for der in ocsps {
                let Ok(checked) = crate::pki::ocsp::check_response(der, cert, ocsp_issuer, &verify) else {
                    continue;
                };
                match checked.status {
                    crate::pki::ocsp::OcspStatus::Good => {
                        if let Err(why) = ocsp_fresh(&checked, at, now) {
                            stale = Some(why);
                            continue;
                        }
                        used_ocsp = true;
                        continue 'path;
                    }
                    crate::pki::ocsp::OcspStatus::Revoked(when) if when <= at => {
                        return Err(Revocation::Revoked(format!(
                            "{} was revoked on {} (OCSP)",
                            name_of(cert),
                            when.to_rfc3339()
                        )));
                    }
                    crate::pki::ocsp::OcspStatus::Revoked(_) => {
                        used_ocsp = true;
                        continue 'path;
                    }
                    crate::pki::ocsp::OcspStatus::Unknown => {}
                }
            }
        }
        used_crl = true;
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
            return Err(Revocation::Unknown(match stale {
                Some(why) => format!("no CRL for {}, and its OCSP response is stale: {why}", name_of(cert)),
                None => format!("no CRL for {}", name_of(cert)),
            }));
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
    Ok(match (used_ocsp, used_crl) {
        (true, true) => "good (OCSP and CRL)",
        (true, false) => "good (OCSP)",
        _ => "good (CRL)",
    }
    .into())
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

/// What the revisions after `revision` changed beyond what `policy` allows. Always allowed: the
/// DSS, document time-stamps, the document information and XMP metadata. Empty when nothing
/// else changed.
fn later_changes(revision: &[u8], full: &Document, policy: ChangePolicy) -> Vec<String> {
    let Ok(old) = Document::load_mem(revision) else {
        return vec!["the signed revision cannot be read on its own".into()];
    };
    let mut changes = Vec::new();
    // Signatures added later (document time-stamps are validation data).
    if !policy.signatures {
        let before: Vec<Option<i64>> = signature_dictionaries(&old)
            .iter()
            .map(|(_, d)| revision_end(d))
            .collect();
        for (name, sig) in signature_dictionaries(full) {
            let doc_ts = sig.get(b"Type").and_then(Object::as_name).ok() == Some(b"DocTimeStamp".as_slice());
            if !doc_ts && !before.contains(&revision_end(&sig)) {
                changes.push(format!(
                    "a signature was added (field {})",
                    name.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    let info = full.trailer.get(b"Info").and_then(Object::as_reference).ok();
    // The document security store may grow (B-LT, B-LTA): its dictionary and the arrays and
    // VRI dictionaries it refers to.
    let mut dss_ids = HashSet::new();
    if let Ok(dss) = full.catalog().and_then(|c| c.get(b"DSS")) {
        collect_refs(full, dss, 5, &mut dss_ids);
    }
    for (id, new_obj) in &full.objects {
        let Some(old_obj) = old.objects.get(id) else { continue };
        if old_obj == new_obj || Some(*id) == info || is_xmp(new_obj) || dss_ids.contains(id) {
            continue;
        }
        let verdict = match (old_obj.as_dict(), new_obj.as_dict()) {
            (Ok(a), Ok(b)) => dictionary_change(full, a, b, policy),
            // Arrays (a field list or annotation list held in its own object) may only grow.
            _ => match (old_obj.as_array(), new_obj.as_array()) {
                (Ok(a), Ok(b)) => annots_change(full, a, b, policy),
                _ => Err(None),
            },
        };
        if let Err(what) = verdict {
            let kind = new_obj
                .as_dict()
                .ok()
                .and_then(|d| d.get(b"Type").ok())
                .and_then(|t| t.as_name().ok())
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|| kind_of(new_obj).to_string());
            changes.push(match what {
                Some(what) => format!("{what} (object {} {} ({kind}))", id.0, id.1),
                None => format!("object {} {} ({kind}) changed", id.0, id.1),
            });
        }
    }
    changes
}

/// Whether a changed dictionary's change is allowed; `Err(Some(what))` names a disallowed kind
/// of change, `Err(None)` is any other change.
fn dictionary_change(
    doc: &Document,
    a: &lopdf::Dictionary,
    b: &lopdf::Dictionary,
    policy: ChangePolicy,
) -> Result<(), Option<String>> {
    let name = |d: &lopdf::Dictionary, k: &[u8]| d.get(k).and_then(Object::as_name).ok().map(<[u8]>::to_vec);
    let is_sig_field = name(a, b"FT").as_deref() == Some(b"Sig".as_slice());
    // An annotation other than a widget (P=3 allows changing it).
    if name(a, b"Subtype").as_deref() != Some(b"Widget".as_slice())
        && !is_sig_field
        && a.has(b"Subtype")
        && a.has(b"Rect")
    {
        return if policy.annotations {
            Ok(())
        } else {
            Err(Some("an annotation was changed".into()))
        };
    }
    let strip = |d: &lopdf::Dictionary| {
        let mut d = d.clone();
        // Keys a later signature or validation-data update may set: the form, the DSS, a page's
        // widgets, and the catalog's version, extension and XMP metadata markers (pyHanko sets
        // these).
        for k in [
            b"AcroForm".as_slice(),
            b"DSS",
            b"Annots",
            b"Version",
            b"Extensions",
            b"Metadata",
        ] {
            d.remove(k);
        }
        if d.has(b"Fields") {
            d.remove(b"Fields");
            d.remove(b"SigFlags");
            if policy.form_filling {
                d.remove(b"NeedAppearances");
            }
        }
        // A pre-created signature field that gets signed: its value and appearance.
        if is_sig_field && !a.has(b"V") {
            d.remove(b"V");
            d.remove(b"AP");
        }
        d
    };
    if strip(a) != strip(b) {
        // Form filling: a field's value and appearance state.
        let is_field = a.has(b"FT") || a.has(b"Parent");
        if is_field && !is_sig_field {
            let mut sa = strip(a);
            let mut sb = strip(b);
            for k in [b"V".as_slice(), b"AP", b"AS"] {
                sa.remove(k);
                sb.remove(k);
            }
            if sa == sb {
                return if policy.form_filling {
                    Ok(())
                } else {
                    Err(Some("a form field was filled in".into()))
                };
            }
        }
        return Err(None);
    }
    let list = |d: &lopdf::Dictionary| -> Vec<Object> {
        d.get(b"Annots")
            .ok()
            .and_then(|a| doc.dereference(a).ok())
            .and_then(|(_, a)| a.as_array().ok().cloned())
            .unwrap_or_default()
    };
    annots_change(doc, &list(a), &list(b), policy)
}

fn is_widget(doc: &Document, o: &Object) -> bool {
    doc.dereference(o)
        .ok()
        .and_then(|(_, o)| o.as_dict().ok())
        .is_some_and(|d| d.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Widget".as_slice()))
}

/// A page's `/Annots` (or a field list) may only gain signature widgets; other annotations may
/// come and go when `policy` allows annotations.
fn annots_change(doc: &Document, a: &[Object], b: &[Object], policy: ChangePolicy) -> Result<(), Option<String>> {
    let (wa, wb): (Vec<&Object>, Vec<&Object>) = if policy.annotations {
        (
            a.iter().filter(|o| is_widget(doc, o)).collect(),
            b.iter().filter(|o| is_widget(doc, o)).collect(),
        )
    } else {
        (a.iter().collect(), b.iter().collect())
    };
    if !wb.starts_with(&wa) {
        let others_only = {
            let keep = |v: &[Object]| v.iter().filter(|o| is_widget(doc, o)).cloned().collect::<Vec<_>>();
            keep(b).starts_with(&keep(a))
        };
        return Err(Some(if others_only {
            "annotations were added, removed or changed".into()
        } else {
            "widgets were removed or reordered".into()
        }));
    }
    for o in &wb[wa.len()..] {
        if !is_signature_widget(doc, o) {
            return Err(Some(if is_widget(doc, o) {
                "a form field was added".into()
            } else {
                "an annotation was added".into()
            }));
        }
        if !policy.new_visible_signature_fields && visible(doc, o) {
            return Err(Some("a visible signature field was created".into()));
        }
    }
    Ok(())
}

/// A widget (or a field with widget kids) with a non-empty `/Rect`.
fn visible(doc: &Document, o: &Object) -> bool {
    let Some(d) = doc.dereference(o).ok().and_then(|(_, o)| o.as_dict().ok()) else {
        return false;
    };
    let area = |d: &lopdf::Dictionary| {
        let r: Vec<f32> = d
            .get(b"Rect")
            .and_then(Object::as_array)
            .map(|r| r.iter().filter_map(|n| n.as_float().ok()).collect())
            .unwrap_or_default();
        match r[..] {
            [x1, y1, x2, y2] => ((x1 - x2) * (y1 - y2)).abs() > 0.0,
            _ => false,
        }
    };
    area(d)
        || d.get(b"Kids").and_then(Object::as_array).is_ok_and(|kids| {
            kids.iter()
                .filter_map(|k| doc.dereference(k).ok().and_then(|(_, k)| k.as_dict().ok()))
                .any(area)
        })
}

/// The ids `o` refers to, following dictionaries and arrays (not streams) `depth` levels down.
fn collect_refs(doc: &Document, o: &Object, depth: usize, out: &mut HashSet<lopdf::ObjectId>) {
    match o {
        Object::Reference(id) if out.insert(*id) && depth > 0 => {
            if let Ok(inner) = doc.get_object(*id) {
                if !matches!(inner, Object::Stream(_)) {
                    collect_refs(doc, inner, depth - 1, out);
                }
            }
        }
        Object::Array(items) if depth > 0 => items.iter().for_each(|i| collect_refs(doc, i, depth - 1, out)),
        Object::Dictionary(d) if depth > 0 => d.iter().for_each(|(_, v)| collect_refs(doc, v, depth - 1, out)),
        _ => {}
    }
}

fn is_signature_widget(doc: &Document, o: &Object) -> bool {
    doc.dereference(o)
        .ok()
        .and_then(|(_, o)| o.as_dict().ok())
        .is_some_and(|d| d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig".as_slice()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Dictionary};

    /// A document whose catalog's /Perms /DocMDP names a signature dictionary with `params`.
    fn certified(params: Dictionary) -> Document {
        let mut doc = Document::with_version("1.7");
        let sig = doc.add_object(dictionary! {
            "Type" => "Sig",
            "Reference" => vec![Object::Dictionary(dictionary! {
                "Type" => "SigRef", "TransformMethod" => "DocMDP", "TransformParams" => params,
            })],
        });
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Perms" => dictionary! { "DocMDP" => sig } });
        doc.trailer.set("Root", catalog);
        doc
    }

    #[test]
    fn docmdp_level_is_read_and_defaults_to_2() {
        let p1 = docmdp_of(&certified(dictionary! { "P" => 1 })).expect("certified");
        assert_eq!(p1.perm, Some(crate::pades::MdpPerm::NoChanges));
        let default = docmdp_of(&certified(dictionary! { "V" => "1.2" })).expect("certified");
        assert_eq!(
            (default.perm, default.raw),
            (Some(crate::pades::MdpPerm::FormFilling), 2)
        );
        let bad = docmdp_of(&certified(dictionary! { "P" => 7 })).expect("certified");
        assert_eq!((bad.perm, bad.raw), (None, 7));
        assert!(docmdp_of(&Document::with_version("1.7")).is_none());
    }

    #[test]
    fn each_level_allows_what_iso_32000_says() {
        use crate::pades::MdpPerm::*;
        let p = |perm| {
            let c = ChangePolicy::of(perm);
            (
                c.signatures,
                c.form_filling,
                c.annotations,
                c.new_visible_signature_fields,
            )
        };
        assert_eq!(p(None), (true, false, false, true));
        assert_eq!(p(Some(NoChanges)), (false, false, false, false));
        assert_eq!(p(Some(FormFilling)), (true, true, false, false));
        assert_eq!(p(Some(Annotations)), (true, true, true, false));
    }
}
