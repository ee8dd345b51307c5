//! RFC 6960 OCSP: requests (client), signed responses (responder) and checking a response
//! against a certificate and its issuer. Pure: times and keys are arguments.

use chrono::{DateTime, Utc};
use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use ring::digest::{digest, Algorithm, SHA1_FOR_LEGACY_USE_ONLY, SHA256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse, TbsRequest, Version,
};

use super::ca_index::{CaIndex, IndexStatus};
use super::{enc, from_generalized, generalized, malformed, PkiError, PkiResult};
use crate::pades::SigningKey;

pub const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
pub const ID_PKIX_OCSP_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
const SHA1_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
/// How long a response stays fresh (`nextUpdate - thisUpdate`).
const VALIDITY_SECS: i64 = 7 * 24 * 3600;

fn hash_for(alg: &ObjectIdentifier) -> Option<&'static Algorithm> {
    match *alg {
        a if a == SHA1_OID => Some(&SHA1_FOR_LEGACY_USE_ONLY),
        a if a == SHA256_OID => Some(&SHA256),
        _ => None,
    }
}

/// The CertID of `cert` (issued by `issuer`) with the hash named by `alg` (SHA-1 or SHA-256).
pub fn cert_id_with(cert: &Certificate, issuer: &Certificate, alg: &AlgorithmIdentifierOwned) -> PkiResult<CertId> {
    let hash = hash_for(&alg.oid).ok_or_else(|| PkiError::Rejected(format!("unsupported CertID hash {}", alg.oid)))?;
    let name = issuer.tbs_certificate.subject.to_der().map_err(enc)?;
    let key = issuer
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    Ok(CertId {
        hash_algorithm: alg.clone(),
        issuer_name_hash: OctetString::new(digest(hash, &name).as_ref()).map_err(enc)?,
        issuer_key_hash: OctetString::new(digest(hash, key).as_ref()).map_err(enc)?,
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

/// SHA-1 CertID (what OpenSSL and most responders expect).
pub fn cert_id(cert: &Certificate, issuer: &Certificate) -> PkiResult<CertId> {
    let alg = AlgorithmIdentifierOwned {
        oid: SHA1_OID,
        parameters: Some(Any::null()),
    };
    cert_id_with(cert, issuer, &alg)
}

fn nonce_extension(nonce: &[u8]) -> PkiResult<Extension> {
    let inner = OctetString::new(nonce).map_err(enc)?.to_der().map_err(enc)?;
    Ok(Extension {
        extn_id: ID_PKIX_OCSP_NONCE,
        critical: false,
        extn_value: OctetString::new(inner).map_err(enc)?,
    })
}

/// DER OCSPRequest for one certificate, with an optional nonce.
pub fn request(cert: &Certificate, issuer: &Certificate, nonce: Option<&[u8]>) -> PkiResult<Vec<u8>> {
    let req = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(cert, issuer)?,
                single_request_extensions: None,
            }],
            request_extensions: nonce.map(nonce_extension).transpose()?.map(|e| vec![e]),
        },
        optional_signature: None,
    };
    req.to_der().map_err(enc)
}

/// A CA whose certificates the responder answers for, and who signs those answers (the CA itself
/// or a delegated responder certificate it issued, with EKU OCSPSigning).
pub struct OcspAuthority {
    pub ca: Certificate,
    pub index: CaIndex,
    pub signer_cert: Certificate,
    pub signer_key: SigningKey,
}

impl OcspAuthority {
    fn matches(&self, id: &CertId) -> bool {
        cert_id_with(&self.ca, &self.ca, &id.hash_algorithm).is_ok_and(|mine| {
            mine.issuer_name_hash == id.issuer_name_hash && mine.issuer_key_hash == id.issuer_key_hash
        })
    }
}

fn error_response(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    // An OCSPResponse with only a status always encodes; fall back to malformedRequest's bytes.
    .unwrap_or_else(|_| vec![0x30, 0x03, 0x0A, 0x01, 0x01])
}

/// Answers a DER OCSPRequest: `good` for a valid serial in the CA's index, `revoked` with time
/// and reason, `unknown` otherwise; echoes the nonce. Always returns a DER OCSPResponse
/// (`malformedRequest` for bad input, `unauthorized` for a CA it does not serve).
pub fn respond(authorities: &[OcspAuthority], request_der: &[u8], now: DateTime<Utc>) -> Vec<u8> {
    let Ok(req) = OcspRequest::from_der(request_der) else {
        return error_response(OcspResponseStatus::MalformedRequest);
    };
    let list = &req.tbs_request.request_list;
    let Some(auth) = list
        .first()
        .and_then(|first| authorities.iter().find(|a| a.matches(&first.req_cert)))
    else {
        return error_response(OcspResponseStatus::Unauthorized);
    };
    match signed_response(auth, &req, now) {
        Ok(der) => der,
        Err(_) => error_response(OcspResponseStatus::InternalError),
    }
}

