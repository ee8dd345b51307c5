//! Agency identifier codes (mã định danh).
//!
//! Two forms are in use: the QCVN 102:2016 form `ddd.dd.dd.Xdd` (e.g. `000.00.00.G22`) and the
//! QĐ 20/2020/QĐ-TTg form (≤ 35 characters of `[0-9A-Z.]`, groups separated by dots, e.g.
//! `H37.DN.001`). Validation is lenient by design (edxml.md §4): anything that fits the QĐ 20
//! charset and length is accepted; the form is only reported.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgencyCode(String);

/// Which of the two published forms a code follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeForm {
    /// QCVN 102:2016 `ddd.dd.dd.Xdd`.
    Qcvn102,
    /// Any other QĐ 20/2020 string.
    Qd20,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgencyCodeError {
    #[error("agency code is empty")]
    Empty,
    #[error("agency code is {0} characters long; at most 35 are allowed")]
    TooLong(usize),
    #[error("agency code may contain only digits, upper-case letters A-Z and dots; found {0:?}")]
    BadChar(char),
    #[error("agency code must not start or end with a dot or contain an empty group")]
    EmptyGroup,
}

impl AgencyCode {
    pub const MAX_LEN: usize = 35;

    /// Validates leniently: trims surrounding whitespace and accepts either form.
    pub fn parse(raw: &str) -> Result<Self, AgencyCodeError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(AgencyCodeError::Empty);
        }
        let len = s.chars().count();
        if len > Self::MAX_LEN {
            return Err(AgencyCodeError::TooLong(len));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase() || *c == '.'))
        {
            return Err(AgencyCodeError::BadChar(c));
        }
        if s.split('.').any(str::is_empty) {
            return Err(AgencyCodeError::EmptyGroup);
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn form(&self) -> CodeForm {
        let groups: Vec<&str> = self.0.split('.').collect();
        let digits = |g: &str, n: usize| g.len() == n && g.bytes().all(|b| b.is_ascii_digit());
        let is_102 = groups.len() == 4
            && digits(groups[0], 3)
            && digits(groups[1], 2)
            && digits(groups[2], 2)
            && groups[3].len() == 3
            && groups[3].as_bytes()[0].is_ascii_uppercase()
            && digits(&groups[3][1..], 2);
        if is_102 {
            CodeForm::Qcvn102
        } else {
            CodeForm::Qd20
        }
    }
}

impl TryFrom<String> for AgencyCode {
    type Error = AgencyCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AgencyCode> for String {
    fn from(c: AgencyCode) -> Self {
        c.0
    }
}

impl std::fmt::Display for AgencyCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_forms() {
        for code in ["000.00.00.G22", "000.00.11.H53", "001.00.10.H47", "000.00.01.A53"] {
            assert_eq!(
                AgencyCode::parse(code).map(|c| c.form()),
                Ok(CodeForm::Qcvn102),
                "{code}"
            );
        }
        for code in ["H37.DN.001", "0100100079", "00.53.W00", "01.02.G22", "001.00.20.TT2"] {
            assert_eq!(AgencyCode::parse(code).map(|c| c.form()), Ok(CodeForm::Qd20), "{code}");
        }
    }

    #[test]
    fn rejects_what_neither_form_allows() {
        assert_eq!(AgencyCode::parse(""), Err(AgencyCodeError::Empty));
        assert_eq!(AgencyCode::parse("000.00.00.g22"), Err(AgencyCodeError::BadChar('g')));
        assert_eq!(AgencyCode::parse("vxp.saas.02"), Err(AgencyCodeError::BadChar('v')));
        assert_eq!(AgencyCode::parse("000..00.G22"), Err(AgencyCodeError::EmptyGroup));
        assert_eq!(AgencyCode::parse(&"1".repeat(36)), Err(AgencyCodeError::TooLong(36)));
        assert_eq!(AgencyCode::parse("000.00.00.G 22"), Err(AgencyCodeError::BadChar(' ')));
    }
}
