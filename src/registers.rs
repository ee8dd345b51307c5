//! Registers (sổ đăng ký văn bản đi / đến) with the columns of NĐ 30/2020 Phụ lục IV.
//! Pure: documents in, rows out; CSV and JSON writers.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::DocumentTypeCatalog;
use crate::storage::Document;

/// Column headings of the outgoing register (Phụ lục IV §I), in order.
pub const OUTGOING_COLUMNS: [&str; 10] = [
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung văn bản",
    "Người ký",
    "Nơi nhận văn bản",
    "Đơn vị, người nhận bản lưu",
    "Số lượng bản",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
];

/// Column headings of the incoming register (Phụ lục IV §VI), in order.
pub const INCOMING_COLUMNS: [&str; 10] = [
    "Ngày đến",
    "Số đến",
    "Tác giả",
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung văn bản",
    "Đơn vị hoặc người nhận",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
];

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Register {
    pub direction: String,
    pub title: String,
    pub agency: String,
    pub from: String,
    pub to: String,
    /// "Từ số … đến số …" of the cover page.
    pub first_number: Option<i64>,
    pub last_number: Option<i64>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The document id of each row, in the same order.
    pub document_ids: Vec<i64>,
}

/// `2026-03-05` → `05/03/2026`, the way registers are written by hand.
fn vn_date(iso: Option<&str>) -> String {
    match iso.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
        Some(d) => d.format("%d/%m/%Y").to_string(),
        None => String::new(),
    }
}

fn type_and_subject(catalog: &DocumentTypeCatalog, d: &Document) -> String {
    let on = d
        .issued_on
        .as_deref()
        .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .unwrap_or_else(|| chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default());
    let name = catalog
        .get(on, &d.document_type)
        .map_or(d.document_type.as_str(), |t| t.name.as_str());
    format!("{name}: {}", d.subject)
}

fn notes(d: &Document) -> String {
    let mut parts = Vec::new();
    if d.status == "recalled" {
        parts.push("Đã thu hồi".to_string());
    }
    if let Some(u) = crate::model::Urgency::parse(&d.urgency).filter(|u| *u != crate::model::Urgency::Thuong) {
        parts.push(u.label().to_string());
    }
    if let Some(n) = &d.notes {
        parts.push(n.clone());
    }
    parts.join("; ")
}

/// Builds a register from documents already ordered by number.
pub fn build(
    direction: &str,
    agency: &str,
    from: &str,
    to: &str,
    docs: &[Document],
    unit_names: &HashMap<i64, String>,
    catalog: &DocumentTypeCatalog,
) -> Register {
    let unit = |d: &Document| d.unit_id.and_then(|u| unit_names.get(&u)).cloned().unwrap_or_default();
    let (title, columns, rows, numbers): (&str, &[&str; 10], Vec<Vec<String>>, Vec<i64>) = if direction == "incoming" {
        let rows = docs
            .iter()
            .map(|d| {
                vec![
                    vn_date(d.arrived_on.as_deref()),
                    d.arrival_number.map(|n| n.to_string()).unwrap_or_default(),
                    d.issuer_name.clone().unwrap_or_default(),
                    d.reference.clone().unwrap_or_default(),
                    vn_date(d.issued_on.as_deref()),
                    type_and_subject(catalog, d),
                    unit(d),
                    String::new(),
                    String::new(),
                    notes(d),
                ]
            })
            .collect();
        (
            "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN",
            &INCOMING_COLUMNS,
            rows,
            docs.iter().filter_map(|d| d.arrival_number).collect(),
        )
    } else {
        let rows = docs
            .iter()
            .map(|d| {
                vec![
                    d.reference.clone().unwrap_or_default(),
                    vn_date(d.issued_on.as_deref()),
                    type_and_subject(catalog, d),
                    d.signer_name.clone().unwrap_or_default(),
                    d.recipients.join("; "),
                    unit(d),
                    d.recipients.len().to_string(),
                    vn_date(d.issued_on.as_deref()),
                    String::new(),
                    notes(d),
                ]
            })
            .collect();
        (
            "SỔ ĐĂNG KÝ VĂN BẢN ĐI",
            &OUTGOING_COLUMNS,
            rows,
            docs.iter().filter_map(|d| d.number).collect(),
        )
    };
    Register {
        direction: direction.to_string(),
        title: title.to_string(),
        agency: agency.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        first_number: numbers.iter().min().copied(),
        last_number: numbers.iter().max().copied(),
        columns: columns.iter().map(|c| (*c).to_string()).collect(),
        rows,
        document_ids: docs.iter().map(|d| d.id).collect(),
    }
}

/// CSV with a UTF-8 byte-order mark so spreadsheet programs show the diacritics correctly.
pub fn to_csv(r: &Register) -> Result<Vec<u8>, csv::Error> {
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&r.columns)?;
        for row in &r.rows {
            w.write_record(row)?;
        }
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: i64) -> Document {
        Document {
            id: n,
            agency_id: 1,
            direction: "incoming".into(),
            document_type: "cong_van".into(),
            status: if n == 2 { "recalled".into() } else { "registered".into() },
            subject: "Về việc báo cáo kết quả thi hành án dân sự năm 2026".into(),
            number: Some(120),
            symbol: Some("BTP-VP".into()),
            reference: Some("120/BTP-VP".into()),
            year: Some(2026),
            series_id: None,
            issuer_name: Some("Bộ Tư pháp".into()),
            issuer_code: None,
            issued_on: Some("2026-03-05".into()),
            arrival_number: Some(n),
            arrival_series_id: Some(1),
            arrival_year: Some(2026),
            arrived_on: Some("2026-03-06".into()),
            urgency: "khan".into(),
            signer_name: None,
            signer_position: None,
            signing_authority: None,
            page_count: Some(2),
            recipients: vec![],
            deadline: None,
            unit_id: Some(5),
            external_id: None,
            notes: None,
            duplicate_of: None,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn incoming_register_has_the_ten_columns_of_phu_luc_iv() {
        let units = HashMap::from([(5, "Phòng Nghiệp vụ".to_string())]);
        let r = build(
            "incoming",
            "Cục THADS",
            "2026-03-01",
            "2026-03-31",
            &[doc(1), doc(2)],
            &units,
            &DocumentTypeCatalog::embedded(),
        );
        assert_eq!(r.columns.len(), 10);
        assert_eq!(r.rows[0][0], "06/03/2026");
        assert_eq!(r.rows[0][1], "1");
        assert_eq!(r.rows[0][3], "120/BTP-VP");
        assert_eq!(
            r.rows[0][5],
            "Công văn: Về việc báo cáo kết quả thi hành án dân sự năm 2026"
        );
        assert_eq!(r.rows[0][6], "Phòng Nghiệp vụ");
        assert_eq!(r.rows[1][9], "Đã thu hồi; Khẩn");
        assert_eq!((r.first_number, r.last_number), (Some(1), Some(2)));
        let csv = String::from_utf8(to_csv(&r).expect("csv")).expect("utf-8");
        assert!(csv.starts_with("\u{feff}Ngày đến,Số đến,Tác giả"));
    }
}
