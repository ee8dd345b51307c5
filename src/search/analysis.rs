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

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

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
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s.to_string()
    } else {
        s.nfc().collect()
    }
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

#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    match u32::from(c) {
        // Latin letters with diacritics, all of Vietnamese among them: Latin-1 Supplement
        // letters, Latin Extended-A and -B, Latin Extended Additional (the general lookup is slow).
        0xC0..=0x24F => c != '×' && c != '÷',
        0x1E00..=0x1EFF => true,
        _ => c.is_alphanumeric() || is_combining_mark(c),
    }
}

/// Characters below this have their folded and lower-case forms in [`tables`].
const TABLE_END: u32 = 0x1F00;
/// In the fold table: no single-ASCII form, take the general path.
const FOLD_GENERAL: u8 = 0;
/// In the fold table: a combining mark, dropped.
const FOLD_DROP: u8 = 0xFF;

struct Tables {
    /// Per character: its folded form as one ASCII byte, or [`FOLD_DROP`], or [`FOLD_GENERAL`].
    fold: Vec<u8>,
    /// Per character: its lower case when that is one character, else `'\0'`.
    lower: Vec<char>,
}

/// Folding and lower-casing tables for the Latin range, built once from the general rules.
fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut fold = vec![FOLD_GENERAL; TABLE_END as usize];
        let mut lower = vec!['\0'; TABLE_END as usize];
        for (i, c) in (0..TABLE_END).filter_map(|i| char::from_u32(i).map(|c| (i as usize, c))) {
            let mut one = [0u8; 4];
            let f = fold_general(c.encode_utf8(&mut one));
            fold[i] = match f.as_bytes() {
                [] => FOLD_DROP,
                [b] if b.is_ascii() && *b != FOLD_GENERAL => *b,
                _ => FOLD_GENERAL,
            };
            let mut l = c.to_lowercase();
            if let (Some(x), None) = (l.next(), l.next()) {
                lower[i] = x;
            }
        }
        Tables { fold, lower }
    })
}

/// One character's folded form, the general way (see [`fold_into`]).
fn fold_general(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        decompose_canonical(c, |d| {
            if is_combining_mark(d) {
                return;
            }
            match d {
                'đ' | 'Đ' => out.push('d'),
                d => out.extend(d.to_lowercase()),
            }
        });
    }
    out
}

/// The next chunk of `text` at or after byte `from`: a run of word characters and joiners,
/// without trailing joiners. Returns `(start, end, resume)`: the chunk is `text[start..end]`,
/// and scanning goes on at `resume`.
fn next_chunk(text: &str, from: usize) -> Option<(usize, usize, usize)> {
    let rest = text.get(from..)?;
    let mut chars = rest.char_indices();
    let start = loop {
        let (i, c) = chars.next()?;
        if is_word_char(c) {
            break from + i;
        }
    };
    let mut end = text.len();
    for (i, c) in chars {
        if !(is_word_char(c) || JOINERS.contains(&c)) {
            end = from + i;
            break;
        }
    }
    let chunk = text[start..end].trim_end_matches(JOINERS);
    Some((start, start + chunk.len(), end))
}

/// Splits `text` (ideally NFC already) into exact-form tokens.
pub fn tokenize(text: &str) -> Vec<RawToken> {
    let mut out = Vec::new();
    let mut position = 0;
    let mut next = 0;
    while let Some((start, end, resume)) = next_chunk(text, next) {
        next = resume;
        if end - start <= MAX_TOKEN_BYTES {
            push_chunk(&mut out, &text[start..end], start, end, position);
            position += 1;
        }
    }
    out
}

/// Appends the exact form of `s` ([`exact`]) to `out`, without allocating for the common cases.
fn exact_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let at = out.len();
        out.push_str(s);
        out[at..].make_ascii_lowercase();
    } else if !s.contains('Σ') && is_nfc_quick(s.chars()) == IsNormalized::Yes {
        // (A capital sigma lower-cases by context; `str::to_lowercase` handles that.)
        let t = tables();
        for c in s.chars() {
            match t.lower.get(u32::from(c) as usize) {
                Some(&l) if l != '\0' => out.push(l),
                _ => out.extend(c.to_lowercase()),
            }
        }
    } else {
        out.push_str(&exact(s));
    }
}

/// Appends the folded form of `s` (`fold(exact(s))`) to `out`: each character decomposed,
/// its marks dropped, "đ" → "d", lower case.
fn fold_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let at = out.len();
        out.push_str(s);
        out[at..].make_ascii_lowercase();
        return;
    }
    if s.contains('Σ') {
        out.push_str(&fold(&exact(s)));
        return;
    }
    let t = tables();
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        match t.fold.get(u32::from(c) as usize) {
            Some(&FOLD_DROP) => {}
            Some(&b) if b != FOLD_GENERAL => out.push(char::from(b)),
            _ => {
                let mut one = [0u8; 4];
                out.push_str(&fold_general(c.encode_utf8(&mut one)));
            }
        }
    }
}

