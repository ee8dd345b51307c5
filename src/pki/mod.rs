//! PKI services around PAdES: RFC 6960 OCSP and RFC 3161 time-stamping, as **pure** builders and
//! parsers (bytes in, bytes out; the time is an argument), plus the HTTP client that fetches
//! them (`client`, the only IO here).
//!
//! ```text
//! ca_index ─ an OpenSSL CA database (`index.txt`): which serials are valid or revoked
//! ocsp     ─ OCSP requests (client) and signed responses (responder), CertID matching
//! tsp      ─ time-stamp requests (client), responses and tokens (TSA)
//! cert_info─ the URLs a certificate points to (OCSP, caIssuers, CRL distribution points)
//! client   ─ HTTP GET/POST of the above (reqwest, rustls)
//! ```
//!
//! `vanthu pki serve-test` (see `src/http/pki_test.rs`) answers with these builders.

pub mod ca_index;
pub mod cert_info;
pub mod client;
pub mod ocsp;
pub mod tsp;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("{0}")]
    Rejected(String),
    #[error("encoding failed: {0}")]
    Encoding(String),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("HTTP: {0}")]
    Http(String),
}

pub type PkiResult<T> = Result<T, PkiError>;

pub(crate) fn malformed(what: &'static str) -> impl Fn(der::Error) -> PkiError {
    move |e| PkiError::Malformed {
        what,
        detail: e.to_string(),
    }
}

pub(crate) fn enc(e: der::Error) -> PkiError {
    PkiError::Encoding(e.to_string())
}

/// chrono → DER GeneralizedTime (whole seconds).
pub(crate) fn generalized(at: chrono::DateTime<chrono::Utc>) -> PkiResult<der::asn1::GeneralizedTime> {
    let secs = u64::try_from(at.timestamp()).map_err(|_| PkiError::Encoding("time before 1970".into()))?;
    der::asn1::GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs)).map_err(enc)
}

/// DER GeneralizedTime → chrono.
pub fn from_generalized(t: &der::asn1::GeneralizedTime) -> chrono::DateTime<chrono::Utc> {
    let secs = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}
