//! Validation of a document as submitted (pure; `today` comes in as an argument).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{DocumentTypeCatalog, Secrecy, SigningAuthority, Urgency};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Văn bản đến.
    Incoming,
    /// Văn bản đi.
    Outgoing,
}

impl Direction {
    pub fn code(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Outgoing document being drafted (dự thảo).
    Draft,
    /// Incoming document registered by the clerk (đã vào sổ).
    Registered,
    /// Outgoing document numbered and issued (đã ban hành).
    Issued,
    /// Recalled (thu hồi); the number is kept and never reused.
    Recalled,
}

impl DocumentStatus {
    pub fn code(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Registered => "registered",
            Self::Issued => "issued",
            Self::Recalled => "recalled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "registered" => Some(Self::Registered),
            "issued" => Some(Self::Issued),
            "recalled" => Some(Self::Recalled),
            _ => None,
        }
    }
}

/// A document as a client submits it. Every field is loosely typed here so that each problem is
/// reported against its field with a stable code, rather than as a generic JSON error.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentInput {
    /// `incoming` (văn bản đến) or `outgoing` (văn bản đi).
    pub direction: String,
    /// Stable code from `GET /api/v1/document-types`, e.g. `quyet_dinh`.
    pub document_type: String,
    /// Trích yếu.
    pub subject: String,
    /// Incoming: the sender's number (digits). Outgoing: assigned by the clerk, never sent.
    #[schema(value_type = Option<String>)]
    pub number: Option<serde_json::Value>,
    /// Incoming: the sender's symbol (ký hiệu), e.g. `QĐ-BTP`.
    pub symbol: Option<String>,
    /// Incoming: the issuing agency's name.
    pub issuer_name: Option<String>,
    /// The issuing agency's identifier code (mã định danh), if known.
    pub issuer_code: Option<String>,
    /// `YYYY-MM-DD`.
    pub issued_on: Option<String>,
    /// `thuong`, `khan`, `thuong_khan`, `hoa_toc`, `hoa_toc_hen_gio`.
    pub urgency: Option<String>,
    /// `mat`, `toi_mat`, `tuyet_mat` are refused: secret documents do not belong here.
    pub secrecy: Option<String>,
    pub signer_name: Option<String>,
    pub signer_position: Option<String>,
    /// `direct`, `tm`, `kt`, `q`, `tl`, `tuq`.
    pub signing_authority: Option<String>,
    pub page_count: Option<i64>,
    /// Nơi nhận.
    pub recipients: Option<Vec<String>>,
    /// Processing deadline, `YYYY-MM-DD`.
    pub deadline: Option<String>,
    /// The unit that drafts (outgoing) or handles (incoming) the document; defaults to the user's.
    pub unit_id: Option<i64>,
    /// External document identifier (e.g. an edXML DocumentId), used to flag duplicates.
    pub external_id: Option<String>,
    /// Ghi chú.
    pub notes: Option<String>,
}

/// A document that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidDocument {
    pub direction: Direction,
    pub document_type: String,
    pub subject: String,
    pub number: Option<i64>,
    pub symbol: Option<String>,
    pub issuer_name: Option<String>,
    pub issuer_code: Option<String>,
    pub issued_on: Option<NaiveDate>,
    pub urgency: Urgency,
    pub signer_name: Option<String>,
    pub signer_position: Option<String>,
    pub signing_authority: Option<SigningAuthority>,
    pub page_count: Option<i64>,
    pub recipients: Vec<String>,
    pub deadline: Option<NaiveDate>,
    pub unit_id: Option<i64>,
    pub external_id: Option<String>,
    pub notes: Option<String>,
}

/// One problem with one field. `code` is a stable API error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub code: &'static str,
    pub field: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, field: &'static str, message: impl Into<String>) -> ValidationError {
    ValidationError {
        code,
        field,
        message: message.into(),
    }
}

pub const MAX_SUBJECT: usize = 2000;
pub const MAX_NAME: usize = 500;
pub const MAX_SYMBOL: usize = 60;
pub const MAX_NOTES: usize = 4000;
pub const MAX_RECIPIENTS: usize = 500;

fn text(
    field: &'static str,
    value: Option<&str>,
    max: usize,
    required: bool,
) -> Result<Option<String>, ValidationError> {
    let v = value.map(str::trim).filter(|s| !s.is_empty());
    match v {
        None if required => Err(invalid("validation.required", field, format!("{field} is required"))),
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(invalid(
            "validation.too_long",
            field,
            format!(
                "{field} is {} characters long; at most {max} are allowed",
                s.chars().count()
            ),
        )),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Err(invalid(
            "validation.invalid_characters",
            field,
            format!("{field} contains control characters"),
        )),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn date(field: &'static str, value: Option<&str>) -> Result<Option<NaiveDate>, ValidationError> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|d| s.len() == 10 && (1900..=9999).contains(&chrono::Datelike::year(d)))
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    "validation.invalid_date",
                    field,
                    format!("{field} must be a real date written YYYY-MM-DD, got {s:?}"),
                )
            }),
    }
}

