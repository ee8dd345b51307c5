//! PAdES levels above B-B (ETSI EN 319 142-1):
//!
//! - **B-T**: the signature-time-stamp token over the signature value, from an RFC 3161 TSA
//!   (the caller's `Timestamper` does the request; this module checks the imprint).
//! - **B-LT**: an incremental update adding the DSS (`/Certs`, `/CRLs`, `/OCSPs`) with what an
//!   offline validator needs for every signature's signer and TSA paths. [`gather_validation_data`]
//!   walks the paths and asks the caller's [`Fetch`] for OCSP responses (preferred), CRLs and
//!   missing issuer certificates at the URLs the certificates name.
//! - **B-LTA**: then a document time-stamp (`/Type /DocTimeStamp`, `ETSI.RFC3161`) over the
//!   whole file.
//!
//! Pure: the network is behind the `Timestamper` and `Fetch` arguments.

use lopdf::{Dictionary, Document, IncrementalDocument, Object, Stream};
use ring::digest::{digest, SHA256};
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use der::{Decode, Encode};

use super::pdf::{self, DictKind};
use super::timestamp::{add_signature_timestamp, signature_value, token_parts};
use super::verify::{issued_by, name_of, signature_dictionaries, verify_with};
use super::{cms, keys, verify, PadesError, PadesResult, SignOptions, SigningKey};
use crate::pki::{cert_info, ocsp};

/// Asks a TSA for a token over a SHA-256 imprint; returns the DER TimeStampToken.
pub type Timestamper<'a> = dyn FnMut(&[u8]) -> PadesResult<Vec<u8>> + 'a;

/// Network access for [`gather_validation_data`].
pub trait Fetch {
    fn get(&mut self, url: &str) -> Result<Vec<u8>, String>;
    fn post(&mut self, url: &str, content_type: &str, body: Vec<u8>) -> Result<Vec<u8>, String>;
}

fn ts_err(e: impl std::fmt::Display) -> PadesError {
    PadesError::Timestamp(e.to_string())
}

/// Checks that a token stamps `imprint` (SHA-256) and returns it unchanged.
fn checked_token(token: Vec<u8>, imprint: &[u8]) -> PadesResult<Vec<u8>> {
    let info = ::cms::content_info::ContentInfo::from_der(&token).map_err(ts_err)?;
    let (tst, _) = token_parts(&info).map_err(ts_err)?;
    if tst.message_imprint.hash_algorithm.oid != cms::ID_SHA256
        || tst.message_imprint.hashed_message.as_bytes() != imprint
    {
        return Err(ts_err("the TSA's token is over another imprint"));
    }
    Ok(token)
}

/// Signs at PAdES B-T: as [`super::sign_pdf_owned`], with a signature-time-stamp token over the
/// signature value added as an unsigned attribute before the CMS is embedded.
pub fn sign_pdf_timestamped(
    pdf: Vec<u8>,
    key: &SigningKey,
    cert: &Certificate,
    chain: &[Certificate],
    opts: &SignOptions,
    tsa: &mut Timestamper,
) -> PadesResult<Vec<u8>> {
    if !(4096..=super::MAX_CONTENTS_SIZE).contains(&opts.contents_size) {
        return Err(PadesError::ContentsSize(opts.contents_size));
    }
    key.check_matches(cert)?;
    keys::check_signing_usage(cert)?;
    if !verify::valid_at(cert, opts.signing_time.with_timezone(&chrono::Utc)) {
        return Err(PadesError::NotValidAt(opts.signing_time.to_rfc3339()));
    }
    let mut prepared = pdf::prepare(pdf, opts)?;
    let content_digest = prepared.digest();
    let cms_der = cms::signed_data(key, cert, chain, &content_digest)?;
    let imprint = digest(&SHA256, &signature_value(&cms_der)?).as_ref().to_vec();
    let token = checked_token(tsa(&imprint)?, &imprint)?;
    let cms_der = add_signature_timestamp(&cms_der, &token)?;
    prepared.embed(&cms_der)?;
    Ok(prepared.into_bytes())
}

