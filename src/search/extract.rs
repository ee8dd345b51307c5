//! Text extraction from PDF files for the index, bounded in time and memory.
//!
//! Pure: bytes in, text out. The bounds: files above [`Limits::max_file_bytes`] are not read;
//! image streams are dropped while the file is parsed; each page's decompressed content is capped
//! (lopdf's bounded decoding, so a small compressed stream cannot inflate without limit); only the
//! first [`Limits::max_pages`] pages are read; the text is cut at [`Limits::max_text_bytes`]. The
//! caller runs it on a blocking thread with a deadline. A file with no text layer (a scan) or one
//! that cannot be read yields a [`Outcome`] that says so, never an error: the document is still
//! indexed by its metadata, and archived.

use lopdf::{Document, LoadOptions, Object, ObjectId};
use unicode_normalization::UnicodeNormalization;

/// Bounds on one extraction.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_pages: u32,
    /// Decompressed content of one page (all its content streams together).
    pub max_page_content: usize,
    /// Decompressed size of any one stream while loading.
    pub max_stream: usize,
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 200 * 1024 * 1024,
            max_pages: 200,
            max_page_content: 8 * 1024 * 1024,
            max_stream: 32 * 1024 * 1024,
            max_text_bytes: 1024 * 1024,
        }
    }
}

/// What extraction found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Text was found (possibly cut at the limit: `truncated`).
    Text { text: String, truncated: bool },
    /// The file reads but has no text layer (e.g. a scanned image).
    NoTextLayer,
    /// The file could not be read as a PDF, is encrypted, or is over a limit.
    Unreadable(String),
}

impl Outcome {
    /// Stable code stored with the cached text.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::NoTextLayer => "no_text_layer",
            Self::Unreadable(_) => "unreadable",
        }
    }
}

/// Drops image data while loading: it is the bulk of a scan and never holds text.
fn drop_images(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = obj {
        let is_image = stream
            .dict
            .get(b"Subtype")
            .and_then(Object::as_name)
            .is_ok_and(|n| n == b"Image");
        if is_image {
            stream.content = Vec::new();
        }
    }
    Some((id, obj.clone()))
}

/// Whether `bytes` look like a PDF (the header may follow a little junk, as readers allow).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-")
}

/// The text of `pdf`'s pages, NFC-normalised, whitespace runs collapsed to one space or newline.
pub fn pdf_text(pdf: &[u8], limits: &Limits) -> Outcome {
    if pdf.len() as u64 > limits.max_file_bytes {
        return Outcome::Unreadable(format!("larger than {} bytes", limits.max_file_bytes));
    }
    if !looks_like_pdf(pdf) {
        return Outcome::Unreadable("not a PDF".into());
    }
    let opts = LoadOptions {
        filter: Some(drop_images),
        max_decompressed_size: Some(limits.max_stream),
        ..LoadOptions::default()
    };
    let doc = match Document::load_mem_with_options(pdf, opts) {
        Ok(d) => d,
        Err(e) => return Outcome::Unreadable(format!("not a readable PDF: {e}")),
    };
    if doc.is_encrypted() {
        return Outcome::Unreadable("encrypted".into());
    }
    let pages: Vec<u32> = doc
        .get_pages()
        .keys()
        .copied()
        .take(limits.max_pages as usize)
        .collect();
    let mut text = String::new();
    let mut truncated = false;
    for page in pages {
        // A page that fails (bad font, over the content limit) is skipped; the others count.
        let Ok(chunk) = doc.extract_text_with_limit(&[page], limits.max_page_content) else {
            continue;
        };
        append_normalised(&mut text, &chunk);
        // Pages never run into each other.
        if !text.is_empty() && !text.ends_with(['\n', ' ']) {
            text.push('\n');
        }
        if text.len() >= limits.max_text_bytes {
            let mut cut = limits.max_text_bytes;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            truncated = true;
            break;
        }
    }
    if text.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        return Outcome::NoTextLayer;
    }
    Outcome::Text { text, truncated }
}

/// Appends `chunk` in NFC with whitespace collapsed (a newline is kept as a line break).
fn append_normalised(out: &mut String, chunk: &str) {
    let mut pending: Option<char> = None;
    for c in chunk.nfc() {
        if c.is_whitespace() || c == '\u{0}' {
            if c == '\n' || pending.is_none() {
                pending = Some(if c == '\n' { '\n' } else { ' ' });
            }
            continue;
        }
        if let Some(ws) = pending.take() {
            if !out.is_empty() && !out.ends_with(['\n', ' ']) {
                out.push(ws);
            }
        }
        out.push(c);
    }
    if pending.is_some() && !out.is_empty() && !out.ends_with(['\n', ' ']) {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_collapsed_and_text_is_nfc() {
        let mut out = String::new();
        // "Quyết" written with a combining acute accent (NFD-ish) becomes the precomposed form.
        append_normalised(&mut out, "Quye\u{0302}\u{0301}t   định\n\n số");
        assert_eq!(out, "Quyết định\nsố");
        append_normalised(&mut out, "  \n");
        assert_eq!(out, "Quyết định\nsố\n", "trailing whitespace becomes one line break");
    }

    #[test]
    fn non_pdf_and_oversized_input_are_unreadable() {
        assert!(matches!(pdf_text(b"hello", &Limits::default()), Outcome::Unreadable(_)));
        let limits = Limits {
            max_file_bytes: 4,
            ..Limits::default()
        };
        assert!(matches!(pdf_text(b"%PDF-1.7 ...", &limits), Outcome::Unreadable(_)));
        assert!(matches!(
            pdf_text(b"%PDF-1.7\n garbage garbage", &Limits::default()),
            Outcome::Unreadable(_)
        ));
    }
}
