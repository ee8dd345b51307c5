//! The metadata record of an archived document. Pure: built from the registry's data, rendered as
//! JSON and as XML.
//!
//! Fields and tag names follow NĐ 30/2020 Phụ lục VI Part II (văn bản đi / văn bản đến) and the
//! document-level fields of TT 02/2019/TT-BNV (DocCode, Mode, ConfidenceLevel, Format, Keyword,
//! InforSign, Autograph); see `domain-vn.md` §6.4–6.5. Fields the system does not know yet are
//! left out rather than invented: `FileCode` and `DocOrdinal` appear once the document is filed
//! into a record (hồ sơ); `TraceHeaderList` comes with the workflow engine; the signature
//! verification report (`VerificationReport`) comes with issue 3 (PAdES) and is `null` until then.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde::{Deserialize, Serialize};

/// Identifies the layout of [`DocumentMetadata`]; bumped when fields change meaning.
pub const SCHEMA: &str = "vanthu-archive-document/1";
/// XML namespace of the metadata documents.
pub const XMLNS: &str = "urn:vanthu:archive:1";
pub const LEGAL_BASIS: &str = "Nghị định 30/2020/NĐ-CP Phụ lục VI phần II; Thông tư 02/2019/TT-BNV";

/// Mã hồ sơ: agency identifier, year the record was formed, record number and symbol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileCode {
    /// OrganId (13): mã định danh of the agency that keeps the record list.
    pub organ_id: String,
    /// FileCatalog (4): năm hình thành hồ sơ.
    pub file_catalog: i64,
    /// FileNotation (20): số và ký hiệu hồ sơ, e.g. `01.TCCB`.
    pub file_notation: String,
}

impl FileCode {
    /// `000.00.00.G09.2010.01.TH`.
    pub fn full(&self) -> String {
        format!("{}.{}.{}", self.organ_id, self.file_catalog, self.file_notation)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignerInfo {
    /// Position (100): chức vụ.
    pub position: Option<String>,
    /// FullName (50): họ và tên.
    pub full_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Recipient {
    /// OrganId (13), when known.
    pub organ_id: Option<String>,
    /// OrganName (200).
    pub organ_name: String,
}

/// A file of the document as archived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArchivedFileRef {
    pub file_id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    /// Key in the archive (`sha256/ab/…`, under the store's `archive/` prefix).
    pub object_key: String,
}

/// The metadata record. Optional fields that are unknown are omitted from the XML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentMetadata {
    pub schema: String,
    pub legal_basis: String,
    /// `incoming` (văn bản đến) or `outgoing` (văn bản đi).
    pub direction: String,
    /// DocCode (TT 02/2019, 25): `[OrganId].[year].[document id]` — the layout is ours.
    pub doc_code: String,
    /// FileCode: set when the document is filed into a record.
    pub file_code: Option<FileCode>,
    /// DocOrdinal (3): position in the record.
    pub doc_ordinal: Option<i64>,
    /// TypeName (100): tên loại văn bản.
    pub type_name: String,
    /// CodeNumber (String 11, keeps leading zeros): số của văn bản.
    pub code_number: Option<String>,
    /// CodeNotation (30): ký hiệu.
    pub code_notation: Option<String>,
    /// IssuedDate: YYYY-MM-DD.
    pub issued_date: Option<String>,
    /// OrganName (200): the issuing agency.
    pub organ_name: Option<String>,
    /// Issuer's identifier code, when known.
    pub organ_id: Option<String>,
    /// Subject (500): trích yếu nội dung.
    pub subject: String,
    /// Language (30).
    pub language: String,
    /// PageAmount (3).
    pub page_amount: Option<i64>,
    /// Description (500): ghi chú.
    pub description: Option<String>,
    pub signer_info: Option<SignerInfo>,
    /// To (outgoing): nơi nhận.
    pub to: Vec<Recipient>,
    /// Priority (1): 0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ.
    pub priority: u8,
    /// IssuedAmount (outgoing, 3): number of recipients the document is issued to.
    pub issued_amount: Option<i64>,
    /// DueDate: hạn trả lời / thời hạn giải quyết.
    pub due_date: Option<String>,
    /// ArrivalDate (incoming).
    pub arrival_date: Option<String>,
    /// ArrivalNumber (incoming, 10): số đến.
    pub arrival_number: Option<i64>,
    /// ToPlaces (incoming, 1000): the receiving unit.
    pub to_places: Option<String>,
    /// Mode (TT 02/2019, 20): chế độ sử dụng.
    pub mode: String,
    /// ConfidenceLevel (TT 02/2019, 30): mức độ tin cậy.
    pub confidence_level: String,
    /// Format (TT 02/2019, 50): tình trạng vật lý.
    pub format: String,
    pub files: Vec<ArchivedFileRef>,
    /// Key of the signature verification report; `null` until PAdES verification exists (issue 3).
    pub verification_report: Option<String>,
}

/// What the metadata is built from (gathered by the service).
#[derive(Clone, Debug)]
pub struct Source<'a> {
    pub document: &'a crate::storage::Document,
    pub agency: &'a crate::storage::Agency,
    pub type_name: String,
    pub unit_name: Option<String>,
    pub files: Vec<ArchivedFileRef>,
    pub filing: Option<(FileCode, i64)>,
}

