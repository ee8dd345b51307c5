//! The catalogue of document types, loaded from versioned data (`src/data/document-types.toml`).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

const DATA: &str = include_str!("../data/document-types.toml");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SymbolStyle {
    /// `số/TYPE-AGENCY[-UNIT]`, e.g. `15/QĐ-BTP`.
    Typed,
    /// `số/AGENCY-UNIT`, e.g. công văn `120/BTP-VP`.
    AgencyUnit,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentType {
    pub ordinal: u32,
    /// Stable ASCII id, e.g. `quyet_dinh`.
    pub code: String,
    /// Vietnamese name, e.g. `Quyết định (cá biệt)`.
    pub name: String,
    /// Abbreviation used in the symbol, e.g. `QĐ`; empty for công văn and thư công.
    pub abbreviation: String,
    pub symbol_style: SymbolStyle,
}

#[derive(Clone, Debug, Deserialize)]
struct Version {
    id: String,
    effective_from: NaiveDate,
    legal_basis: String,
    types: Vec<DocumentType>,
}

#[derive(Debug, Deserialize)]
struct File {
    version: Vec<Version>,
}

/// All versions of the catalogue; ask it for the one in force on a date.
#[derive(Clone, Debug)]
pub struct DocumentTypeCatalog {
    versions: Vec<Version>,
}

/// One version of the catalogue, as served by the API.
#[derive(Clone, Copy, Debug)]
pub struct CatalogVersion<'a> {
    pub id: &'a str,
    pub effective_from: NaiveDate,
    pub legal_basis: &'a str,
    pub types: &'a [DocumentType],
}

impl DocumentTypeCatalog {
    /// The embedded catalogue. The data is checked by a unit test, so a failure here is a
    /// build defect rather than bad input.
    pub fn embedded() -> Self {
        Self::from_toml(DATA).unwrap_or_else(|e| panic!("embedded document-types.toml is invalid: {e}"))
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        let mut file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.version.is_empty() {
            return Err("no version".into());
        }
        file.version.sort_by_key(|v| v.effective_from);
        for v in &file.version {
            let mut codes: Vec<&str> = v.types.iter().map(|t| t.code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            if codes.len() != v.types.len() {
                return Err(format!("version {} has duplicate codes", v.id));
            }
            if let Some(t) = v
                .types
                .iter()
                .find(|t| !t.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            {
                return Err(format!("code {:?} is not lower-case ASCII", t.code));
            }
        }
        Ok(Self { versions: file.version })
    }

    /// The version in force on `date` (the earliest version for dates before any).
    pub fn in_force(&self, date: NaiveDate) -> CatalogVersion<'_> {
        let v = self
            .versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .unwrap_or(&self.versions[0]);
        CatalogVersion {
            id: &v.id,
            effective_from: v.effective_from,
            legal_basis: &v.legal_basis,
            types: &v.types,
        }
    }

    pub fn get(&self, date: NaiveDate, code: &str) -> Option<&DocumentType> {
        self.in_force(date).types.iter().find(|t| t.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalogue_has_the_29_types_of_nd30() {
        let cat = DocumentTypeCatalog::embedded();
        let v = cat.in_force(NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"));
        assert_eq!(v.types.len(), 29);
        assert_eq!(v.id, "nd30-2020");
        let qd = v.types.iter().find(|t| t.code == "quyet_dinh").expect("quyết định");
        assert_eq!(qd.abbreviation, "QĐ");
        let cv = v.types.iter().find(|t| t.code == "cong_van").expect("công văn");
        assert_eq!(
            (cv.abbreviation.as_str(), cv.symbol_style),
            ("", SymbolStyle::AgencyUnit)
        );
        let qyd = v.types.iter().find(|t| t.code == "quy_dinh").expect("quy định");
        assert_eq!(qyd.abbreviation, "QyĐ", "mixed case is kept as the decree writes it");
    }

    #[test]
    fn rejects_duplicate_codes() {
        let text = r#"
[[version]]
id = "x"
effective_from = "2020-01-01"
legal_basis = "test"
[[version.types]]
ordinal = 1
code = "a"
name = "A"
abbreviation = "A"
symbol_style = "typed"
[[version.types]]
ordinal = 2
code = "a"
name = "A"
abbreviation = "A"
symbol_style = "typed"
"#;
        assert!(DocumentTypeCatalog::from_toml(text).is_err());
    }
}
