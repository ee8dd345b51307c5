//! Records (hồ sơ): the annual record list (danh mục hồ sơ), opening, filing, closing, legal hold,
//! supersession, deposit warnings and disposal (NĐ 30/2020 Điều 28–31).
//!
//! Who may do what: every user of the agency except the administrator sees the record list;
//! the clerk, the archivist, leaders, unit heads and specialists create, open, file into and
//! close records; the archivist and leaders set and lift legal holds; only the archivist (lưu
//! trữ) approves a disposal, which the retention rules must allow.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::retention::{check_disposal, disposable_from, DisposalCase, RetentionPeriod, RetentionTable};
use crate::audit::Actor;
use crate::auth::{DocumentScope, Principal, ReadScope};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::model::Role;
use crate::services::Services;
use crate::storage::{FiledDocument, NewRecord, Record, RecordChange, StorageError};

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// Năm hình thành hồ sơ (FileCatalog).
    pub year: i64,
    /// Số và ký hiệu hồ sơ, e.g. `01.TCCB` (sequence number, a dot, the heading's abbreviation).
    pub notation: String,
    /// Đề mục, e.g. `I. Tổ chức cán bộ`.
    pub heading: String,
    /// Tiêu đề hồ sơ.
    pub title: String,
    /// Retention period code, e.g. `10_nam`, `vinh_vien`.
    pub retention: String,
    /// Người lập hồ sơ (user id); default: the caller.
    pub creator_id: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseInput {
    /// The day the work ended, YYYY-MM-DD; default today.
    pub end_date: Option<String>,
    /// Re-determined title.
    pub title: Option<String>,
    /// Re-determined retention period code.
    pub retention: Option<String>,
}

/// A record with what the rules say about it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    #[serde(flatten)]
    pub record: Record,
    /// Mã hồ sơ: `[agency code].[year].[notation]`.
    pub file_code: String,
    pub retention: Option<RetentionPeriod>,
    /// Deposit (nộp lưu) deadline, for closed records that are deposited.
    pub deposit_due: Option<String>,
    /// The first day the record may be disposed of (records kept a number of years).
    pub disposable_from: Option<String>,
    /// Warnings for the user (Vietnamese), e.g. a deposit due within 30 days.
    pub warnings: Vec<String>,
    /// Documents in the record, in order (only on the single-record view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<FiledDocument>>,
}

fn actor(p: &Principal, ip: Option<String>) -> Actor {
    Actor {
        user_id: Some(p.user_id),
        name: p.username.clone(),
        ip,
    }
}

fn table() -> RetentionTable {
    RetentionTable::embedded()
}

fn dmy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn parse_date(field: &'static str, v: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        let mut e = AppError::bad_request("validation.invalid_date", format!("{field} must be YYYY-MM-DD"));
        e.field = Some(field);
        e
    })
}

fn invalid(field: &'static str, message: impl Into<String>) -> AppError {
    let mut e = AppError::bad_request("validation.invalid_value", message);
    e.field = Some(field);
    e
}

fn may_view(p: &Principal) -> bool {
    p.read_scope() != ReadScope::Nothing
}

fn may_manage(p: &Principal) -> bool {
    [
        Role::VanThu,
        Role::LuuTru,
        Role::LanhDao,
        Role::TruongDonVi,
        Role::ChuyenVien,
    ]
    .iter()
    .any(|r| p.has(*r))
}

/// Looks up a record of the principal's agency (404 otherwise).
async fn load(s: &Services, p: &Principal, id: i64) -> AppResult<Record> {
    if !may_view(p) {
        return Err(AppError::not_found("record"));
    }
    let r = s.db.record(id).await.map_err(|e| AppError::storage(e, "record"))?;
    if r.agency_id != p.agency_id {
        return Err(AppError::not_found("record"));
    }
    Ok(r)
}

/// The retention period a record carries (from the version it was chosen from, else in force).
fn period_of(t: &RetentionTable, r: &Record, today: NaiveDate) -> Option<RetentionPeriod> {
    t.version(&r.retention_version)
        .and_then(|v| v.period(&r.retention_code))
        .or_else(|| t.in_force(today).and_then(|v| v.period(&r.retention_code)))
        .cloned()
}

