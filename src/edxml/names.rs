//! Small pure helpers: the namespace, date formats, text normalisation and safe file names.

use chrono::{NaiveDate, NaiveDateTime};

use super::EdxmlError;

/// The edXML namespace URI (QCVN 102:2016).
pub const EDXML_NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

/// `yyyy/MM/dd`, the wire format of dates.
pub(crate) const DATE_FORMAT: &str = "%Y/%m/%d";
/// `yyyy/MM/dd HH:mm:ss`, the wire format of timestamps.
pub(crate) const TIMESTAMP_FORMAT: &str = "%Y/%m/%d %H:%M:%S";

/// Trimmed text, or `None` for empty text and the literal `null`.
pub(crate) fn clean(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        None
    } else {
        Some(t.to_string())
    }
}

/// A date in `yyyy/MM/dd`, or the variants seen in real packets: with a time part,
/// `dd/MM/yyyy`, ISO `yyyy-MM-dd` (optionally with a time).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    for f in [DATE_FORMAT, "%d/%m/%Y", "%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return Some(d);
        }
    }
    parse_timestamp(t).map(|ts| ts.date())
}

/// A timestamp in `yyyy/MM/dd HH:mm:ss`, or ISO / `dd/MM/yyyy HH:mm:ss` variants; a bare date
/// means midnight.
pub(crate) fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    for f in [
        TIMESTAMP_FORMAT,
        "%Y/%m/%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d);
        }
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(d.naive_local());
    }
    for f in [DATE_FORMAT, "%d/%m/%Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

/// The content id without a `cid:` prefix.
pub(crate) fn strip_cid(id: &str) -> String {
    let t = id.trim();
    match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("cid:") => t[4..].trim().to_string(),
        _ => t.to_string(),
    }
}

/// The lower-case extension of a file name, if any.
pub(crate) fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The content type EdXML102 writes for a raw attachment with this name, by extension
/// (its own odd strings included), or `None` when EdXML102 would zip the file.
pub(crate) fn edxml102_content_type(name: &str) -> Option<&'static str> {
    match extension(name)?.as_str() {
        "pdf" => Some("application/pdf"),
        "doc" => Some("application/doc"),
        "docx" => Some("application/docx"),
        "xsl" => Some("application/xsl"),
        "xslx" => Some("application/xslx"),
        "zip" => Some("application/zip"),
        _ => None,
    }
}

/// Makes an attachment name safe to use as a file name inside a chosen folder: only the last
/// path component is kept (both `/` and `\` separate), control characters are dropped, and a
/// name that is empty, `.` or `..` afterwards is refused. Returns the safe name.
pub fn safe_file_name(name: &str) -> Result<String, EdxmlError> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == ':' { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." || cleaned.len() > 255 {
        return Err(EdxmlError::UnsafeName(name.to_string()));
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_seen_variant() {
        let d = NaiveDate::from_ymd_opt(2020, 10, 30);
        assert_eq!(parse_date("2020/10/30"), d);
        assert_eq!(parse_date("30/10/2020"), d);
        assert_eq!(parse_date("2020-10-30"), d);
        assert_eq!(parse_date(" 2020/10/30 08:01:02 "), d);
        assert_eq!(parse_date("2020/13/30"), None);
        let ts = d.and_then(|d| d.and_hms_opt(8, 1, 2));
        assert_eq!(parse_timestamp("2020/10/30 08:01:02"), ts);
        assert_eq!(parse_timestamp("2020-10-30T08:01:02"), ts);
        assert_eq!(parse_timestamp("30/10/2020 08:01:02"), ts);
    }

    #[test]
    fn null_and_empty_are_absent() {
        assert_eq!(clean("  null "), None);
        assert_eq!(clean(""), None);
        assert_eq!(clean(" x "), Some("x".into()));
    }

    #[test]
    fn cid_prefix_is_stripped() {
        assert_eq!(strip_cid("cid:209"), "209");
        assert_eq!(strip_cid("CID:abc"), "abc");
        assert_eq!(strip_cid("abc"), "abc");
    }

    #[test]
    fn names_are_made_safe_or_refused() {
        assert_eq!(safe_file_name("../../etc/passwd").ok().as_deref(), Some("passwd"));
        assert_eq!(safe_file_name("/abs/x.pdf").ok().as_deref(), Some("x.pdf"));
        assert_eq!(safe_file_name("C:\\dir\\y.doc").ok().as_deref(), Some("y.doc"));
        assert_eq!(safe_file_name("Quyết định.pdf").ok().as_deref(), Some("Quyết định.pdf"));
        assert!(matches!(safe_file_name("../.."), Err(EdxmlError::UnsafeName(_))));
        assert!(matches!(safe_file_name("a/"), Err(EdxmlError::UnsafeName(_))));
    }
}
