//! The detached CMS SignedData of a PAdES signature (`ETSI.CAdES.detached`).
//!
//! Signed attributes, exactly: content-type (id-data), message-digest (SHA-256 of the byte
//! range), ESS signing-certificate-v2 (SHA-256 of the signer certificate with its issuer and
//! serial). No signing-time: PAdES forbids it; the time is the signature dictionary's `/M`.
//! The attributes are a DER SET OF (sorted); the signature covers their `0x31`-tagged encoding.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use ring::digest::{digest, SHA256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::{PadesError, PadesResult, SigningKey};

pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
pub const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// RFC 5035 `IssuerSerial`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial_number: SerialNumber,
}

/// RFC 5035 `ESSCertIDv2`; hashAlgorithm is left out, which means its DEFAULT, SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    pub cert_hash: OctetString,
    pub issuer_serial: IssuerSerial,
}

/// RFC 5035 `SigningCertificateV2` (without policies).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2>,
}

fn enc(e: der::Error) -> PadesError {
    PadesError::Encoding(e.to_string())
}

fn attribute(oid: ObjectIdentifier, value: Any) -> PadesResult<Attribute> {
    let mut values = SetOfVec::new();
    values.insert(value).map_err(enc)?;
    Ok(Attribute { oid, values })
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    }
}

/// The PAdES signed attributes for a signature over `content_digest` by `cert`.
pub fn signed_attributes(cert: &Certificate, content_digest: &[u8]) -> PadesResult<SignedAttributes> {
    let cert_der = cert.to_der().map_err(enc)?;
    let ess = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(digest(&SHA256, &cert_der).as_ref()).map_err(enc)?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(cert.tbs_certificate.issuer.clone())],
                serial_number: cert.tbs_certificate.serial_number.clone(),
            },
        }],
    };
    let mut attrs = SetOfVec::new();
    attrs
        .insert(attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(enc)?)?)
        .map_err(enc)?;
    let md = OctetString::new(content_digest).map_err(enc)?;
    attrs
        .insert(attribute(ID_MESSAGE_DIGEST, Any::encode_from(&md).map_err(enc)?)?)
        .map_err(enc)?;
    attrs
        .insert(attribute(
            ID_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&ess).map_err(enc)?,
        )?)
        .map_err(enc)?;
    Ok(attrs)
}

/// DER of a ContentInfo holding the detached SignedData: `cert` signs `content_digest` (SHA-256
/// of the PDF's byte range) with `key`; `cert` and `chain` go into the certificate set.
pub fn signed_data(
    key: &SigningKey,
    cert: &Certificate,
    chain: &[Certificate],
    content_digest: &[u8],
) -> PadesResult<Vec<u8>> {
    let attrs = signed_attributes(cert, content_digest)?;
    // The signature covers the attributes as a universal SET OF (tag 0x31), not as the
    // [0] IMPLICIT field they are stored in.
    let to_sign = attrs.to_der().map_err(enc)?;
    let signature = key.sign(&to_sign)?;
    assemble(cert, chain, attrs, key.signature_algorithm(), signature)
}

/// DER of the ContentInfo around `signature` (made over the DER of `attrs` with `algorithm`),
/// by `cert`, with `cert` and `chain` in the certificate set. Used when the signature was made
/// elsewhere (a token, a remote-signing service).
pub fn assemble(
    cert: &Certificate,
    chain: &[Certificate],
    attrs: SignedAttributes,
    algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
) -> PadesResult<Vec<u8>> {
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_alg(),
        signed_attrs: Some(attrs),
        signature_algorithm: algorithm,
        signature: OctetString::new(signature).map_err(enc)?,
        unsigned_attrs: None,
    };
    let mut certs = SetOfVec::new();
    for c in std::iter::once(cert).chain(chain) {
        let choice = CertificateChoices::Certificate(c.clone());
        // A certificate given twice (the signer repeated in its chain) is stored once.
        if !certs.iter().any(|existing| existing == &choice) {
            certs.insert(choice).map_err(enc)?;
        }
    }
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(sha256_alg()).map_err(enc)?;
    let mut signer_infos = SetOfVec::new();
    signer_infos.insert(signer).map_err(enc)?;
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(certs)),
        crls: None,
        signer_infos: SignerInfos(signer_infos),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(enc)?,
    };
    info.to_der().map_err(enc)
}

pub const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
pub const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// RSASSA-PSS-params for SHA-256, MGF1 with SHA-256 and a 32-byte salt (RFC 4055 §3.1), DER.
const PSS_SHA256_PARAMS: [u8; 54] = [
    0x30, 0x34, // SEQUENCE
    0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, // [0] sha256
    0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, // [1] mgf1
    0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, //   with sha256
    0xa2, 0x03, 0x02, 0x01, 0x20, // [2] saltLength 32
];

/// sha256WithRSAEncryption.
pub fn rsa_pkcs1_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256_WITH_RSA,
        parameters: Some(Any::null()),
    }
}

/// id-RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32.
pub fn rsa_pss_sha256() -> PadesResult<AlgorithmIdentifierOwned> {
    Ok(AlgorithmIdentifierOwned {
        oid: ID_RSASSA_PSS,
        parameters: Some(Any::from_der(&PSS_SHA256_PARAMS).map_err(enc)?),
    })
}

/// The named curve of an EC certificate key.
fn ec_curve(cert: &Certificate) -> Option<ObjectIdentifier> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return None;
    }
    spki.algorithm.parameters.as_ref()?.decode_as().ok()
}

/// Bytes of one coordinate (and of r and s) on the certificate's curve, for EC keys.
pub fn ec_field_len(cert: &Certificate) -> Option<usize> {
    match ec_curve(cert)? {
        c if c == P256 => Some(32),
        c if c == P384 => Some(48),
        _ => None,
    }
}

/// ecdsa-with-SHA256 for an EC certificate (the external signer is given a SHA-256 hash,
/// whatever the curve); an error for other keys.
pub fn ecdsa_for(cert: &Certificate) -> PadesResult<AlgorithmIdentifierOwned> {
    ec_field_len(cert)
        .ok_or_else(|| PadesError::Certificate("the certificate's key is neither RSA nor ECDSA P-256/P-384".into()))?;
    Ok(AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    })
}
