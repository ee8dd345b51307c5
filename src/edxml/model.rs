//! The typed model of edXML packets (QCVN 102:2016/BTTTT): document packets (new, revoke,
//! update, replace) and status packets. It derives serde, so the CLI's JSON *is* this model.
//!
//! Element names in the comments are the wire names. Optional text is `None` when the element is
//! absent, empty or the literal `null`; the builder omits it.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// One edXML packet: a document (`messagetype` `edoc`) or a status (`messagetype` `status`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Packet {
    Document(Box<DocumentPacket>),
    Status(Box<StatusPacket>),
}

/// `From` / `To`: an organisation and its contact data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Organization {
    /// `OrganId`: identifier code (mã định danh), opaque.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_id: Option<String>,
    /// `OrganizationInCharge`: the supervising body (cơ quan chủ quản).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_in_charge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_name: Option<String>,
    /// `OrganAdd`: postal address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_add: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telephone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fax: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// `Code`: number (số) and notation (ký hiệu).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Code {
    /// `CodeNumber`, e.g. `7816`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// `CodeNotation`, e.g. `VPCP-TTĐT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notation: Option<String>,
}

/// `PromulgationInfo`: place and date of issue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromulgationInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// `PromulgationDate`, `yyyy/MM/dd` on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
}

/// `DocumentType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentType {
    /// `Type`: 1 (administrative) or 2 (legal normative) in practice; always written.
    #[serde(rename = "type")]
    pub type_class: i64,
    /// `TypeDetail`: detailed type code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<i64>,
    /// `TypeName`, e.g. `Công văn`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Default for DocumentType {
    fn default() -> Self {
        Self {
            type_class: 1,
            detail: None,
            name: None,
        }
    }
}

/// `SignerInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignerInfo {
    /// `Competence`: signing authority, e.g. `TL. BỘ TRƯỞNG`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub competence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
}

/// `OtherInfo/Priority`: urgency (độ khẩn). Unknown values are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum Priority {
    /// 0 Thường.
    #[default]
    Normal,
    /// 1 Khẩn.
    Urgent,
    /// 2 Thượng khẩn.
    VeryUrgent,
    /// 3 Hỏa tốc.
    Express,
    /// 4 Hỏa tốc hẹn giờ.
    ExpressTimed,
    Other(i64),
}

impl From<i64> for Priority {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::Normal,
            1 => Self::Urgent,
            2 => Self::VeryUrgent,
            3 => Self::Express,
            4 => Self::ExpressTimed,
            n => Self::Other(n),
        }
    }
}

impl From<Priority> for i64 {
    fn from(p: Priority) -> i64 {
        match p {
            Priority::Normal => 0,
            Priority::Urgent => 1,
            Priority::VeryUrgent => 2,
            Priority::Express => 3,
            Priority::ExpressTimed => 4,
            Priority::Other(n) => n,
        }
    }
}

/// `OtherInfo`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OtherInfo {
    /// Always written.
    pub priority: Priority,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sphere_of_promulgation: Option<String>,
    /// `TyperNotation`: the typist's or drafting unit's initials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typer_notation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promulgation_amount: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_amount: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_fors: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_codes: Option<String>,
    /// `Appendixes/Appendix*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appendixes: Vec<String>,
}

/// `ResponseFor`: the earlier document this packet answers or concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseFor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_id: Option<String>,
    /// `Code`: the full "number/notation", e.g. `7816/VPCP-TTĐT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promulgation_date: Option<NaiveDate>,
}

impl ResponseFor {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// `StaffInfo`: the clerk who handled the packet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StaffInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
}

impl StaffInfo {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// `Bussiness/BussinessDocType` (spelled with a double s on the wire). Unknown values are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "i64", into = "i64")]
pub enum BusinessDocType {
    /// 0 văn bản mới.
    #[default]
    New,
    /// 1 thu hồi.
    Revoke,
    /// 2 cập nhật.
    Update,
    /// 3 thay thế.
    Replace,
    Other(i64),
}

impl From<i64> for BusinessDocType {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::New,
            1 => Self::Revoke,
            2 => Self::Update,
            3 => Self::Replace,
            n => Self::Other(n),
        }
    }
}

impl From<BusinessDocType> for i64 {
    fn from(t: BusinessDocType) -> i64 {
        match t {
            BusinessDocType::New => 0,
            BusinessDocType::Revoke => 1,
            BusinessDocType::Update => 2,
            BusinessDocType::Replace => 3,
            BusinessDocType::Other(n) => n,
        }
    }
}

/// `BussinessDocumentInfo/ReceiverList/Receiver`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Receiver {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_id: Option<String>,
    /// `ReceiverType`: 0 = receiver removed, 1 = receiver added.
    pub receiver_type: i64,
}

/// `BussinessDocumentInfo` (update packets): what changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BusinessDocumentInfo {
    /// `DocumentInfo`: 1 when the document's metadata changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_info: Option<i64>,
    /// `DocumentReceiver`: 1 when the receiver list changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_receiver: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<Receiver>,
}