/// Adds a document time-stamp (B-LTA) over the whole file as it is now.
pub fn add_document_timestamp(pdf: Vec<u8>, opts: &SignOptions, tsa: &mut Timestamper) -> PadesResult<Vec<u8>> {
    let mut prepared = pdf::prepare_kind(pdf, opts, DictKind::DocTimeStamp)?;
    let imprint = prepared.digest();
    let token = checked_token(tsa(&imprint)?, &imprint)?;
    prepared.embed(&token)?;
    Ok(prepared.into_bytes())
}

/// DER certificates, CRLs and OCSP responses for the DSS.
#[derive(Clone, Debug, Default)]
pub struct ValidationData {
    pub certs: Vec<Vec<u8>>,
    pub crls: Vec<Vec<u8>>,
    pub ocsps: Vec<Vec<u8>>,
}

fn push_unique(list: &mut Vec<Vec<u8>>, der: Vec<u8>) {
    if !list.contains(&der) {
        list.push(der);
    }
}

/// Every signature's signer certificate, its TSA's certificate (for a signature time-stamp or a
/// document time-stamp), and all certificates the CMS and tokens carry.
fn leaves_and_pool(pdf: &[u8]) -> PadesResult<(Vec<Certificate>, Vec<Certificate>)> {
    let doc = Document::load_mem(pdf).map_err(|e| PadesError::Pdf(e.to_string()))?;
    let mut leaves = Vec::new();
    let mut pool = Vec::new();
    for (_, sig) in signature_dictionaries(&doc) {
        let Ok(contents) = sig.get(b"Contents").and_then(Object::as_str) else {
            continue;
        };
        let Ok(info) = verify::decode_padded_cms(contents) else {
            continue;
        };
        let mut tokens = Vec::new();
        if sig.get(b"SubFilter").and_then(Object::as_name).ok() == Some(b"ETSI.RFC3161".as_slice()) {
            tokens.push(info);
        } else {
            let Ok(sd) = info.content.decode_as::<::cms::signed_data::SignedData>() else {
                continue;
            };
            let certs = verify::certificates_of(&sd);
            if let Some(si) = sd.signer_infos.0.iter().next() {
                if let Some(signer) = verify::signer_of(si, &certs) {
                    leaves.push(signer);
                }
                for attr in si.unsigned_attrs.iter().flat_map(|s| s.iter()) {
                    if attr.oid == super::timestamp::ID_AA_SIGNATURE_TIME_STAMP {
                        for v in attr.values.iter() {
                            if let Ok(t) = v.decode_as::<::cms::content_info::ContentInfo>() {
                                tokens.push(t);
                            }
                        }
                    }
                }
            }
            pool.extend(certs);
        }
        for token in tokens {
            let Ok(sd) = token.content.decode_as::<::cms::signed_data::SignedData>() else {
                continue;
            };
            let certs = verify::certificates_of(&sd);
            if let Some(si) = sd.signer_infos.0.iter().next() {
                if let Some(tsa) = verify::signer_of(si, &certs) {
                    leaves.push(tsa);
                }
            }
            pool.extend(certs);
        }
    }
    if leaves.is_empty() {
        return Err(PadesError::Pdf("the PDF has no signatures".into()));
    }
    Ok((leaves, pool))
}

fn parse_cert(bytes: &[u8]) -> Option<Certificate> {
    Certificate::from_der(bytes)
        .ok()
        .or_else(|| keys::load_certificates(bytes).ok()?.into_iter().next())
}

fn parse_crl(bytes: &[u8]) -> Option<Vec<u8>> {
    if CertificateList::from_der(bytes).is_ok() {
        return Some(bytes.to_vec());
    }
    verify::load_crls(bytes).ok()?.into_iter().next()?.to_der().ok()
}