/// What the rules say about a record on `today`. Pure.
pub fn view(t: &RetentionTable, agency_code: &str, r: Record, today: NaiveDate) -> RecordView {
    let period = period_of(t, &r, today);
    let end = r
        .end_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let mut warnings = Vec::new();
    let mut deposit_due = None;
    let mut disposable = None;
    if let (Some(p), Some(end)) = (&period, end) {
        disposable = disposable_from(p, chrono::Datelike::year(&end));
        if let Some(rules) = t.in_force(today) {
            if let Some(due) = rules.deposit_due(p, end) {
                deposit_due = Some(due);
                let pending = r.deposited_at.is_none() && r.status == "closed";
                if pending && today > due {
                    warnings.push(format!("Hồ sơ đã quá hạn nộp lưu (hạn nộp lưu: {}).", dmy(due)));
                } else if pending && rules.deposit_warning(due, today) {
                    warnings.push(format!("Hồ sơ đến hạn nộp lưu vào ngày {}.", dmy(due)));
                }
            }
        }
    }
    if r.legal_hold.is_some() {
        warnings.push("Hồ sơ đang bị phong tỏa theo yêu cầu pháp lý: không được tiêu hủy.".into());
    }
    RecordView {
        file_code: format!("{agency_code}.{}.{}", r.year, r.notation),
        retention: period,
        deposit_due: deposit_due.map(|d| d.to_string()),
        disposable_from: disposable.map(|d| d.to_string()),
        warnings,
        documents: None,
        record: r,
    }
}

async fn to_view(s: &Services, r: Record) -> AppResult<RecordView> {
    let agency = s.db.agency(r.agency_id).await?;
    Ok(view(&table(), &agency.code, r, s.clock.today()))
}

/// `01.TCCB`: an Arabic sequence number, a dot, the heading's abbreviation; at most 20 characters.
fn check_notation(n: &str) -> AppResult<String> {
    let n = n.trim();
    let ok = n.chars().count() <= 20
        && n.split_once('.').is_some_and(|(num, abbr)| {
            !num.is_empty()
                && num.chars().all(|c| c.is_ascii_digit())
                && !abbr.is_empty()
                && abbr.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(invalid(
            "notation",
            "notation must be a sequence number, a dot and the heading's abbreviation, e.g. 01.TCCB (at most 20 characters)",
        ));
    }
    Ok(n.to_string())
}

fn check_text(field: &'static str, v: &str, max: usize) -> AppResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{field} must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(v.to_string())
}

pub async fn create(s: &Services, p: &Principal, input: &RecordInput, ip: Option<String>) -> AppResult<RecordView> {
    if !may_manage(p) {
        return Err(AppError::forbidden("your role cannot keep records (hồ sơ)"));
    }
    let today = s.clock.today();
    let this_year = i64::from(chrono::Datelike::year(&today));
    if !(1945..=this_year + 1).contains(&input.year) {
        return Err(invalid(
            "year",
            format!("year must be between 1945 and {}", this_year + 1),
        ));
    }
    let notation = check_notation(&input.notation)?;
    let heading = check_text("heading", &input.heading, 200)?;
    let title = check_text("title", &input.title, 500)?;
    let t = table();
    let rules = t
        .in_force(today)
        .ok_or_else(|| AppError::internal("no retention table is in force"))?;
    if rules.period(&input.retention).is_none() {
        let codes: Vec<&str> = rules.periods().iter().map(|p| p.code.as_str()).collect();
        return Err(invalid(
            "retention",
            format!("unknown retention period; use one of {}", codes.join(", ")),
        ));
    }
    let creator_id = match input.creator_id {
        Some(u) => {
            let user = s.db.user(u).await.map_err(|e| AppError::storage(e, "user"))?;
            if user.agency_id != p.agency_id {
                return Err(invalid("creator_id", "the creator must be a user of your agency"));
            }
            Some(u)
        }
        None => Some(p.user_id),
    };
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "record.create",
        "record",
        None,
        serde_json::json!({"year": input.year, "notation": notation, "retention": input.retention}),
    );
    let r =
        s.db.create_record(
            &NewRecord {
                agency_id: p.agency_id,
                year: input.year,
                notation,
                heading,
                title,
                retention_code: input.retention.clone(),
                retention_version: rules.id().to_string(),
                creator_id,
            },
            now,
            entry,
        )
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => AppError::conflict(
                "record.duplicate",
                "the record list of that year already has a record with this number and symbol",
            ),
            other => other.into(),
        })?;
    to_view(s, r).await
}

