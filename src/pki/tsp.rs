//! RFC 3161 time-stamping: requests and token extraction (client), responses and tokens (TSA).
//! Pure: the time and the serial number are arguments.
//!
//! A token is a CMS SignedData over a DER `TSTInfo` (eContentType id-ct-TSTInfo), signed by the
//! TSA with content-type, message-digest and ESS signing-certificate-v2 signed attributes.

use chrono::{DateTime, Utc};
use cmpv2::status::{PkiStatus, PkiStatusInfo};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use ring::digest::{digest, SHA256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;
use x509_tsp::{Accuracy, MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

use super::{enc, generalized, malformed, PkiError, PkiResult};
use crate::pades::cms::{
    EssCertIdV2, IssuerSerial, SigningCertificateV2, ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SHA256, ID_SIGNED_DATA,
    ID_SIGNING_CERTIFICATE_V2,
};
use crate::pades::SigningKey;

pub const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// The test TSA's policy (a private arc; there is no registered policy for a test service).
pub const TEST_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.55555.3.1");

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    }
}

/// DER TimeStampReq for a SHA-256 `imprint`, asking for the TSA's certificate.
pub fn request(imprint: &[u8], nonce: &[u8]) -> PkiResult<Vec<u8>> {
    TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: sha256_alg(),
            hashed_message: OctetString::new(imprint).map_err(enc)?,
        },
        req_policy: None,
        nonce: Some(Int::new(&positive(nonce)).map_err(enc)?),
        cert_req: true,
        extensions: None,
    }
    .to_der()
    .map_err(enc)
}

/// A big-endian byte string as a positive DER INTEGER body.
fn positive(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    match trimmed.first() {
        None => vec![0],
        Some(&b) if b & 0x80 != 0 => std::iter::once(0).chain(trimmed).collect(),
        Some(_) => trimmed,
    }
}

/// The TSTInfo inside a token.
pub fn tst_info(token: &ContentInfo) -> PkiResult<TstInfo> {
    if token.content_type != ID_SIGNED_DATA {
        return Err(PkiError::Rejected("the time-stamp token is not SignedData".into()));
    }
    let sd: SignedData = token.content.decode_as().map_err(malformed("time-stamp token"))?;
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(PkiError::Rejected(
            "the time-stamp token does not hold a TSTInfo".into(),
        ));
    }
    let content = sd
        .encap_content_info
        .econtent
        .ok_or_else(|| PkiError::Rejected("the time-stamp token has no TSTInfo".into()))?;
    let octets: OctetString = content.decode_as().map_err(malformed("TSTInfo"))?;
    TstInfo::from_der(octets.as_bytes()).map_err(malformed("TSTInfo"))
}

/// Takes the token out of a DER TimeStampResp, checking the status, the imprint and the nonce.
pub fn token_from_response(resp: &[u8], imprint: &[u8], nonce: &[u8]) -> PkiResult<Vec<u8>> {
    let resp = TimeStampResp::from_der(resp).map_err(malformed("time-stamp response"))?;
    if !matches!(resp.status.status, PkiStatus::Accepted | PkiStatus::GrantedWithMods) {
        return Err(PkiError::Rejected(format!(
            "the TSA refused the request ({:?})",
            resp.status.status
        )));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| PkiError::Rejected("the TSA's response has no token".into()))?;
    let info = tst_info(&token)?;
    if info.message_imprint.hashed_message.as_bytes() != imprint {
        return Err(PkiError::Rejected("the token is over another imprint".into()));
    }
    if info.nonce.as_ref().map(|n| positive(n.as_bytes())) != Some(positive(nonce)) {
        return Err(PkiError::Rejected("the token does not echo the request's nonce".into()));
    }
    token.to_der().map_err(enc)
}

/// A time-stamping authority: its key, its certificate (critical EKU timeStamping) and the
/// chain it sends when asked.
pub struct Tsa {
    pub key: SigningKey,
    pub cert: Certificate,
    pub chain: Vec<Certificate>,
    pub policy: ObjectIdentifier,
}

fn rejection() -> Vec<u8> {
    TimeStampResp {
        status: PkiStatusInfo {
            status: PkiStatus::Rejection,
            status_string: None,
            fail_info: None,
        },
        time_stamp_token: None,
    }
    .to_der()
    .unwrap_or_else(|_| vec![0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02])
}

