//! The search query language. Pure: text in, a checked syntax tree or a typed error out.
//!
//! ```text
//! query   := item*                      items are ANDed
//! item    := ["-"] (phrase | field | word)
//! phrase  := '"' text '"'               syllables in this order
//! field   := name ":" (word | phrase)   e.g. loai:quyet_dinh, nam:2026, so:123/QĐ-BTP
//! ```
//! A leading `-` excludes matching documents. Field names have Vietnamese (unaccented) and
//! English spellings; an unknown name is an error rather than a silent word search.

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// Most items in one query.
pub const MAX_ITEMS: usize = 32;

/// A field a query can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryField {
    /// Document type code (`loai:`/`type:`), e.g. `quyet_dinh`.
    DocumentType,
    /// Year of the document (`nam:`/`year:`).
    Year,
    /// `incoming` or `outgoing` (`huong:`/`direction:`).
    Direction,
    /// Status code (`trangthai:`/`status:`).
    Status,
    /// Urgency code (`dokhan:`/`urgency:`).
    Urgency,
    /// Issuing agency, by its words (`noiban:`/`issuer:`).
    Issuer,
    /// Number and symbol, or any part of it (`so:`/`kyhieu:`/`number:`/`symbol:`).
    Reference,
    /// Subject (trích yếu) only (`trichyeu:`/`subject:`).
    Subject,
}

impl QueryField {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "loai" | "type" => Self::DocumentType,
            "nam" | "year" => Self::Year,
            "huong" | "direction" => Self::Direction,
            "trangthai" | "status" => Self::Status,
            "dokhan" | "urgency" => Self::Urgency,
            "noiban" | "issuer" => Self::Issuer,
            "so" | "kyhieu" | "number" | "symbol" => Self::Reference,
            "trichyeu" | "subject" => Self::Subject,
            _ => return None,
        })
    }

    /// Fields whose value is a code compared as a whole (not analysed text).
    pub fn is_keyword(self) -> bool {
        matches!(
            self,
            Self::DocumentType | Self::Direction | Self::Status | Self::Urgency
        )
    }
}

/// One item of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Word(String),
    Phrase(String),
    Field(QueryField, String),
    Year(i64),
}

/// An item and whether it is excluded (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clause {
    pub item: Item,
    pub negated: bool,
}

/// A parsed query; an empty one matches every document the user may read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub clauses: Vec<Clause>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("the query has more than {MAX_ITEMS} terms")]
    TooManyItems,
    #[error("a quotation mark opened at character {0} is never closed")]
    UnterminatedQuote(usize),
    #[error("unknown field {0:?}; use loai, nam, huong, trangthai, dokhan, noiban, so or trichyeu")]
    UnknownField(String),
    #[error("field {0} has no value")]
    EmptyValue(String),
    #[error("{field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("a lone \"-\" excludes nothing; write -word")]
    DanglingMinus,
}

impl QueryError {
    /// Stable error code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong | Self::TooManyItems => "search.query_too_long",
            Self::UnknownField(_) => "search.unknown_field",
            Self::EmptyValue(_) | Self::InvalidValue { .. } => "search.invalid_value",
            Self::UnterminatedQuote(_) | Self::DanglingMinus => "search.query_syntax",
        }
    }
}

/// Parses a query.
pub fn parse(input: &str) -> Result<ParsedQuery, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong);
    }
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    let mut clauses = Vec::new();
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-';
        if negated {
            i += 1;
            if i >= chars.len() || chars[i].is_whitespace() {
                return Err(QueryError::DanglingMinus);
            }
        }
        let item = if chars[i] == '"' {
            let (text, next) = quoted(&chars, i)?;
            i = next;
            Item::Phrase(text)
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '"' {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match field_prefix(&word) {
                Some((name, rest)) => {
                    let field = QueryField::parse(name).ok_or_else(|| QueryError::UnknownField(name.to_string()))?;
                    let value = if rest.is_empty() && i < chars.len() && chars[i] == '"' {
                        let (text, next) = quoted(&chars, i)?;
                        i = next;
                        text
                    } else {
                        rest.to_string()
                    };
                    field_item(name, field, value)?
                }
                None => Item::Word(word),
            }
        };
        clauses.push(Clause { item, negated });
        if clauses.len() > MAX_ITEMS {
            return Err(QueryError::TooManyItems);
        }
    }
    Ok(ParsedQuery { clauses })
}