fn signed_response(auth: &OcspAuthority, req: &OcspRequest, now: DateTime<Utc>) -> PkiResult<Vec<u8>> {
    let this_update = OcspGeneralizedTime(generalized(now)?);
    let next_update = OcspGeneralizedTime(generalized(now + chrono::Duration::seconds(VALIDITY_SECS))?);
    let mut responses = Vec::new();
    for r in &req.tbs_request.request_list {
        let status = if auth.matches(&r.req_cert) {
            match auth.index.status(r.req_cert.serial_number.as_bytes()) {
                Some(IndexStatus::Valid) => CertStatus::good(),
                Some(IndexStatus::Revoked { at, reason }) => CertStatus::Revoked(RevokedInfo {
                    revocation_time: OcspGeneralizedTime(generalized(*at)?),
                    revocation_reason: *reason,
                }),
                None => CertStatus::unknown(),
            }
        } else {
            CertStatus::unknown()
        };
        responses.push(SingleResponse {
            cert_id: r.req_cert.clone(),
            cert_status: status,
            this_update,
            next_update: Some(next_update),
            single_extensions: None,
        });
    }
    let nonce = req
        .tbs_request
        .request_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)
        .cloned();
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByName(auth.signer_cert.tbs_certificate.subject.clone()),
        produced_at: this_update,
        responses,
        response_extensions: nonce.map(|n| vec![n]),
    };
    let tbs = data.to_der().map_err(enc)?;
    let signature = auth
        .signer_key
        .sign(&tbs)
        .map_err(|e| PkiError::Signing(e.to_string()))?;
    let delegated = auth.signer_cert != auth.ca;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: auth.signer_key.signature_algorithm(),
        signature: BitString::from_bytes(&signature).map_err(enc)?,
        certs: delegated.then(|| vec![auth.signer_cert.clone()]),
    };
    OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der().map_err(enc)?).map_err(enc)?,
        }),
    }
    .to_der()
    .map_err(enc)
}

/// The status an OCSP response gives a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OcspStatus {
    Good,
    Revoked(DateTime<Utc>),
    Unknown,
}

/// A response that verified: the status, when it was produced, and the responder certificates
/// it carried (for the DSS).
#[derive(Clone, Debug)]
pub struct CheckedResponse {
    pub status: OcspStatus,
    pub this_update: DateTime<Utc>,
    pub next_update: Option<DateTime<Utc>>,
    pub produced_at: DateTime<Utc>,
    pub certs: Vec<Certificate>,
}

/// Checks a signature: (signer certificate, signature algorithm, message, signature).
pub type SignatureCheck<'a> = dyn Fn(&Certificate, &ObjectIdentifier, &[u8], &[u8]) -> bool + 'a;

/// Decodes a DER OCSPResponse into its BasicOCSPResponse (only `successful` ones).
pub fn basic_response(der: &[u8]) -> PkiResult<BasicOcspResponse> {
    let resp = OcspResponse::from_der(der).map_err(malformed("OCSP response"))?;
    if resp.response_status != OcspResponseStatus::Successful {
        return Err(PkiError::Rejected(format!(
            "the OCSP responder answered {:?}",
            resp.response_status
        )));
    }
    let bytes = resp
        .response_bytes
        .ok_or_else(|| PkiError::Rejected("the OCSP response has no body".into()))?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return Err(PkiError::Rejected("the OCSP response is not a basic response".into()));
    }
    BasicOcspResponse::from_der(bytes.response.as_bytes()).map_err(malformed("basic OCSP response"))
}

/// Checks that `der` is a response about `cert` signed by `issuer` or by a responder `issuer`
/// delegated (EKU OCSPSigning, its certificate in the response). `verify` checks a signature:
/// (signer certificate, signature algorithm, message, signature).
pub fn check_response(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    verify: &SignatureCheck,
) -> PkiResult<CheckedResponse> {
    let basic = basic_response(der)?;
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|s| {
            s.cert_id.serial_number == cert.tbs_certificate.serial_number
                && cert_id_with(cert, issuer, &s.cert_id.hash_algorithm).is_ok_and(|id| id == s.cert_id)
        })
        .ok_or_else(|| PkiError::Rejected("the OCSP response is not about this certificate".into()))?;
    let tbs = basic.tbs_response_data.to_der().map_err(enc)?;
    let sig = basic.signature.raw_bytes();
    let alg = &basic.signature_algorithm.oid;
    let certs = basic.certs.clone().unwrap_or_default();
    let by_issuer = verify(issuer, alg, &tbs, sig);
    let by_delegate = || {
        certs.iter().any(|c| {
            c.tbs_certificate.issuer == issuer.tbs_certificate.subject
                && c.tbs_certificate
                    .to_der()
                    .is_ok_and(|t| verify(issuer, &c.signature_algorithm.oid, &t, c.signature.raw_bytes()))
                && super::cert_info::extended_key_usage(c).is_some_and(|(ekus, _)| ekus.contains(&ID_KP_OCSP_SIGNING))
                && verify(c, alg, &tbs, sig)
        })
    };
    if !by_issuer && !by_delegate() {
        return Err(PkiError::Rejected(
            "the OCSP response is not signed by the issuer or a responder it authorised".into(),
        ));
    }
    let status = match &single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(info) => OcspStatus::Revoked(from_generalized(&info.revocation_time.0)),
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(CheckedResponse {
        status,
        this_update: from_generalized(&single.this_update.0),
        next_update: single.next_update.map(|t| from_generalized(&t.0)),
        produced_at: from_generalized(&basic.tbs_response_data.produced_at.0),
        certs,
    })
}

/// The nonce a response echoes, if any.
pub fn response_nonce(basic: &BasicOcspResponse) -> Option<Vec<u8>> {
    let ext = basic
        .tbs_response_data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_PKIX_OCSP_NONCE)?;
    let inner = OctetString::from_der(ext.extn_value.as_bytes()).ok()?;
    Some(inner.as_bytes().to_vec())
}
