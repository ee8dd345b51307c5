//! The axis's wire protocol (brief `edxml.md` §6): `XroadVnpt-*` headers, the HMAC-SHA256 over
//! the `XroadVnpt-sign-header` JSON, and the `{status, ErrorCode, ErrorDesc, ...}` envelope.
//! Pure: no IO, no clock (the caller passes the timestamp).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use ring::hmac;
use serde::{Deserialize, Serialize};

/// Every parameter header starts with this.
pub const PREFIX: &str = "XroadVnpt-";
pub const SIGN_HEADER: &str = "XroadVnpt-sign-header";
pub const SIGN_HEADER_KEY: &str = "XroadVnpt-sign-header-key";
pub const HASH_HEADER: &str = "XroadVnpt-hash-header";
pub const VERSION_HEADER: &str = "XroadVnpt-version";
/// The protocol version the operator's SDK sends.
pub const VERSION: &str = "3.0.201608";
/// The operator's SDK identifies itself so; the mock does not care.
pub const USER_AGENT: &str = "JAVASDKAgent/1.0.0 XRoad/VPCP";

/// `servicetype` of every document exchange.
pub const SERVICE_TYPE: &str = "eDoc";

/// `messagetype`: a document packet or a status packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Edoc,
    Status,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edoc => "edoc",
            Self::Status => "status",
        }
    }

    /// Case-insensitive; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "edoc" => Some(Self::Edoc),
            "status" => Some(Self::Status),
            _ => None,
        }
    }
}

/// The acknowledgement a receiver gives an inbox item (`updateStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckStatus {
    Done,
    Fail,
    Processing,
}

impl AckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Fail => "fail",
            Self::Processing => "processing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "done" => Some(Self::Done),
            "fail" => Some(Self::Fail),
            "processing" => Some(Self::Processing),
            _ => None,
        }
    }
}

/// `XroadVnpt-timestamp` as the SDK writes it: `ddMMyyyy'T'HHmmss+SSSS`, where the part after `+`
/// is milliseconds (zero-padded to four digits), not a zone.
pub fn timestamp(at: NaiveDateTime) -> String {
    format!(
        "{}+{:04}",
        at.format("%d%m%YT%H%M%S"),
        at.and_utc().timestamp_subsec_millis()
    )
}

/// Lowercase hex of HMAC-SHA256(key = UTF-8 secret, message = UTF-8 sign-header).
pub fn hmac_hex(secret: &str, sign_header: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex::encode(hmac::sign(&key, sign_header.as_bytes()).as_ref())
}

/// Constant-time check of `hash_hex` (either case) against the HMAC of `sign_header`.
pub fn verify_hmac(secret: &str, sign_header: &str, hash_hex: &str) -> bool {
    let Ok(tag) = hex::decode(hash_hex.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, sign_header.as_bytes(), &tag).is_ok()
}

/// SHA-256 of `bytes` hex-encoded the way the operator's SDK writes `hash-file`: each byte
/// without zero-padding (`0x0b` → `b`), so 62–64 characters.
pub fn java_hex_sha256(bytes: &[u8]) -> String {
    java_hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Standard lowercase hex SHA-256.
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Whether a `hash-file` header matches the body. The SDK appends CRLF to the file, so both the
/// body and the body without one trailing CRLF are tried, in both hex encodings.
pub fn hash_file_matches(hash: &str, body: &[u8]) -> bool {
    let hash = hash.trim().to_ascii_lowercase();
    let candidates = [strip_crlf(body), Some(body)];
    candidates.into_iter().flatten().any(|b| {
        let digest = ring::digest::digest(&ring::digest::SHA256, b);
        hash == hex::encode(digest.as_ref()) || hash == java_hex(digest.as_ref())
    })
}

fn java_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for b in bytes {
        let _ = write!(out, "{b:x}");
    }
    out
}

/// The body without one trailing CRLF (or LF), when it has one.
pub fn strip_crlf(body: &[u8]) -> Option<&[u8]> {
    body.strip_suffix(b"\r\n").or_else(|| body.strip_suffix(b"\n"))
}

