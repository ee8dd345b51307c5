//! What a certificate points to: its OCSP responder and issuer certificate (Authority
//! Information Access) and its CRLs (CRL distribution points). Pure.

use der::asn1::ObjectIdentifier;
use der::Decode;
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};
use x509_cert::Certificate;

const AIA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
const CRL_DP: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.31");
const AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
/// id-pkix-ocsp-nocheck: the certificate of an OCSP responder needs no revocation check.
pub const OCSP_NOCHECK: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.5");
const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");

fn extension(cert: &Certificate, oid: ObjectIdentifier) -> Option<&x509_cert::ext::Extension> {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)
}

fn uri(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(u) => Some(u.as_str().to_string()),
        _ => None,
    }
}

fn access(cert: &Certificate, method: ObjectIdentifier) -> Vec<String> {
    extension(cert, AIA)
        .and_then(|e| AuthorityInfoAccessSyntax::from_der(e.extn_value.as_bytes()).ok())
        .map(|aia| {
            aia.0
                .iter()
                .filter(|d| d.access_method == method)
                .filter_map(|d| uri(&d.access_location))
                .collect()
        })
        .unwrap_or_default()
}

/// OCSP responder URLs.
pub fn ocsp_urls(cert: &Certificate) -> Vec<String> {
    access(cert, AD_OCSP)
}

/// URLs of the issuer's certificate (caIssuers).
pub fn ca_issuer_urls(cert: &Certificate) -> Vec<String> {
    access(cert, AD_CA_ISSUERS)
}

/// CRL distribution point URLs.
pub fn crl_urls(cert: &Certificate) -> Vec<String> {
    extension(cert, CRL_DP)
        .and_then(|e| CrlDistributionPoints::from_der(e.extn_value.as_bytes()).ok())
        .map(|dps| {
            dps.0
                .iter()
                .filter_map(|dp: &DistributionPoint| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => {
                        Some(names.iter().filter_map(uri).collect::<Vec<_>>())
                    }
                    _ => None,
                })
                .flatten()
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the certificate carries id-pkix-ocsp-nocheck.
pub fn has_ocsp_nocheck(cert: &Certificate) -> bool {
    extension(cert, OCSP_NOCHECK).is_some()
}

/// The extended key usages, and whether the extension is critical; `None` without the extension.
pub fn extended_key_usage(cert: &Certificate) -> Option<(Vec<ObjectIdentifier>, bool)> {
    let ext = extension(cert, EKU)?;
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes()).ok()?;
    Some((eku.0, ext.critical))
}

/// Whether the certificate is self-issued (subject = issuer).
pub fn is_self_issued(cert: &Certificate) -> bool {
    cert.tbs_certificate.subject == cert.tbs_certificate.issuer
}