fn attribute(oid: ObjectIdentifier, value: Any) -> PkiResult<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(enc)?;
    Ok(Attribute { oid, values })
}

impl Tsa {
    /// Answers a DER TimeStampReq with a DER TimeStampResp: granted with a token at `now`
    /// carrying `serial`, or a rejection for a request it cannot read.
    pub fn respond(&self, request_der: &[u8], now: DateTime<Utc>, serial: &[u8]) -> Vec<u8> {
        let Ok(req) = TimeStampReq::from_der(request_der) else {
            return rejection();
        };
        match self.token(&req, now, serial) {
            Ok(token) => TimeStampResp {
                status: PkiStatusInfo {
                    status: PkiStatus::Accepted,
                    status_string: None,
                    fail_info: None,
                },
                time_stamp_token: Some(token),
            }
            .to_der()
            .unwrap_or_else(|_| rejection()),
            Err(_) => rejection(),
        }
    }

    fn token(&self, req: &TimeStampReq, now: DateTime<Utc>, serial: &[u8]) -> PkiResult<ContentInfo> {
        let info = TstInfo {
            version: TspVersion::V1,
            policy: req.req_policy.unwrap_or(self.policy),
            message_imprint: req.message_imprint.clone(),
            serial_number: Int::new(&positive(serial)).map_err(enc)?,
            gen_time: generalized(now)?,
            accuracy: Some(Accuracy {
                seconds: Some(1),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: req.nonce.clone(),
            tsa: Some(GeneralName::DirectoryName(self.cert.tbs_certificate.subject.clone())),
            extensions: None,
        };
        let econtent = info.to_der().map_err(enc)?;
        let cert_der = self.cert.to_der().map_err(enc)?;
        let ess = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                cert_hash: OctetString::new(digest(&SHA256, &cert_der).as_ref()).map_err(enc)?,
                issuer_serial: IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(self.cert.tbs_certificate.issuer.clone())],
                    serial_number: self.cert.tbs_certificate.serial_number.clone(),
                },
            }],
        };
        let mut attrs = SetOfVec::new();
        attrs
            .insert(attribute(
                ID_CONTENT_TYPE,
                Any::encode_from(&ID_CT_TST_INFO).map_err(enc)?,
            )?)
            .map_err(enc)?;
        let md = OctetString::new(digest(&SHA256, &econtent).as_ref()).map_err(enc)?;
        attrs
            .insert(attribute(ID_MESSAGE_DIGEST, Any::encode_from(&md).map_err(enc)?)?)
            .map_err(enc)?;
        attrs
            .insert(attribute(
                ID_SIGNING_CERTIFICATE_V2,
                Any::encode_from(&ess).map_err(enc)?,
            )?)
            .map_err(enc)?;
        let signature = self
            .key
            .sign(&attrs.to_der().map_err(enc)?)
            .map_err(|e| PkiError::Signing(e.to_string()))?;
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: self.cert.tbs_certificate.issuer.clone(),
                serial_number: self.cert.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256_alg(),
            signed_attrs: Some(attrs),
            signature_algorithm: self.key.signature_algorithm(),
            signature: OctetString::new(signature).map_err(enc)?,
            unsigned_attrs: None,
        };
        let certificates = if req.cert_req {
            let mut set = SetOfVec::new();
            for c in std::iter::once(&self.cert).chain(&self.chain) {
                let choice = CertificateChoices::Certificate(c.clone());
                if !set.iter().any(|e| e == &choice) {
                    set.insert(choice).map_err(enc)?;
                }
            }
            Some(CertificateSet(set))
        } else {
            None
        };
        let mut digest_algorithms = SetOfVec::new();
        digest_algorithms.insert(sha256_alg()).map_err(enc)?;
        let mut signer_infos = SetOfVec::new();
        signer_infos.insert(signer).map_err(enc)?;
        let sd = SignedData {
            version: CmsVersion::V3,
            digest_algorithms,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_CT_TST_INFO,
                econtent: Some(Any::encode_from(&OctetString::new(econtent).map_err(enc)?).map_err(enc)?),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos(signer_infos),
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&sd).map_err(enc)?,
        })
    }
}
