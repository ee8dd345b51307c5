//! Number and symbol (số, ký hiệu) per NĐ 30/2020 Phụ lục I §II.3.
//!
//! `15/QĐ-BTP`: the number, `/`, then abbreviation groups joined by `-` with no spaces.
//! Numbers below 10 are written with a leading zero (`05`); larger numbers are not padded.

use super::document_types::{DocumentType, SymbolStyle};

/// Writes a number the way the decree prints it: `1` → `01`, `120` → `120`.
pub fn format_number(n: i64) -> String {
    if (0..10).contains(&n) {
        format!("0{n}")
    } else {
        n.to_string()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("{what} abbreviation is empty")]
    Empty { what: &'static str },
    #[error("{what} abbreviation {value:?} may contain only letters and digits (no spaces, '/' or '-')")]
    Invalid { what: &'static str, value: String },
    #[error("a {type_name} needs the abbreviation of the drafting unit or field")]
    UnitRequired { type_name: String },
}

/// Checks an agency or unit abbreviation (e.g. `BTP`, `VP`, `UBND`).
pub fn check_abbreviation(what: &'static str, value: &str) -> Result<(), SymbolError> {
    if value.is_empty() {
        return Err(SymbolError::Empty { what });
    }
    if value.chars().count() > 20 || !value.chars().all(char::is_alphanumeric) {
        return Err(SymbolError::Invalid {
            what,
            value: value.to_string(),
        });
    }
    Ok(())
}

/// Builds the symbol (ký hiệu) of an outgoing document.
///
/// - typed documents: `TYPE-AGENCY` or, when the agency's rules add the unit, `TYPE-AGENCY-UNIT`;
/// - công văn / thư công: `AGENCY-UNIT` (the unit or field is required).
pub fn build_symbol(
    doc_type: &DocumentType,
    agency_abbr: &str,
    unit_abbr: Option<&str>,
) -> Result<String, SymbolError> {
    check_abbreviation("agency", agency_abbr)?;
    if let Some(unit) = unit_abbr {
        check_abbreviation("unit", unit)?;
    }
    match doc_type.symbol_style {
        SymbolStyle::Typed => Ok(match unit_abbr {
            Some(unit) => format!("{}-{agency_abbr}-{unit}", doc_type.abbreviation),
            None => format!("{}-{agency_abbr}", doc_type.abbreviation),
        }),
        SymbolStyle::AgencyUnit => match unit_abbr {
            Some(unit) => Ok(format!("{agency_abbr}-{unit}")),
            None => Err(SymbolError::UnitRequired {
                type_name: doc_type.name.to_lowercase(),
            }),
        },
    }
}

/// The printed reference `số/ký hiệu`, e.g. `05/QĐ-BTP`.
pub fn reference(number: i64, symbol: &str) -> String {
    format!("{}/{symbol}", format_number(number))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentTypeCatalog;
    use chrono::NaiveDate;

    fn ty(code: &str) -> DocumentType {
        let cat = DocumentTypeCatalog::embedded();
        cat.get(NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"), code)
            .cloned()
            .expect("known type")
    }

    #[test]
    fn numbers_below_ten_are_padded() {
        assert_eq!(format_number(1), "01");
        assert_eq!(format_number(9), "09");
        assert_eq!(format_number(10), "10");
        assert_eq!(format_number(120), "120");
    }

    #[test]
    fn symbols_follow_phu_luc_i() {
        let qd = ty("quyet_dinh");
        assert_eq!(reference(15, &build_symbol(&qd, "BTP", None).expect("ok")), "15/QĐ-BTP");
        assert_eq!(reference(15, &build_symbol(&qd, "BNV", None).expect("ok")), "15/QĐ-BNV");
        let cv = ty("cong_van");
        assert_eq!(
            reference(120, &build_symbol(&cv, "BTP", Some("VP")).expect("ok")),
            "120/BTP-VP"
        );
        assert_eq!(
            reference(5, &build_symbol(&cv, "BNV", Some("VP")).expect("ok")),
            "05/BNV-VP"
        );
        let ttr = ty("to_trinh");
        assert_eq!(
            reference(12, &build_symbol(&ttr, "UBND", None).expect("ok")),
            "12/TTr-UBND"
        );
    }

    #[test]
    fn cong_van_needs_a_unit_and_abbreviations_are_checked() {
        let cv = ty("cong_van");
        assert!(matches!(
            build_symbol(&cv, "BTP", None),
            Err(SymbolError::UnitRequired { .. })
        ));
        let qd = ty("quyet_dinh");
        assert!(build_symbol(&qd, "B TP", None).is_err());
        assert!(build_symbol(&qd, "BTP/VP", None).is_err());
        assert!(build_symbol(&qd, "", None).is_err());
    }
}