/// The headers of one signed request: every parameter as `XroadVnpt-{key}`, the sign-header JSON
/// over them (in the given order, compact, as Gson writes it), the key list and the HMAC.
/// `params` must include `systemid` and `timestamp`; values must be visible ASCII.
pub fn sign(params: &[(String, String)], secret: &str) -> Vec<(String, String)> {
    let mut headers = Vec::with_capacity(params.len() + 5);
    let mut json = String::from("{");
    let mut keys = Vec::with_capacity(params.len());
    for (i, (k, v)) in params.iter().enumerate() {
        let name = format!("{PREFIX}{k}");
        if i > 0 {
            json.push(',');
        }
        json.push_str(&json_string(&name));
        json.push(':');
        json.push_str(&json_string(v));
        if k.eq_ignore_ascii_case("Content-Type") {
            headers.push(("Content-Type".to_owned(), v.clone()));
        }
        headers.push((name, v.clone()));
        keys.push(k.as_str());
    }
    json.push('}');
    let hash = hmac_hex(secret, &json);
    headers.push((SIGN_HEADER_KEY.to_owned(), keys.join(";")));
    headers.push((SIGN_HEADER.to_owned(), json));
    headers.push((HASH_HEADER.to_owned(), hash));
    headers.push((VERSION_HEADER.to_owned(), VERSION.to_owned()));
    headers
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Why a request was not authenticated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("unknown system id {0:?}")]
    UnknownSystem(String),
    #[error("the HMAC in XroadVnpt-hash-header does not match XroadVnpt-sign-header")]
    BadSignature,
    #[error("XroadVnpt-sign-header is not a JSON object of strings: {0}")]
    BadSignHeader(String),
    #[error("header XroadVnpt-{0} differs from its signed value")]
    Tampered(String),
}

/// The parameters of an authenticated request: the signed `XroadVnpt-*` values, keyed by their
/// name without the prefix, lowercased (names are case-insensitive).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(pub BTreeMap<String, String>);

impl Params {
    /// The value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// The first of `names` present and non-empty.
    pub fn first(&self, names: &[&str]) -> Option<&str> {
        names.iter().find_map(|n| self.get(n).filter(|v| !v.trim().is_empty()))
    }
}

/// The value of header `name` among `headers`, compared case-insensitively.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Authenticates a request (brief §6.3 "mock verification recipe"): looks up the tenant by
/// `XroadVnpt-systemid`, recomputes the HMAC over the **received** sign-header string with
/// `secret_of(system id)`, and returns the signed parameters. A `XroadVnpt-*` header whose value
/// differs from its signed copy is refused; unsigned headers are ignored.
pub fn authenticate<'s>(
    headers: &[(String, String)],
    secret_of: impl Fn(&str) -> Option<&'s str>,
) -> Result<(String, Params), AuthError> {
    let system_id = header(headers, "XroadVnpt-systemid")
        .filter(|s| !s.trim().is_empty())
        .ok_or(AuthError::MissingHeader("XroadVnpt-systemid"))?
        .trim()
        .to_owned();
    let sign_header = header(headers, SIGN_HEADER).ok_or(AuthError::MissingHeader(SIGN_HEADER))?;
    let hash = header(headers, HASH_HEADER).ok_or(AuthError::MissingHeader(HASH_HEADER))?;
    let secret = secret_of(&system_id).ok_or_else(|| AuthError::UnknownSystem(system_id.clone()))?;
    if !verify_hmac(secret, sign_header, hash) {
        return Err(AuthError::BadSignature);
    }
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(sign_header).map_err(|e| AuthError::BadSignHeader(e.to_string()))?;
    let mut params = BTreeMap::new();
    for (k, v) in object {
        let key = strip_prefix(&k).to_ascii_lowercase();
        let value = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => other.to_string(),
            _ => return Err(AuthError::BadSignHeader(format!("{k} is not a string"))),
        };
        params.insert(key, value);
    }
    let params = Params(params);
    if params.get("systemid").map(str::trim) != Some(system_id.as_str()) {
        return Err(AuthError::Tampered("systemid".into()));
    }
    for (name, value) in headers {
        if !name.get(..PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PREFIX)) {
            continue;
        }
        let key = strip_prefix(name).to_ascii_lowercase();
        if matches!(
            key.as_str(),
            "sign-header" | "sign-header-key" | "hash-header" | "version"
        ) {
            continue;
        }
        if let Some(signed) = params.get(&key) {
            if signed != value {
                return Err(AuthError::Tampered(key));
            }
        }
    }
    Ok((system_id, params))
}

fn strip_prefix(k: &str) -> &str {
    match k.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => &k[PREFIX.len()..],
        _ => k,
    }
}

