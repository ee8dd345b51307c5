//! RFC 3161 time-stamp tokens inside PAdES: the signature-time-stamp unsigned attribute
//! (B-T: a token over the SignerInfo's signature value) and the document time-stamp
//! (B-LTA: a token over the byte range). Pure: adding a token to a CMS, and checking a token
//! (structure, imprint, TSA signature, ESS certificate hash, critical EKU timeStamping, path to
//! a trust anchor).

use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use ring::digest::{Algorithm, SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

use super::cms::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_CERTIFICATE_V2};
use super::verify::{build_path, name_of, verify_with};
use super::{PadesError, PadesResult};
use crate::pki::cert_info::extended_key_usage;
use crate::pki::tsp::ID_CT_TST_INFO;

/// id-aa-signatureTimeStampToken.
pub const ID_AA_SIGNATURE_TIME_STAMP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// ESS signing-certificate (v1, SHA-1), which many TSAs still send.
const ID_SIGNING_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// ESSCertIDv2 as senders write it (hashAlgorithm and issuerSerial may be present or not).
#[derive(Clone, Debug, Sequence)]
struct AnyEssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct AnySigningCertificateV2 {
    certs: Vec<AnyEssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ESS `ESSCertID` (SHA-1).
#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV1 {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

fn enc(e: der::Error) -> PadesError {
    PadesError::Encoding(e.to_string())
}

fn signed_data_of(cms: &[u8]) -> PadesResult<SignedData> {
    let info = ContentInfo::from_der(cms).map_err(enc)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(PadesError::Encoding("the CMS is not SignedData".into()));
    }
    info.content.decode_as().map_err(enc)
}

/// The signature value of the (only) SignerInfo of a DER CMS: what a B-T token stamps.
pub fn signature_value(cms: &[u8]) -> PadesResult<Vec<u8>> {
    let sd = signed_data_of(cms)?;
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| PadesError::Encoding("the CMS has no SignerInfo".into()))?;
    Ok(si.signature.as_bytes().to_vec())
}

/// Adds `token` (a DER TimeStampToken) to the SignerInfo of `cms` as the
/// signature-time-stamp unsigned attribute. The signed part does not change.
pub fn add_signature_timestamp(cms: &[u8], token: &[u8]) -> PadesResult<Vec<u8>> {
    let mut sd = signed_data_of(cms)?;
    let token = Any::from_der(token).map_err(enc)?;
    let mut infos: Vec<_> = sd.signer_infos.0.into_vec();
    let [si] = &mut infos[..] else {
        return Err(PadesError::Encoding("PAdES needs exactly one SignerInfo".into()));
    };
    let mut values = SetOfVec::new();
    values.insert(token).map_err(enc)?;
    let mut attrs = si.unsigned_attrs.take().unwrap_or_default();
    attrs
        .insert(Attribute {
            oid: ID_AA_SIGNATURE_TIME_STAMP,
            values,
        })
        .map_err(enc)?;
    si.unsigned_attrs = Some(attrs);
    sd.signer_infos = cms::signed_data::SignerInfos(SetOfVec::try_from(infos).map_err(enc)?);
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// A checked token.
#[derive(Clone, Debug)]
pub struct CheckedToken {
    pub gen_time: DateTime<Utc>,
    pub tsa: Certificate,
    /// The TSA's path up to (not including) the trust anchor, TSA first.
    pub tsa_path: Vec<Certificate>,
    /// The certificates the token carried.
    pub certs: Vec<Certificate>,
}

/// The hash a token's imprint uses.
pub(crate) fn imprint_algorithm(oid: &ObjectIdentifier) -> Option<&'static Algorithm> {
    match *oid {
        o if o == SHA256_OID => Some(&SHA256),
        o if o == SHA384_OID => Some(&SHA384),
        o if o == SHA512_OID => Some(&SHA512),
        _ => None,
    }
}

/// The TSTInfo's hash algorithm and hashed message, and the certificates a token carries,
/// without checking anything else.
pub(crate) fn token_parts(token: &ContentInfo) -> Result<(x509_tsp::TstInfo, Vec<Certificate>), String> {
    let info = crate::pki::tsp::tst_info(token).map_err(|e| e.to_string())?;
    let sd: SignedData = token
        .content
        .decode_as()
        .map_err(|e| format!("time-stamp token: {e}"))?;
    let certs = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    Ok((info, certs))
}

