//! Vietnamese text analysis. Pure: no IO.
//!
//! Vietnamese is written in syllables separated by spaces ("Quyết định" is two syllables, one
//! word), so a token is a syllable; multi-syllable words are matched by phrase queries over
//! token positions. Every syllable is indexed twice: in its *exact* form (NFC, lower case,
//! diacritics kept) and in its *folded* form (diacritics stripped, "đ" → "d"). A query without
//! diacritics matches the folded form; a query with diacritics also matches the exact form,
//! which ranks those documents higher.
//!
//! Document numbers and symbols (`123/QĐ-BTP`, `05/BNV-VP`, `000.00.00.G12`) are *codes*: a run
//! of letters and digits joined by `/`, `-`, `.` or `_`. A code is indexed whole and in its parts
//! (`qđ-btp`, `qđ`, `btp`, `123`), all at the code's position, so it is found as written and by
//! any part.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Characters that join the parts of a code.
const JOINERS: [char; 4] = ['/', '-', '.', '_'];

/// Longest token kept, in bytes; longer runs (base64, hashes) are skipped.
pub const MAX_TOKEN_BYTES: usize = 64;

/// NFC and lower case: the exact form.
pub fn exact(s: &str) -> String {
    s.nfc().collect::<String>().to_lowercase()
}

/// NFC, lower case, diacritics removed, "đ" → "d": the folded form.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'đ' | 'Đ' => out.push('d'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// NFC form of a text, the form stored in the index (token offsets point into it).
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A syllable (or a number standing alone).
    Word,
    /// A whole code such as `123/qđ-btp`.
    Code,
    /// A part of a code, such as `qđ-btp`, `btp` or `123`.
    CodePart,
}

/// A token in its exact form, with byte offsets into the analysed text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawToken {
    pub text: String,
    pub from: usize,
    pub to: usize,
    pub position: usize,
    pub kind: TokenKind,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// Splits `text` (ideally NFC already) into exact-form tokens.
pub fn tokenize(text: &str) -> Vec<RawToken> {
    let mut out = Vec::new();
    let mut position = 0;
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if !is_word_char(c) {
            chars.next();
            continue;
        }
        // A chunk: word characters and joiners, ending at a character that is neither.
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if is_word_char(c) || JOINERS.contains(&c) {
                end = i + c.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let chunk = text[start..end].trim_end_matches(JOINERS);
        let chunk_end = start + chunk.len();
        if chunk.len() <= MAX_TOKEN_BYTES {
            push_chunk(&mut out, chunk, start, chunk_end, position);
            position += 1;
        }
    }
    out
}

fn push_chunk(out: &mut Vec<RawToken>, chunk: &str, from: usize, to: usize, position: usize) {
    let lower = exact(chunk);
    if !chunk.contains(JOINERS) {
        out.push(RawToken {
            text: lower,
            from,
            to,
            position,
            kind: TokenKind::Word,
        });
        return;
    }
    let mut seen: Vec<String> = vec![lower.clone()];
    out.push(RawToken {
        text: lower.clone(),
        from,
        to,
        position,
        kind: TokenKind::Code,
    });
    let mut part = |s: &str| {
        if !s.is_empty() && !seen.iter().any(|x| x == s) {
            seen.push(s.to_string());
            out.push(RawToken {
                text: s.to_string(),
                from,
                to,
                position,
                kind: TokenKind::CodePart,
            });
        }
    };
    for slash_part in lower.split('/') {
        part(slash_part.trim_matches(JOINERS));
        for piece in slash_part.split(JOINERS) {
            part(piece);
        }
    }
}

/// The folded forms of a query word, as indexed: one term for a plain syllable or a whole code
/// (parts of a query code are *not* searched separately: `123/QĐ-BTP` means exactly that).
pub fn query_terms(word: &str) -> Vec<QueryTerm> {
    tokenize(&nfc(word))
        .into_iter()
        .filter(|t| t.kind != TokenKind::CodePart)
        .map(|t| QueryTerm {
            folded: fold(&t.text),
            exact: t.text,
            position: t.position,
        })
        .collect()
}

/// One term of a query in both forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryTerm {
    pub exact: String,
    pub folded: String,
    pub position: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn folding_strips_diacritics_and_folds_d_stroke() {
        assert_eq!(fold("Quyết định"), "quyet dinh");
        assert_eq!(fold("ĐỀ ÁN"), "de an");
        assert_eq!(fold("Thi hành án dân sự"), "thi hanh an dan su");
        assert_eq!(fold("Nghị quyết"), "nghi quyet");
        assert_eq!(fold("ưu đãi ở Ơn"), "uu dai o on");
    }

    #[test]
    fn decomposed_input_folds_and_normalises_like_precomposed() {
        let decomposed: String = "Quyết định".nfd().collect();
        assert_ne!(decomposed, "Quyết định");
        assert_eq!(fold(&decomposed), "quyet dinh");
        assert_eq!(exact(&decomposed), "quyết định");
        assert_eq!(texts(&decomposed), vec!["quyết", "định"]);
    }

    #[test]
    fn syllables_are_tokens_with_consecutive_positions_and_byte_offsets() {
        let text = "Về việc: ban hành Kế hoạch.";
        let toks = tokenize(text);
        let words: Vec<&str> = toks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, vec!["về", "việc", "ban", "hành", "kế", "hoạch"]);
        assert_eq!(
            toks.iter().map(|t| t.position).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5]
        );
        for t in &toks {
            assert_eq!(text[t.from..t.to].to_lowercase(), t.text);
        }
    }

    #[test]
    fn codes_are_indexed_whole_and_in_parts_at_one_position() {
        let toks = tokenize("Số: 123/QĐ-BTP ngày");
        let code: Vec<(&str, usize, TokenKind)> = toks.iter().map(|t| (t.text.as_str(), t.position, t.kind)).collect();
        assert_eq!(
            code,
            vec![
                ("số", 0, TokenKind::Word),
                ("123/qđ-btp", 1, TokenKind::Code),
                ("123", 1, TokenKind::CodePart),
                ("qđ-btp", 1, TokenKind::CodePart),
                ("qđ", 1, TokenKind::CodePart),
                ("btp", 1, TokenKind::CodePart),
                ("ngày", 2, TokenKind::Word),
            ]
        );
        assert_eq!(texts("000.00.00.G12"), vec!["000.00.00.g12", "000", "00", "g12"]);
        assert_eq!(texts("05/BNV-VP,"), vec!["05/bnv-vp", "05", "bnv-vp", "bnv", "vp"]);
    }

    #[test]
    fn trailing_joiners_and_overlong_runs_are_dropped() {
        assert_eq!(texts("hết."), vec!["hết"]);
        assert_eq!(texts("- Căn cứ"), vec!["căn", "cứ"]);
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(texts(&format!("x {long} y")), vec!["x", "y"]);
        assert!(tokenize("").is_empty());
        assert!(tokenize(" ,.;/-- ").is_empty());
    }

    #[test]
    fn query_terms_keep_codes_whole() {
        let t = query_terms("123/QĐ-BTP");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].exact, "123/qđ-btp");
        assert_eq!(t[0].folded, "123/qd-btp");
        let t = query_terms("Quyết");
        assert_eq!((t[0].exact.as_str(), t[0].folded.as_str()), ("quyết", "quyet"));
    }
}