impl DocumentMetadata {
    pub fn build(src: &Source<'_>) -> Self {
        let d = src.document;
        let incoming = d.direction == "incoming";
        let urgency = crate::model::Urgency::parse(&d.urgency).unwrap_or_default();
        let year = d.year.or(d.arrival_year).unwrap_or_else(|| {
            chrono::DateTime::from_timestamp_millis(d.created_at).map_or(0, |t| i64::from(chrono::Datelike::year(&t)))
        });
        let (organ_name, organ_id) = if incoming {
            (d.issuer_name.clone(), d.issuer_code.clone())
        } else {
            (Some(src.agency.name.clone()), Some(src.agency.code.clone()))
        };
        let signer = (d.signer_name.is_some() || d.signer_position.is_some()).then(|| SignerInfo {
            position: d.signer_position.clone(),
            full_name: d.signer_name.clone(),
        });
        let to: Vec<Recipient> = if incoming {
            Vec::new()
        } else {
            d.recipients
                .iter()
                .map(|r| Recipient {
                    organ_id: None,
                    organ_name: r.clone(),
                })
                .collect()
        };
        Self {
            schema: SCHEMA.into(),
            legal_basis: LEGAL_BASIS.into(),
            direction: d.direction.clone(),
            doc_code: format!("{}.{}.{}", src.agency.code, year, d.id),
            file_code: src.filing.as_ref().map(|f| f.0.clone()),
            doc_ordinal: src.filing.as_ref().map(|f| f.1),
            type_name: src.type_name.clone(),
            code_number: d.number.map(crate::model::symbol::format_number),
            code_notation: d.symbol.clone(),
            issued_date: d.issued_on.clone(),
            organ_name,
            organ_id,
            subject: d.subject.clone(),
            language: "Tiếng Việt".into(),
            page_amount: d.page_count,
            description: d.notes.clone(),
            signer_info: signer,
            issued_amount: (!incoming && !to.is_empty()).then_some(to.len() as i64),
            to,
            priority: urgency.priority(),
            due_date: d.deadline.clone(),
            arrival_date: if incoming { d.arrived_on.clone() } else { None },
            arrival_number: if incoming { d.arrival_number } else { None },
            to_places: if incoming { src.unit_name.clone() } else { None },
            mode: "Hạn chế".into(),
            confidence_level: "Bản gốc".into(),
            format: "Bình thường".into(),
            files: src.files.clone(),
            verification_report: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The XML form, `<VanBanLuuTru>` with the Phụ lục VI / TT 02/2019 tags.
    pub fn to_xml(&self) -> String {
        let mut x = Xml::new();
        x.open_with(
            "DocumentMetadata",
            &[
                ("xmlns", XMLNS),
                ("schema", &self.schema),
                ("direction", &self.direction),
            ],
        );
        x.leaf("LegalBasis", &self.legal_basis);
        x.leaf("DocCode", &self.doc_code);
        if let Some(fc) = &self.file_code {
            file_code_xml(&mut x, fc);
        }
        x.opt("DocOrdinal", self.doc_ordinal.map(|n| n.to_string()));
        x.leaf("TypeName", &self.type_name);
        x.opt("CodeNumber", self.code_number.clone());
        x.opt("CodeNotation", self.code_notation.clone());
        x.opt("IssuedDate", self.issued_date.clone());
        x.opt("OrganId", self.organ_id.clone());
        x.opt("OrganName", self.organ_name.clone());
        x.leaf("Subject", &self.subject);
        x.leaf("Language", &self.language);
        x.opt("PageAmount", self.page_amount.map(|n| n.to_string()));
        x.opt("Description", self.description.clone());
        if let Some(s) = &self.signer_info {
            x.open("SignerInfo");
            x.opt("Position", s.position.clone());
            x.opt("FullName", s.full_name.clone());
            x.close("SignerInfo");
        }
        for r in &self.to {
            x.open("To");
            x.opt("OrganId", r.organ_id.clone());
            x.leaf("OrganName", &r.organ_name);
            x.close("To");
        }
        x.leaf("Priority", &self.priority.to_string());
        x.opt("IssuedAmount", self.issued_amount.map(|n| n.to_string()));
        x.opt("DueDate", self.due_date.clone());
        x.opt("ArrivalDate", self.arrival_date.clone());
        x.opt("ArrivalNumber", self.arrival_number.map(|n| n.to_string()));
        x.opt("ToPlaces", self.to_places.clone());
        x.leaf("Mode", &self.mode);
        x.leaf("ConfidenceLevel", &self.confidence_level);
        x.leaf("Format", &self.format);
        x.open("Files");
        for f in &self.files {
            x.open("File");
            x.leaf("Name", &f.name);
            x.leaf("ContentType", &f.content_type);
            x.leaf("Size", &f.size.to_string());
            x.leaf("Sha256", &f.sha256);
            x.leaf("ObjectKey", &f.object_key);
            x.close("File");
        }
        x.close("Files");
        x.opt("VerificationReport", self.verification_report.clone());
        x.close("DocumentMetadata");
        x.finish()
    }
}

pub(crate) fn file_code_xml(x: &mut Xml, fc: &FileCode) {
    x.open("FileCode");
    x.leaf("OrganId", &fc.organ_id);
    x.leaf("FileCatalog", &fc.file_catalog.to_string());
    x.leaf("FileNotation", &fc.file_notation);
    x.close("FileCode");
}

/// A small indenting XML writer over quick-xml (which escapes text and attributes).
pub(crate) struct Xml(Writer<Vec<u8>>);

impl Xml {
    pub(crate) fn new() -> Self {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Self(w)
    }
    pub(crate) fn open(&mut self, name: &str) {
        let _ = self.0.write_event(Event::Start(BytesStart::new(name)));
    }
    pub(crate) fn open_with(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for (k, v) in attrs {
            start.push_attribute((*k, *v));
        }
        let _ = self.0.write_event(Event::Start(start));
    }
    pub(crate) fn close(&mut self, name: &str) {
        let _ = self.0.write_event(Event::End(BytesEnd::new(name)));
    }
    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.open(name);
        // XML 1.0 cannot carry most control characters; drop them rather than emit invalid XML.
        let clean: String = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
            .collect();
        let _ = self.0.write_event(Event::Text(BytesText::new(&clean)));
        self.close(name);
    }
    pub(crate) fn opt(&mut self, name: &str, text: Option<String>) {
        if let Some(t) = text {
            self.leaf(name, &t);
        }
    }
    pub(crate) fn finish(self) -> String {
        let mut s = String::from_utf8(self.0.into_inner()).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Agency, Document};

    fn agency() -> Agency {
        Agency {
            id: 1,
            code: "000.00.99.H99".into(),
            name: "Cục Thi hành án dân sự tỉnh Mẫu Sơn".into(),
            abbreviation: "CTHADS".into(),
            parent_name: None,
            place_name: None,
            created_at: 0,
        }
    }

    fn incoming() -> Document {
        Document {
            id: 42,
            agency_id: 1,
            direction: "incoming".into(),
            document_type: "quyet_dinh".into(),
            status: "registered".into(),
            subject: "Về việc kiện toàn Ban Chỉ đạo <chuyển đổi số> & cải cách".into(),
            number: Some(5),
            symbol: Some("QĐ-BTP".into()),
            reference: Some("05/QĐ-BTP".into()),
            year: Some(2026),
            series_id: None,
            issuer_name: Some("Bộ Tư pháp".into()),
            issuer_code: Some("000.00.00.G12".into()),
            issued_on: Some("2026-11-18".into()),
            arrival_number: Some(17),
            arrival_series_id: Some(1),
            arrival_year: Some(2026),
            arrived_on: Some("2026-11-20".into()),
            urgency: "khan".into(),
            signer_name: Some("Nguyễn Văn A".into()),
            signer_position: Some("Thứ trưởng".into()),
            signing_authority: None,
            page_count: Some(3),
            recipients: vec![],
            deadline: None,
            unit_id: None,
            external_id: None,
            notes: None,
            duplicate_of: None,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn incoming_document_metadata_has_the_phu_luc_vi_fields() {
        let (d, a) = (incoming(), agency());
        let m = DocumentMetadata::build(&Source {
            document: &d,
            agency: &a,
            type_name: "Quyết định (cá biệt)".into(),
            unit_name: Some("Văn phòng".into()),
            files: vec![],
            filing: Some((
                FileCode {
                    organ_id: a.code.clone(),
                    file_catalog: 2026,
                    file_notation: "01.VP".into(),
                },
                3,
            )),
        });
        assert_eq!(
            m.code_number.as_deref(),
            Some("05"),
            "CodeNumber keeps the leading zero"
        );
        assert_eq!(m.priority, 1);
        assert_eq!(m.arrival_number, Some(17));
        assert_eq!(m.organ_name.as_deref(), Some("Bộ Tư pháp"));
        assert_eq!(m.doc_code, "000.00.99.H99.2026.42");
        assert!(m.doc_code.chars().count() <= 25);
        assert_eq!(
            m.file_code.as_ref().map(FileCode::full).as_deref(),
            Some("000.00.99.H99.2026.01.VP")
        );
        let xml = m.to_xml();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
        assert!(xml.contains("<CodeNumber>05</CodeNumber>"), "{xml}");
        assert!(xml.contains("<ArrivalNumber>17</ArrivalNumber>"), "{xml}");
        assert!(xml.contains("<FileNotation>01.VP</FileNotation>"), "{xml}");
        assert!(xml.contains("<DocOrdinal>3</DocOrdinal>"), "{xml}");
        assert!(
            xml.contains("Ban Chỉ đạo &lt;chuyển đổi số&gt; &amp; cải cách"),
            "text is escaped and diacritics kept: {xml}"
        );
        assert!(!xml.contains("<VerificationReport>"), "no report is invented: {xml}");
        let back: DocumentMetadata = serde_json::from_str(&m.to_json()).expect("json round trip");
        assert_eq!(back, m);
    }

    #[test]
    fn outgoing_document_lists_recipients_and_our_agency_as_issuer() {
        let mut d = incoming();
        d.direction = "outgoing".into();
        d.recipients = vec!["Bộ Tư pháp".into(), "UBND tỉnh Mẫu Sơn".into()];
        d.urgency = "thuong".into();
        d.subject = "Báo cáo\u{0001} kết quả".into();
        let a = agency();
        let m = DocumentMetadata::build(&Source {
            document: &d,
            agency: &a,
            type_name: "Công văn".into(),
            unit_name: None,
            files: vec![],
            filing: None,
        });
        assert_eq!(m.organ_name.as_deref(), Some(a.name.as_str()));
        assert_eq!((m.to.len(), m.issued_amount, m.arrival_number), (2, Some(2), None));
        let xml = m.to_xml();
        assert_eq!(xml.matches("<To>").count(), 2, "{xml}");
        assert!(!xml.contains("<FileCode>"), "{xml}");
        assert!(
            xml.contains("<Subject>Báo cáo kết quả</Subject>"),
            "control characters dropped: {xml}"
        );
    }
}