fn verifies(cert: &Certificate, alg: &der::asn1::ObjectIdentifier, msg: &[u8], sig: &[u8]) -> bool {
    verify_with(cert, alg, None, msg, sig).is_ok()
}

/// Walks every signer's and TSA's path (certificates from the file, `extra`, and caIssuers URLs)
/// and collects the certificates plus, for each certificate below a root, an OCSP response
/// (from its OCSP URL) or else a CRL (from its distribution points). `nonce` makes OCSP nonces.
pub fn gather_validation_data(
    pdf: &[u8],
    extra: &[Certificate],
    fetch: &mut dyn Fetch,
    nonce: &mut dyn FnMut() -> Vec<u8>,
) -> PadesResult<ValidationData> {
    gather(pdf, extra, fetch, nonce, true).map(|(data, _)| data)
}

/// As [`gather_validation_data`] but best effort (for verifying online): a certificate whose
/// issuer or revocation data cannot be had is listed in the problems, and the walk goes on.
pub fn fetch_validation_data(
    pdf: &[u8],
    fetch: &mut dyn Fetch,
    nonce: &mut dyn FnMut() -> Vec<u8>,
) -> PadesResult<(ValidationData, Vec<String>)> {
    gather(pdf, &[], fetch, nonce, false)
}

fn gather(
    pdf: &[u8],
    extra: &[Certificate],
    fetch: &mut dyn Fetch,
    nonce: &mut dyn FnMut() -> Vec<u8>,
    strict: bool,
) -> PadesResult<(ValidationData, Vec<String>)> {
    let vd_err = |m: String| PadesError::ValidationData(m);
    let mut skipped = Vec::new();
    let (leaves, mut pool) = leaves_and_pool(pdf)?;
    pool.extend(extra.iter().cloned());
    let mut data = ValidationData::default();
    let mut work = leaves;
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut steps = 0;
    while let Some(cert) = work.pop() {
        steps += 1;
        if steps > 64 {
            return Err(vd_err("the certificate paths are too long".into()));
        }
        let der = cert.to_der().map_err(|e| PadesError::Encoding(e.to_string()))?;
        if done.contains(&der) {
            continue;
        }
        done.push(der.clone());
        push_unique(&mut data.certs, der);
        if cert_info::is_self_issued(&cert) {
            continue;
        }
        let mut issuer = pool.iter().find(|c| issued_by(&cert, c)).cloned();
        if issuer.is_none() {
            for url in cert_info::ca_issuer_urls(&cert) {
                if let Some(c) = fetch.get(&url).ok().and_then(|b| parse_cert(&b)) {
                    if issued_by(&cert, &c) {
                        pool.push(c.clone());
                        issuer = Some(c);
                        break;
                    }
                }
            }
        }
        let Some(issuer) = issuer else {
            let problem = format!("the issuer of {} was not found", name_of(&cert));
            if strict {
                return Err(vd_err(problem));
            }
            skipped.push(problem);
            continue;
        };
        work.push(issuer.clone());
        if cert_info::has_ocsp_nocheck(&cert) {
            continue;
        }
        let mut covered = false;
        let mut problems = Vec::new();
        for url in cert_info::ocsp_urls(&cert) {
            let req = ocsp::request(&cert, &issuer, Some(&nonce())).map_err(|e| vd_err(e.to_string()))?;
            match fetch.post(&url, "application/ocsp-request", req) {
                Ok(resp) => match ocsp::check_response(&resp, &cert, &issuer, &verifies) {
                    Ok(checked) if checked.status != ocsp::OcspStatus::Unknown => {
                        for c in checked.certs {
                            work.push(c);
                        }
                        push_unique(&mut data.ocsps, resp);
                        covered = true;
                        break;
                    }
                    Ok(_) => problems.push(format!("{url}: status unknown")),
                    Err(e) => problems.push(format!("{url}: {e}")),
                },
                Err(e) => problems.push(e),
            }
        }
        if !covered {
            for url in cert_info::crl_urls(&cert) {
                match fetch.get(&url).map(|b| parse_crl(&b)) {
                    Ok(Some(crl)) => {
                        push_unique(&mut data.crls, crl);
                        covered = true;
                        break;
                    }
                    Ok(None) => problems.push(format!("{url}: not a CRL")),
                    Err(e) => problems.push(e),
                }
            }
        }
        if !covered {
            let problem = format!(
                "no revocation data for {}{}",
                name_of(&cert),
                if problems.is_empty() {
                    " (it names no OCSP responder or CRL)".to_string()
                } else {
                    format!(": {}", problems.join("; "))
                }
            );
            if strict {
                return Err(vd_err(problem));
            }
            skipped.push(problem);
        }
    }
    Ok((data, skipped))
}