/// The record list (danh mục hồ sơ) of a year.
pub async fn list(s: &Services, p: &Principal, year: i64) -> AppResult<Vec<RecordView>> {
    if !may_view(p) {
        return Err(AppError::forbidden("your role does not see records"));
    }
    let agency = s.db.agency(p.agency_id).await?;
    let t = table();
    let today = s.clock.today();
    Ok(s.db
        .records(p.agency_id, year)
        .await?
        .into_iter()
        .map(|r| view(&t, &agency.code, r, today))
        .collect())
}

pub async fn get(s: &Services, p: &Principal, id: i64) -> AppResult<RecordView> {
    let r = load(s, p, id).await?;
    let mut v = to_view(s, r).await?;
    v.documents = Some(s.db.record_documents(id).await?);
    Ok(v)
}

#[allow(clippy::too_many_arguments)]
async fn change(
    s: &Services,
    p: &Principal,
    id: i64,
    from: &[&str],
    c: RecordChange,
    action: &str,
    details: serde_json::Value,
    ip: Option<String>,
) -> AppResult<RecordView> {
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(now, action, "record", Some(id.to_string()), details);
    let r =
        s.db.change_record(id, from, &c, now, entry)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(m) => {
                    AppError::conflict("record.wrong_state", format!("{m}; {action} is not possible"))
                }
                other => AppError::storage(other, "record"),
            })?;
    to_view(s, r).await
}

pub async fn open(s: &Services, p: &Principal, id: i64, ip: Option<String>) -> AppResult<RecordView> {
    if !may_manage(p) {
        return Err(AppError::forbidden("your role cannot keep records (hồ sơ)"));
    }
    load(s, p, id).await?;
    let start = s.clock.today().to_string();
    change(
        s,
        p,
        id,
        &["planned"],
        RecordChange::Open { start_date: start },
        "record.open",
        serde_json::json!({}),
        ip,
    )
    .await
}

pub async fn file_document(
    s: &Services,
    p: &Principal,
    id: i64,
    document_id: i64,
    ip: Option<String>,
) -> AppResult<FiledDocument> {
    if !may_manage(p) {
        return Err(AppError::forbidden("your role cannot keep records (hồ sơ)"));
    }
    load(s, p, id).await?;
    let doc =
        s.db.document(document_id)
            .await
            .map_err(|e| AppError::storage(e, "document"))?;
    let scope = DocumentScope {
        agency_id: doc.agency_id,
        unit_id: doc.unit_id,
        created_by: doc.created_by,
    };
    if !p.can_read(&scope) {
        return Err(AppError::not_found("document"));
    }
    if doc.status == "draft" {
        return Err(AppError::conflict(
            "record.document_not_final",
            "a draft cannot be filed; number it first",
        ));
    }
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "record.file",
        "record",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    s.db.file_document(id, document_id, Some(p.user_id), now, entry)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(m) if m.contains("not open") => AppError::conflict("record.wrong_state", m),
            StorageError::Conflict(_) => {
                AppError::conflict("record.already_filed", "the document is already filed in a record")
            }
            other => AppError::storage(other, "record"),
        })
}

pub async fn close(
    s: &Services,
    p: &Principal,
    id: i64,
    input: &CloseInput,
    ip: Option<String>,
) -> AppResult<RecordView> {
    if !may_manage(p) {
        return Err(AppError::forbidden("your role cannot keep records (hồ sơ)"));
    }
    let r = load(s, p, id).await?;
    let today = s.clock.today();
    let end = match &input.end_date {
        Some(d) => parse_date("end_date", d)?,
        None => today,
    };
    if end > today {
        return Err(invalid("end_date", "end_date cannot be in the future"));
    }
    if let Some(start) = r
        .start_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    {
        if end < start {
            return Err(invalid("end_date", "end_date is before the record was opened"));
        }
    }
    let title = input
        .title
        .as_deref()
        .map(|t| check_text("title", t, 500))
        .transpose()?;
    let t = table();
    let retention = match &input.retention {
        Some(code) => {
            let rules = t
                .in_force(today)
                .ok_or_else(|| AppError::internal("no retention table is in force"))?;
            if rules.period(code).is_none() {
                return Err(invalid("retention", "unknown retention period"));
            }
            Some((code.clone(), rules.id().to_string()))
        }
        None => None,
    };
    change(
        s,
        p,
        id,
        &["open"],
        RecordChange::Close {
            end_date: end.to_string(),
            title,
            retention,
        },
        "record.close",
        serde_json::json!({"end_date": end.to_string(), "retention": input.retention}),
        ip,
    )
    .await
}