/// `name:rest` when `name` is a plain ASCII word (so "10:30" or "Điều 5:" are not fields).
fn field_prefix(word: &str) -> Option<(&str, &str)> {
    let (name, rest) = word.split_once(':')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic())).then_some((name, rest))
}

fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut j = open + 1;
    while j < chars.len() && chars[j] != '"' {
        j += 1;
    }
    if j >= chars.len() {
        return Err(QueryError::UnterminatedQuote(open + 1));
    }
    Ok((chars[open + 1..j].iter().collect(), j + 1))
}

fn field_item(name: &str, field: QueryField, value: String) -> Result<Item, QueryError> {
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(QueryError::EmptyValue(name.to_string()));
    }
    let invalid = |reason: &str| QueryError::InvalidValue {
        field: name.to_string(),
        reason: reason.to_string(),
    };
    match field {
        QueryField::Year => {
            let y: i64 = value
                .parse()
                .map_err(|_| invalid("a year is four digits, e.g. nam:2026"))?;
            if !(1900..=2999).contains(&y) {
                return Err(invalid("the year must be between 1900 and 2999"));
            }
            Ok(Item::Year(y))
        }
        QueryField::Direction if !matches!(value.as_str(), "incoming" | "outgoing") => {
            Err(invalid("the direction is incoming or outgoing"))
        }
        f if f.is_keyword() => {
            if value.len() > 40 || !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(
                    "a code is lower-case ASCII letters, digits and _, e.g. quyet_dinh",
                ));
            }
            Ok(Item::Field(f, value.to_ascii_lowercase()))
        }
        f => Ok(Item::Field(f, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(q: &str) -> Vec<(Item, bool)> {
        parse(q)
            .expect("parses")
            .clauses
            .into_iter()
            .map(|c| (c.item, c.negated))
            .collect()
    }

    #[test]
    fn words_phrases_fields_and_exclusions() {
        assert_eq!(
            items(r#"kế hoạch "thi hành án" -dự loai:ke_hoach nam:2026 so:123/QĐ-BTP noiban:"Bộ Tư pháp""#),
            vec![
                (Item::Word("kế".into()), false),
                (Item::Word("hoạch".into()), false),
                (Item::Phrase("thi hành án".into()), false),
                (Item::Word("dự".into()), true),
                (Item::Field(QueryField::DocumentType, "ke_hoach".into()), false),
                (Item::Year(2026), false),
                (Item::Field(QueryField::Reference, "123/QĐ-BTP".into()), false),
                (Item::Field(QueryField::Issuer, "Bộ Tư pháp".into()), false),
            ]
        );
        assert_eq!(items(r#"-"công văn""#), vec![(Item::Phrase("công văn".into()), true)]);
        assert_eq!(parse("   ").expect("empty").clauses, vec![]);
    }

    #[test]
    fn colons_that_are_not_field_names_stay_words() {
        assert_eq!(items("10:30"), vec![(Item::Word("10:30".into()), false)]);
        assert_eq!(items("Điều:5"), vec![(Item::Word("Điều:5".into()), false)]);
    }

    #[test]
    fn syntax_errors_are_typed_with_stable_codes() {
        let e = parse(r#"kế "hoạch"#).expect_err("open quote");
        assert_eq!(e, QueryError::UnterminatedQuote(4));
        assert_eq!(e.code(), "search.query_syntax");
        assert_eq!(parse("foo:bar").expect_err("field").code(), "search.unknown_field");
        assert_eq!(parse("nam:hai").expect_err("year").code(), "search.invalid_value");
        assert_eq!(parse("nam:").expect_err("empty").code(), "search.invalid_value");
        assert_eq!(
            parse("huong:sideways").expect_err("direction").code(),
            "search.invalid_value"
        );
        assert_eq!(parse("loai:Quyết").expect_err("code").code(), "search.invalid_value");
        assert_eq!(parse("a - b").expect_err("minus"), QueryError::DanglingMinus);
        assert_eq!(
            parse(&"x".repeat(MAX_QUERY_CHARS + 1)).expect_err("long"),
            QueryError::TooLong
        );
        assert_eq!(
            parse(&"x ".repeat(MAX_ITEMS + 1)).expect_err("many"),
            QueryError::TooManyItems
        );
    }
}