/// Adds (or extends) the document security store by incremental update: the DSS dictionary
/// gains streams for the certificates, CRLs and OCSP responses it does not hold yet.
pub fn add_dss(pdf: Vec<u8>, data: &ValidationData) -> PadesResult<Vec<u8>> {
    let pdf_err = |e: lopdf::Error| PadesError::Pdf(e.to_string());
    let doc = Document::load_mem(&pdf).map_err(pdf_err)?;
    if doc.is_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(PadesError::Encrypted);
    }
    if doc.xref_start == 0 {
        return Err(PadesError::Damaged);
    }
    let catalog_id = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PadesError::Pdf("the trailer has no /Root reference".into()))?;
    let mut catalog = doc.get_dictionary(catalog_id).map_err(pdf_err)?.clone();
    let (dss_id, mut dss) = match catalog.get(b"DSS") {
        Ok(Object::Reference(id)) => (Some(*id), doc.get_dictionary(*id).map_err(pdf_err)?.clone()),
        Ok(Object::Dictionary(d)) => (None, d.clone()),
        _ => (None, Dictionary::new()),
    };
    // What the store already holds, per key: (references, decoded bytes).
    let existing = |key: &[u8]| -> (Vec<Object>, Vec<Vec<u8>>) {
        let refs: Vec<Object> = dss
            .get(key)
            .ok()
            .and_then(|a| doc.dereference(a).ok())
            .and_then(|(_, a)| a.as_array().ok().cloned())
            .unwrap_or_default();
        let bytes = refs
            .iter()
            .filter_map(|r| doc.dereference(r).ok())
            .filter_map(|(_, s)| s.as_stream().ok())
            .filter_map(|s| s.decompressed_content().ok().or_else(|| Some(s.content.clone())))
            .collect();
        (refs, bytes)
    };
    let lists = [
        (b"Certs".as_slice(), &data.certs, existing(b"Certs")),
        (b"CRLs".as_slice(), &data.crls, existing(b"CRLs")),
        (b"OCSPs".as_slice(), &data.ocsps, existing(b"OCSPs")),
    ];
    let mut inc = IncrementalDocument::create_from(pdf, doc);
    let new = &mut inc.new_document;
    for (key, wanted, (mut refs, held)) in lists {
        for der in wanted.iter() {
            if held.contains(der) {
                continue;
            }
            let id = new.add_object(Stream::new(Dictionary::new(), der.clone()));
            refs.push(Object::Reference(id));
        }
        if !refs.is_empty() {
            dss.set(key.to_vec(), Object::Array(refs));
        }
    }
    match dss_id {
        Some(id) => new.set_object(id, dss),
        None => {
            let id = new.add_object(dss);
            catalog.set("DSS", Object::Reference(id));
            new.set_object(catalog_id, catalog);
        }
    }
    let mut out = Vec::new();
    inc.save_to(&mut out)
        .map_err(|e| PadesError::Pdf(format!("writing the DSS update failed: {e}")))?;
    Ok(out)
}