/// Checks a token: the imprint equals `imprint_of(hash)` (the caller hashes what the token must
/// stamp), the TSA's signature and ESS certificate hash, its critical EKU timeStamping, and the
/// TSA's path to `trust` at `at`. `pool` adds certificates (e.g. the DSS) to the token's own.
pub(crate) fn check_token(
    token: &ContentInfo,
    imprint_of: &dyn Fn(&'static Algorithm) -> Vec<u8>,
    pool: &[Certificate],
    trust: &[Certificate],
    at: DateTime<Utc>,
) -> Result<CheckedToken, String> {
    let (info, certs) = token_parts(token)?;
    let hash = imprint_algorithm(&info.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| format!("unsupported imprint hash {}", info.message_imprint.hash_algorithm.oid))?;
    if info.message_imprint.hashed_message.as_bytes() != imprint_of(hash).as_slice() {
        return Err("the time-stamp token is over other data (its message imprint does not match)".into());
    }
    let sd: SignedData = token
        .content
        .decode_as()
        .map_err(|e| format!("time-stamp token: {e}"))?;
    let signers: Vec<_> = sd.signer_infos.0.iter().collect();
    let [si] = signers[..] else {
        return Err("the time-stamp token must have one SignerInfo".into());
    };
    let mut all: Vec<Certificate> = certs.clone();
    all.extend(pool.iter().cloned());
    let tsa = all
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate.issuer == isn.issuer && c.tbs_certificate.serial_number == isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                super::verify::subject_key_id(c).as_deref() == Some(ski.0.as_bytes())
            }
        })
        .cloned()
        .ok_or("the TSA's certificate is not in the token")?;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the time-stamp token has no signed attributes")?;
    let attr = |oid: ObjectIdentifier| attrs.iter().find(|a| a.oid == oid).and_then(|a| a.values.iter().next());
    let ct: ObjectIdentifier = attr(ID_CONTENT_TYPE)
        .ok_or("the time-stamp token has no content-type attribute")?
        .decode_as()
        .map_err(|e| format!("content-type: {e}"))?;
    if ct != ID_CT_TST_INFO {
        return Err("the time-stamp token's content-type is not TSTInfo".into());
    }
    let econtent: OctetString = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the time-stamp token has no TSTInfo")?
        .decode_as()
        .map_err(|e| format!("TSTInfo: {e}"))?;
    let digest_alg = imprint_algorithm(&si.digest_alg.oid).ok_or("unsupported token digest algorithm")?;
    let md: OctetString = attr(ID_MESSAGE_DIGEST)
        .ok_or("the time-stamp token has no message-digest attribute")?
        .decode_as()
        .map_err(|e| format!("message-digest: {e}"))?;
    if md.as_bytes() != ring::digest::digest(digest_alg, econtent.as_bytes()).as_ref() {
        return Err("the time-stamp token's TSTInfo does not match its message-digest".into());
    }
    let signed = attrs.to_der().map_err(|e| e.to_string())?;
    verify_with(
        &tsa,
        &si.signature_algorithm.oid,
        Some(&si.digest_alg.oid),
        &signed,
        si.signature.as_bytes(),
    )
    .map_err(|e| format!("the TSA's signature does not verify: {e}"))?;
    check_ess(&tsa, attr(ID_SIGNING_CERTIFICATE_V2), attr(ID_SIGNING_CERTIFICATE))?;
    match extended_key_usage(&tsa) {
        Some((ekus, true)) if ekus == [ID_KP_TIME_STAMPING] => {}
        _ => {
            return Err(format!(
                "{} is not a time-stamping certificate (RFC 3161 needs exactly a critical EKU timeStamping)",
                name_of(&tsa)
            ))
        }
    }
    let tsa_path = build_path(&tsa, &all, trust, at).map_err(|e| format!("TSA: {e}"))?;
    Ok(CheckedToken {
        gen_time: crate::pki::from_generalized(&info.gen_time),
        tsa,
        tsa_path,
        certs,
    })
}

fn check_ess(tsa: &Certificate, v2: Option<&Any>, v1: Option<&Any>) -> Result<(), String> {
    let der = tsa.to_der().map_err(|e| e.to_string())?;
    if let Some(v2) = v2 {
        let ess: AnySigningCertificateV2 = v2.decode_as().map_err(|e| format!("signing-certificate-v2: {e}"))?;
        let first = ess.certs.first().ok_or("signing-certificate-v2 is empty")?;
        let alg = match &first.hash_algorithm {
            None => &SHA256,
            Some(a) => imprint_algorithm(&a.oid).ok_or("unsupported signing-certificate-v2 hash")?,
        };
        if first.cert_hash.as_bytes() != ring::digest::digest(alg, &der).as_ref() {
            return Err("the token's signing-certificate-v2 does not name the TSA's certificate".into());
        }
        return Ok(());
    }
    if let Some(v1) = v1 {
        let ess: SigningCertificateV1 = v1.decode_as().map_err(|e| format!("signing-certificate: {e}"))?;
        let first = ess.certs.first().ok_or("signing-certificate is empty")?;
        if first.cert_hash.as_bytes() != ring::digest::digest(&SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref() {
            return Err("the token's signing-certificate does not name the TSA's certificate".into());
        }
        return Ok(());
    }
    Err("the time-stamp token names no signing certificate (ESS)".into())
}