/// Sets (`Some(reason)`) or lifts (`None`) a legal hold.
pub async fn hold(
    s: &Services,
    p: &Principal,
    id: i64,
    reason: Option<&str>,
    ip: Option<String>,
) -> AppResult<RecordView> {
    if !(p.has(Role::LuuTru) || p.has(Role::LanhDao)) {
        return Err(AppError::forbidden(
            "only the archivist (lưu trữ) or a leader sets a legal hold",
        ));
    }
    load(s, p, id).await?;
    let reason = reason.map(|r| check_text("reason", r, 1000)).transpose()?;
    let action = if reason.is_some() {
        "record.hold"
    } else {
        "record.release_hold"
    };
    change(
        s,
        p,
        id,
        &["planned", "open", "closed"],
        RecordChange::Hold { reason: reason.clone() },
        action,
        serde_json::json!({"reason": reason}),
        ip,
    )
    .await
}

/// Records the day an "until superseded" record's documents stopped being in force.
pub async fn superseded(s: &Services, p: &Principal, id: i64, on: &str, ip: Option<String>) -> AppResult<RecordView> {
    if !(p.has(Role::LuuTru) || p.has(Role::LanhDao)) {
        return Err(AppError::forbidden(
            "only the archivist (lưu trữ) or a leader records supersession",
        ));
    }
    load(s, p, id).await?;
    let on = parse_date("on", on)?;
    if on > s.clock.today() {
        return Err(invalid("on", "the date cannot be in the future"));
    }
    change(
        s,
        p,
        id,
        &["closed"],
        RecordChange::Superseded { on: on.to_string() },
        "record.superseded",
        serde_json::json!({"on": on.to_string()}),
        ip,
    )
    .await
}

/// Disposes of a record (tiêu hủy), approved by the archivist: only after its retention has run
/// out and never under a legal hold. The record and its metadata are kept; the archived files
/// of its documents are deleted. Recorded in the audit log.
pub async fn dispose(s: &Services, p: &Principal, id: i64, ip: Option<String>) -> AppResult<RecordView> {
    if !p.has(Role::LuuTru) {
        return Err(AppError::forbidden("only the archivist (lưu trữ) approves a disposal"));
    }
    let r = load(s, p, id).await?;
    let today = s.clock.today();
    let t = table();
    let period =
        period_of(&t, &r, today).ok_or_else(|| AppError::internal("the record's retention period is unknown"))?;
    let date = |v: &Option<String>| v.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let case = DisposalCase {
        period: &period,
        end_date: if r.status == "closed" || r.status == "disposed" {
            date(&r.end_date)
        } else {
            None
        },
        superseded_on: date(&r.superseded_on),
        legal_hold: r.legal_hold.is_some(),
        disposed: r.status == "disposed",
    };
    check_disposal(&case, today).map_err(|e| AppError::conflict("record.disposal_refused", e.to_string()))?;
    let now = s.clock.now_ms();
    let entry = actor(p, ip).entry(
        now,
        "record.dispose",
        "record",
        Some(id.to_string()),
        serde_json::json!({}),
    );
    let (r, keys) =
        s.db.dispose_record(id, Some(p.user_id), now, entry)
            .await
            .map_err(|e| match e {
                StorageError::Conflict(m) => AppError::conflict("record.disposal_refused", m),
                other => other.into(),
            })?;
    let archive = super::service::store(s);
    for k in keys {
        if let Err(e) = archive.delete(&k).await {
            tracing::warn!(key = %k, error = %e, "a disposed object could not be deleted; the fixity check will list it as orphaned");
        }
    }
    to_view(s, r).await
}

/// The retention periods in force.
pub fn retention_periods(s: &Services) -> AppResult<Vec<RetentionPeriod>> {
    let t = table();
    let rules = t
        .in_force(s.clock.today())
        .ok_or_else(|| AppError::new(ErrorKind::Internal, "internal", "no retention table is in force"))?;
    Ok(rules.periods().to_vec())
}