/// `ReplacementInfoList/ReplacementInfo` (replace packets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplacementInfo {
    /// The replaced document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// `OrganIdList/OrganId*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub organ_ids: Vec<String>,
}

/// `Bussiness`: the business operation of a document packet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Business {
    /// For revoke/update/replace: the target document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Always written.
    pub doc_type: BusinessDocType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `Paper`: 1 when a paper copy is also sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_info: Option<BusinessDocumentInfo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<ReplacementInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffInfo>,
}

/// `TraceHeader`: one routing hop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceHeader {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organ_id: Option<String>,
    /// `yyyy/MM/dd HH:mm:ss` on the wire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<NaiveDateTime>,
}

/// `TraceHeaderList`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceHeaderList {
    /// The `id` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `version` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paper: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business: Option<Business>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trace_headers: Vec<TraceHeader>,
}

/// How an attachment travels inside `ContentTransferEncoded`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// The file's bytes, base64-encoded.
    #[default]
    Raw,
    /// A zip with one entry holding the file (`ContentType` `application/zip`), as the axis
    /// delivers attachments.
    Zipped,
}

/// One attachment: the manifest `Reference` and the `AttachmentEncoded/Attachment` merged by
/// content id. The bytes are not in the model; they stream through a sink.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    /// Without the `cid:` prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    /// `AttachmentName`: the real file name, made safe (no directories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The file's own content type (for a zipped attachment: the type of the unzipped file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    pub transfer: Transfer,
    /// Decoded size in bytes, filled by the parser; ignored by the builder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A document packet (gói tin văn bản).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocumentPacket {
    pub from: Organization,
    pub to: Vec<Organization>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    pub code: Code,
    pub promulgation: PromulgationInfo,
    pub document_type: DocumentType,
    /// Trích yếu.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub signer: SignerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub other_info: OtherInfo,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_for: Vec<ResponseFor>,
    /// Loại chỉ đạo; always written (two schemes exist, 0–2 and 1–3, so kept as a number).
    pub steering_type: i64,
    /// `ResponseForTask/TaskCode*`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_codes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    /// `ToPlaces/Place*` (nơi nhận).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to_places: Vec<String>,
    pub trace: TraceHeaderList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl DocumentPacket {
    /// The business operation; a packet without `Bussiness` is a new document.
    pub fn business_doc_type(&self) -> BusinessDocType {
        self.trace.business.as_ref().map(|b| b.doc_type).unwrap_or_default()
    }
}

/// `StatusCode`: two-digit status of a document at its receiver. Unknown codes are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StatusCode {
    /// 01 Đã đến.
    #[default]
    Arrived,
    /// 02 Từ chối tiếp nhận.
    Rejected,
    /// 03 Đã tiếp nhận.
    Accepted,
    /// 04 Phân công.
    Assigned,
    /// 05 Đang xử lý.
    Processing,
    /// 06 Hoàn thành.
    Done,
    /// 13 Lấy lại (sender asks for the document back).
    Recall,
    /// 15 Đồng ý yêu cầu cập nhật, lấy lại.
    ChangeAccepted,
    /// 16 Từ chối yêu cầu cập nhật, lấy lại.
    ChangeRejected,
    Other(String),
}

impl StatusCode {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Arrived => "01",
            Self::Rejected => "02",
            Self::Accepted => "03",
            Self::Assigned => "04",
            Self::Processing => "05",
            Self::Done => "06",
            Self::Recall => "13",
            Self::ChangeAccepted => "15",
            Self::ChangeRejected => "16",
            Self::Other(s) => s,
        }
    }

    /// Vietnamese meaning, for people.
    pub fn meaning(&self) -> &'static str {
        match self {
            Self::Arrived => "Đã đến",
            Self::Rejected => "Từ chối tiếp nhận",
            Self::Accepted => "Đã tiếp nhận",
            Self::Assigned => "Phân công",
            Self::Processing => "Đang xử lý",
            Self::Done => "Hoàn thành",
            Self::Recall => "Lấy lại",
            Self::ChangeAccepted => "Đồng ý yêu cầu cập nhật, lấy lại",
            Self::ChangeRejected => "Từ chối yêu cầu cập nhật, lấy lại",
            Self::Other(_) => "Không rõ",
        }
    }
}

impl From<String> for StatusCode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "01" | "1" => Self::Arrived,
            "02" | "2" => Self::Rejected,
            "03" | "3" => Self::Accepted,
            "04" | "4" => Self::Assigned,
            "05" | "5" => Self::Processing,
            "06" | "6" => Self::Done,
            "13" => Self::Recall,
            "15" => Self::ChangeAccepted,
            "16" => Self::ChangeRejected,
            _ => Self::Other(s),
        }
    }
}

impl From<StatusCode> for String {
    fn from(c: StatusCode) -> String {
        c.as_str().to_string()
    }
}

/// A status packet (gói tin trạng thái).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusPacket {
    /// Who reports the status.
    pub from: Organization,
    /// The document reported on; its `organ_id` is where the axis routes the packet.
    pub response_for: ResponseFor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffInfo>,
    pub status_code: StatusCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<NaiveDateTime>,
}