/// Error codes the mock answers with (`ErrorCode`; `"0"` is success).
pub mod codes {
    pub const OK: &str = "0";
    pub const BAD_REQUEST: &str = "400";
    pub const UNAUTHORIZED: &str = "401";
    pub const FORBIDDEN: &str = "403";
    pub const NOT_FOUND: &str = "404";
    pub const TOO_LARGE: &str = "413";
    pub const INTERNAL: &str = "500";
    pub const UNAVAILABLE: &str = "503";
}

/// The response envelope: `{status, ErrorCode, ErrorDesc, ...}`. Success is `ErrorCode == "0"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub status: String,
    #[serde(rename = "ErrorCode")]
    pub error_code: String,
    #[serde(rename = "ErrorDesc")]
    pub error_desc: String,
    /// `DocId`, `data`, `count`: whatever the endpoint returns besides.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Envelope {
    pub fn ok() -> Self {
        Self {
            status: "OK".into(),
            error_code: codes::OK.into(),
            error_desc: "Thành công".into(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn fail(code: &str, desc: impl Into<String>) -> Self {
        Self {
            status: "FAIL".into(),
            error_code: code.into(),
            error_desc: desc.into(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extra.insert(
            key.to_owned(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }

    pub fn is_ok(&self) -> bool {
        self.error_code.trim() == codes::OK
    }
}

/// One inbox item of `getReceivedEdocList`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedItem {
    #[serde(rename = "docId")]
    pub doc_id: String,
    #[serde(rename = "serviceType", default)]
    pub service_type: String,
    #[serde(rename = "messageType", default)]
    pub message_type: String,
    #[serde(default)]
    pub created_time: String,
    #[serde(default)]
    pub updated_time: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_desc: String,
    #[serde(rename = "contentLength", default)]
    pub content_length: u64,
    #[serde(rename = "contentSha256", default)]
    pub content_sha256: String,
}

/// One row of `getSentEdocList`: a sent packet at one receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentRow {
    #[serde(default)]
    pub service_type: String,
    #[serde(default)]
    pub message_type: String,
    pub sender_doc_id: String,
    #[serde(default)]
    pub receiver_doc_id: String,
    #[serde(default)]
    pub from_code: String,
    #[serde(default)]
    pub to_code: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub notation: String,
    #[serde(default)]
    pub sent_time: String,
    #[serde(default)]
    pub received_time: String,
    #[serde(default)]
    pub send_status: String,
    #[serde(default)]
    pub send_status_desc: String,
    #[serde(default)]
    pub receive_status: String,
    #[serde(default)]
    pub receive_status_desc: String,
    /// The latest status code (01…16) the receiver reported for this document (mock extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
}

/// One agency of `getAgenciesList` (and, with `code102`, of `getAgenciesListQD20`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agency {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub pid: String,
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code102: Option<String>,
}

/// The JSON body of `registerAgency`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgencyRegistration {
    pub id: String,
    pub pcode: String,
    pub code: String,
    pub name: String,
    pub mail: String,
    pub mobile: String,
    pub fax: String,
}

/// Inbox states (`status` of a list item; `receiveStatus` of a sent row).
pub mod states {
    pub const INITIAL: &str = "INITIAL";
    pub const PROCESSING: &str = "PROCESSING";
    pub const DONE: &str = "DONE";
    pub const FAIL: &str = "FAIL";

    /// Vietnamese description of a state.
    pub fn describe(state: &str) -> &'static str {
        match state {
            INITIAL => "Chờ nhận",
            PROCESSING => "Đã lấy về, đang xử lý",
            DONE => "Đã nhận thành công",
            FAIL => "Nhận lỗi",
            _ => "Không rõ",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked out from brief §6.3/§6.4a with `openssl dgst -sha256 -hmac`:
    /// `printf '%s' "$J" | openssl dgst -sha256 -hmac 'c2VjcmV0LXRlbmFudC1h'`.
    const SIGN_HEADER_VECTOR: &str = r#"{"XroadVnpt-systemid":"vxp.saas.03","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-from":"000.00.00.G22","XroadVnpt-timestamp":"22112026T233625+0122","XroadVnpt-Content-Type":"application/octet-stream"}"#;
    const SECRET_VECTOR: &str = "c2VjcmV0LXRlbmFudC1h";
    const HMAC_VECTOR: &str = "6771bb15701859739c2df8053da6adef7a804540ff255be394450d27ca0aac5f";

    fn params() -> Vec<(String, String)> {
        [
            ("systemid", "vxp.saas.03"),
            ("servicetype", "eDoc"),
            ("messagetype", "edoc"),
            ("from", "000.00.00.G22"),
            ("timestamp", "22112026T233625+0122"),
            ("Content-Type", "application/octet-stream"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    #[test]
    fn hmac_matches_the_worked_vector() {
        assert_eq!(hmac_hex(SECRET_VECTOR, SIGN_HEADER_VECTOR), HMAC_VECTOR);
        assert!(verify_hmac(
            SECRET_VECTOR,
            SIGN_HEADER_VECTOR,
            &HMAC_VECTOR.to_uppercase()
        ));
        assert!(!verify_hmac("other", SIGN_HEADER_VECTOR, HMAC_VECTOR));
        assert!(!verify_hmac(SECRET_VECTOR, SIGN_HEADER_VECTOR, "not hex"));
    }

    #[test]
    fn sign_writes_the_sdk_headers() {
        let headers = sign(&params(), SECRET_VECTOR);
        assert_eq!(header(&headers, SIGN_HEADER), Some(SIGN_HEADER_VECTOR));
        assert_eq!(header(&headers, HASH_HEADER), Some(HMAC_VECTOR));
        assert_eq!(
            header(&headers, SIGN_HEADER_KEY),
            Some("systemid;servicetype;messagetype;from;timestamp;Content-Type")
        );
        assert_eq!(header(&headers, "content-type"), Some("application/octet-stream"));
        assert_eq!(header(&headers, "xroadvnpt-FROM"), Some("000.00.00.G22"));
    }

    #[test]
    fn authenticate_accepts_good_and_refuses_bad() {
        let secret_of = |id: &str| (id == "vxp.saas.03").then_some(SECRET_VECTOR);
        let mut headers = sign(&params(), SECRET_VECTOR);
        // Header names arrive in any case.
        for (k, _) in headers.iter_mut() {
            *k = k.to_ascii_lowercase();
        }
        let (id, p) = authenticate(&headers, secret_of).expect("valid");
        assert_eq!(id, "vxp.saas.03");
        assert_eq!(p.get("MessageType"), Some("edoc"));
        assert_eq!(p.get("content-type"), Some("application/octet-stream"));

        let wrong = sign(&params(), "wrong secret");
        assert_eq!(authenticate(&wrong, secret_of), Err(AuthError::BadSignature));

        let missing: Vec<_> = headers
            .iter()
            .filter(|(k, _)| k != &HASH_HEADER.to_ascii_lowercase())
            .cloned()
            .collect();
        assert_eq!(
            authenticate(&missing, secret_of),
            Err(AuthError::MissingHeader(HASH_HEADER))
        );
        assert_eq!(
            authenticate(&[], secret_of),
            Err(AuthError::MissingHeader("XroadVnpt-systemid"))
        );

        let mut tampered = headers.clone();
        for (k, v) in tampered.iter_mut() {
            if k == "xroadvnpt-from" {
                *v = "000.00.00.H41".into();
            }
        }
        assert_eq!(
            authenticate(&tampered, secret_of),
            Err(AuthError::Tampered("from".into()))
        );

        let mut other = params();
        other[0].1 = "vxp.saas.99".into();
        let unknown = sign(&other, SECRET_VECTOR);
        assert_eq!(
            authenticate(&unknown, secret_of),
            Err(AuthError::UnknownSystem("vxp.saas.99".into()))
        );
    }

    #[test]
    fn hash_file_in_both_encodings() {
        let file = b"<edXML/>";
        let mut body = file.to_vec();
        body.extend_from_slice(b"\r\n");
        assert!(hash_file_matches(&hex_sha256(file), &body));
        assert!(hash_file_matches(&java_hex_sha256(file), &body));
        assert!(hash_file_matches(&hex_sha256(&body), &body));
        assert!(!hash_file_matches(&hex_sha256(b"other"), &body));
        // 0x0b → "b": a digest with a small byte is shorter in the SDK's encoding.
        assert!(java_hex_sha256(b"").len() <= 64);
    }

    #[test]
    fn sdk_timestamp_format() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .and_then(|d| d.and_hms_milli_opt(23, 36, 25, 122))
            .expect("valid");
        assert_eq!(timestamp(at), "22112026T233625+0122");
    }
}