/// Streams the tokens of a text in their exact or folded form, like [`tokenize`] (and
/// [`fold`]) but writing each token's text into a caller's buffer: the analyzer of the index.
#[derive(Debug)]
pub struct TokenCursor<'a> {
    text: &'a str,
    next: usize,
    position: usize,
    folded: bool,
    /// The remaining tokens of a code (its parts), folded already when `folded`.
    pending: std::vec::IntoIter<RawToken>,
}

impl<'a> TokenCursor<'a> {
    pub fn new(text: &'a str, folded: bool) -> Self {
        Self {
            text,
            next: 0,
            position: 0,
            folded,
            pending: Vec::new().into_iter(),
        }
    }

    /// Writes the next token's text into `buf` (cleared first) and returns its byte offsets
    /// and position, or `None` at the end.
    pub fn advance(&mut self, buf: &mut String) -> Option<(usize, usize, usize)> {
        if let Some(t) = self.pending.next() {
            buf.clear();
            buf.push_str(&t.text);
            return Some((t.from, t.to, t.position));
        }
        loop {
            let (start, end, resume) = next_chunk(self.text, self.next)?;
            self.next = resume;
            if end - start > MAX_TOKEN_BYTES {
                continue;
            }
            let chunk = &self.text[start..end];
            let position = self.position;
            self.position += 1;
            buf.clear();
            if chunk.contains(JOINERS) {
                let mut raw = Vec::new();
                push_chunk(&mut raw, chunk, start, end, position);
                if self.folded {
                    for t in &mut raw {
                        t.text = fold(&t.text);
                    }
                }
                let mut raw = raw.into_iter();
                if let Some(first) = raw.next() {
                    buf.push_str(&first.text);
                }
                self.pending = raw;
            } else if self.folded {
                fold_into(chunk, buf);
            } else {
                exact_into(chunk, buf);
            }
            return Some((start, end, position));
        }
    }
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

    fn cursor_tokens(text: &str, folded: bool) -> Vec<(String, usize, usize, usize)> {
        let mut c = TokenCursor::new(text, folded);
        let mut buf = String::new();
        let mut out = Vec::new();
        while let Some((from, to, position)) = c.advance(&mut buf) {
            out.push((buf.clone(), from, to, position));
        }
        out
    }

    fn reference_tokens(text: &str, folded: bool) -> Vec<(String, usize, usize, usize)> {
        tokenize(text)
            .into_iter()
            .map(|t| {
                let text = if folded { fold(&t.text) } else { t.text };
                (text, t.from, t.to, t.position)
            })
            .collect()
    }

    fn assert_cursor_matches(text: &str) {
        for folded in [false, true] {
            assert_eq!(
                cursor_tokens(text, folded),
                reference_tokens(text, folded),
                "{text:?} folded={folded}"
            );
        }
    }

    #[test]
    fn the_fast_word_character_test_agrees_with_the_unicode_one() {
        for c in (0u32..0x11_0000).filter_map(char::from_u32) {
            assert_eq!(
                is_word_char(c),
                c.is_alphanumeric() || is_combining_mark(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn the_streaming_analyzer_gives_the_same_tokens_as_tokenize_and_fold() {
        let corpus = include_str!("../../tests/corpus/documents.json");
        assert_cursor_matches(corpus);
        assert_cursor_matches(&corpus.to_uppercase());
        assert_cursor_matches(&corpus.nfd().collect::<String>());
        assert_cursor_matches("Số: 123/QĐ-BTP ngày 05/BNV-VP, mã 000.00.00.G12 -- hết. ΟΔΥΣΣΕΥΣ Σ ΣΑ");
        assert_cursor_matches(&format!("x {} y/{}", "a".repeat(MAX_TOKEN_BYTES + 1), "ệ".repeat(40)));
        // Every character of the Basic Multilingual Plane, alone, after a letter, and before
        // combining marks.
        let mut all = String::new();
        for c in (0u32..0x1_0000).filter_map(char::from_u32) {
            all.push(c);
            all.push(' ');
            all.push('a');
            all.push(c);
            all.push('\u{301}');
            all.push('\u{323}');
            all.push(' ');
        }
        assert_cursor_matches(&all);
        for c in (0u32..0x1_0000).filter_map(char::from_u32) {
            let s = format!("{c}\u{302}\u{301}");
            let mut f = String::new();
            fold_into(&s, &mut f);
            assert_eq!(f, fold(&exact(&s)), "{:04X}", c as u32);
            let mut e = String::new();
            exact_into(&s, &mut e);
            assert_eq!(e, exact(&s), "{:04X}", c as u32);
        }
    }
}