fn number(value: Option<&serde_json::Value>) -> Result<Option<i64>, ValidationError> {
    let bad = || {
        invalid(
            "validation.invalid_number",
            "number",
            "number must be a whole number from 1 to 9999999 (e.g. 15 or \"05\")",
        )
    };
    let n = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(bad)?,
        Some(serde_json::Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            if s.len() > 7 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())?
        }
        Some(_) => return Err(bad()),
    };
    if (1..=9_999_999).contains(&n) {
        Ok(Some(n))
    } else {
        Err(bad())
    }
}

impl DocumentInput {
    /// Validates every field. `today` is the agency's local date (Asia/Ho_Chi_Minh).
    pub fn validate(&self, catalog: &DocumentTypeCatalog, today: NaiveDate) -> Result<ValidDocument, ValidationError> {
        if let Some(s) = self.secrecy.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            return Err(match Secrecy::parse(s) {
                Some(level) => invalid(
                    "document.secret_refused",
                    "secrecy",
                    format!(
                        "documents marked {} (state secret) must not be registered in this system; use the isolated system for classified documents",
                        level.label()
                    ),
                ),
                None => invalid("validation.invalid_value", "secrecy", format!("unknown secrecy mark {s:?}")),
            });
        }
        let direction = Direction::parse(self.direction.trim()).ok_or_else(|| {
            invalid(
                "validation.invalid_value",
                "direction",
                "direction must be \"incoming\" or \"outgoing\"",
            )
        })?;
        let code = self.document_type.trim();
        if catalog.get(today, code).is_none() {
            return Err(invalid(
                "document.unknown_type",
                "document_type",
                format!("unknown document type {code:?}; see GET /api/v1/document-types"),
            ));
        }
        let subject = text("subject", Some(&self.subject), MAX_SUBJECT, true)?.unwrap_or_default();
        let urgency = match self.urgency.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Urgency::Thuong,
            Some(u) => Urgency::parse(u).ok_or_else(|| {
                invalid(
                    "validation.invalid_value",
                    "urgency",
                    format!("unknown urgency {u:?}; use thuong, khan, thuong_khan, hoa_toc or hoa_toc_hen_gio"),
                )
            })?,
        };
        let signing_authority = match self
            .signing_authority
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(a) => Some(SigningAuthority::parse(a).ok_or_else(|| {
                invalid(
                    "validation.invalid_value",
                    "signing_authority",
                    format!("unknown signing authority {a:?}; use direct, tm, kt, q, tl or tuq"),
                )
            })?),
        };
        let page_count = match self.page_count {
            None => None,
            Some(n) if (1..=100_000).contains(&n) => Some(n),
            Some(n) => {
                return Err(invalid(
                    "validation.out_of_range",
                    "page_count",
                    format!("page_count must be 1..100000, got {n}"),
                ))
            }
        };
        let recipients = self.recipients.clone().unwrap_or_default();
        if recipients.len() > MAX_RECIPIENTS {
            return Err(invalid(
                "validation.too_long",
                "recipients",
                format!("at most {MAX_RECIPIENTS} recipients"),
            ));
        }
        let mut clean_recipients = Vec::with_capacity(recipients.len());
        for r in &recipients {
            if let Some(r) = text("recipients", Some(r), MAX_NAME, false)? {
                clean_recipients.push(r);
            }
        }
        let issuer_code = match self.issuer_code.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(c) => Some(
                super::AgencyCode::parse(c)
                    .map_err(|e| invalid("agency.invalid_code", "issuer_code", e.to_string()))?
                    .to_string(),
            ),
        };
        let issued_on = date("issued_on", self.issued_on.as_deref())?;
        if let Some(d) = issued_on {
            if d > today + chrono::Days::new(1) {
                return Err(invalid(
                    "validation.date_in_future",
                    "issued_on",
                    format!("issued_on {d} is in the future"),
                ));
            }
        }
        let deadline = date("deadline", self.deadline.as_deref())?;
        let number = number(self.number.as_ref())?;
        let symbol = text("symbol", self.symbol.as_deref(), MAX_SYMBOL, false)?;
        if let Some(s) = &symbol {
            if s.chars().any(char::is_whitespace) {
                return Err(invalid(
                    "validation.invalid_symbol",
                    "symbol",
                    format!("symbol {s:?} must not contain spaces (e.g. QĐ-BTP)"),
                ));
            }
        }
        let doc = ValidDocument {
            direction,
            document_type: code.to_string(),
            subject,
            number,
            symbol,
            issuer_name: text("issuer_name", self.issuer_name.as_deref(), MAX_NAME, false)?,
            issuer_code,
            issued_on,
            urgency,
            signer_name: text("signer_name", self.signer_name.as_deref(), MAX_NAME, false)?,
            signer_position: text("signer_position", self.signer_position.as_deref(), MAX_NAME, false)?,
            signing_authority,
            page_count,
            recipients: clean_recipients,
            deadline,
            unit_id: self.unit_id,
            external_id: text("external_id", self.external_id.as_deref(), 200, false)?,
            notes: text("notes", self.notes.as_deref(), MAX_NOTES, false)?,
        };
        match direction {
            Direction::Incoming => {
                if doc.number.is_none() {
                    return Err(invalid(
                        "validation.required",
                        "number",
                        "an incoming document needs the sender's number",
                    ));
                }
                if doc.symbol.is_none() {
                    return Err(invalid(
                        "validation.required",
                        "symbol",
                        "an incoming document needs the sender's symbol (ký hiệu)",
                    ));
                }
                if doc.issuer_name.is_none() {
                    return Err(invalid(
                        "validation.required",
                        "issuer_name",
                        "an incoming document needs the issuing agency's name",
                    ));
                }
                if doc.issued_on.is_none() {
                    return Err(invalid(
                        "validation.required",
                        "issued_on",
                        "an incoming document needs its issue date (YYYY-MM-DD)",
                    ));
                }
            }
            Direction::Outgoing => {
                if doc.number.is_some() || doc.symbol.is_some() {
                    return Err(invalid(
                        "document.number_assigned_by_system",
                        "number",
                        "an outgoing document is numbered by the clerk from the number series after signing; do not send number or symbol",
                    ));
                }
            }
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 20).expect("date")
    }

    fn incoming() -> DocumentInput {
        DocumentInput {
            direction: "incoming".into(),
            document_type: "quyet_dinh".into(),
            subject: "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số".into(),
            number: Some(serde_json::json!("05")),
            symbol: Some("QĐ-BTP".into()),
            issuer_name: Some("Bộ Tư pháp".into()),
            issued_on: Some("2026-11-18".into()),
            ..DocumentInput::default()
        }
    }

    #[test]
    fn a_complete_incoming_document_is_valid() {
        let doc = incoming()
            .validate(&DocumentTypeCatalog::embedded(), today())
            .expect("valid");
        assert_eq!(doc.number, Some(5));
        assert_eq!(doc.urgency, Urgency::Thuong);
    }

    #[test]
    fn each_problem_names_its_field() {
        let cat = DocumentTypeCatalog::embedded();
        let cases: Vec<(DocumentInput, &str, &str)> = vec![
            (
                DocumentInput {
                    secrecy: Some("mat".into()),
                    ..incoming()
                },
                "secrecy",
                "document.secret_refused",
            ),
            (
                DocumentInput {
                    document_type: "sac_lenh".into(),
                    ..incoming()
                },
                "document_type",
                "document.unknown_type",
            ),
            (
                DocumentInput {
                    issued_on: Some("2026-02-30".into()),
                    ..incoming()
                },
                "issued_on",
                "validation.invalid_date",
            ),
            (
                DocumentInput {
                    issued_on: Some("2030-01-01".into()),
                    ..incoming()
                },
                "issued_on",
                "validation.date_in_future",
            ),
            (
                DocumentInput {
                    subject: "x".repeat(MAX_SUBJECT + 1),
                    ..incoming()
                },
                "subject",
                "validation.too_long",
            ),
            (
                DocumentInput {
                    subject: "   ".into(),
                    ..incoming()
                },
                "subject",
                "validation.required",
            ),
            (
                DocumentInput {
                    number: Some(serde_json::json!("1a")),
                    ..incoming()
                },
                "number",
                "validation.invalid_number",
            ),
            (
                DocumentInput {
                    number: Some(serde_json::json!(0)),
                    ..incoming()
                },
                "number",
                "validation.invalid_number",
            ),
            (
                DocumentInput {
                    urgency: Some("urgent".into()),
                    ..incoming()
                },
                "urgency",
                "validation.invalid_value",
            ),
            (
                DocumentInput {
                    issuer_code: Some("abc".into()),
                    ..incoming()
                },
                "issuer_code",
                "agency.invalid_code",
            ),
            (
                DocumentInput {
                    symbol: None,
                    ..incoming()
                },
                "symbol",
                "validation.required",
            ),
            (
                DocumentInput {
                    direction: "sideways".into(),
                    ..incoming()
                },
                "direction",
                "validation.invalid_value",
            ),
            (
                DocumentInput {
                    direction: "outgoing".into(),
                    ..incoming()
                },
                "number",
                "document.number_assigned_by_system",
            ),
        ];
        for (input, field, code) in cases {
            let err = input.validate(&cat, today()).expect_err(field);
            assert_eq!((err.field, err.code), (field, code), "{err}");
        }
    }
}
