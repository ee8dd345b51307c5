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
use der::{Any, Encode, Sequence};
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

    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: sha256_alg(),
        signed_attrs: Some(attrs),
        signature_algorithm: key.signature_algorithm(),
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
