//! The streaming driver: reads XML with quick-xml (markup only) and streams character data
//! itself, straight from the input, so a 100 MB base64 attachment passes through in small
//! chunks. It feeds a [`Canonicalizer`] with everything outside the enveloped signature and
//! captures that signature's subtree (small) with the namespace context around it.
//!
//! Well-formedness is quick-xml's (end names checked, duplicate attributes refused); DOCTYPEs
//! and unknown entities are refused; line ends and attribute values are normalised as an XML
//! processor must (XML 1.0 §2.11, §3.3.3); depth, markup size and the captured subtree are
//! bounded.

use std::io::{self, BufRead, Read, Write};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::c14n::{split_qname, Canonicalizer, Context, Mode};
use crate::edxml::{EdxmlError, Limits};

/// Largest captured signature subtree, in bytes of text and markup.
const MAX_CAPTURE: usize = 1 << 20;

/// One node of a captured subtree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Start {
        qname: String,
        attrs: Vec<(String, String)>,
    },
    End {
        qname: String,
    },
    Text(String),
    Comment(String),
    Pi {
        target: String,
        data: String,
    },
}

/// The first `Signature` element (any namespace) and what surrounds it.
#[derive(Clone, Debug)]
pub(crate) struct Captured {
    /// From its start to its end, inclusive.
    pub nodes: Vec<Node>,
    /// The context at its parent.
    pub context: Context,
    /// Its namespace URI, when its prefix is declared.
    pub namespace: Option<String>,
    /// How many elements enclose it (0: it is the root).
    pub depth: usize,
}

/// What to do while scanning.
pub(crate) struct Scan<'a> {
    pub limits: &'a Limits,
    /// The context of the input's parent (empty for a document).
    pub context: Context,
    /// Canonicalize everything except the captured signature into this writer.
    pub canonical: Option<(Mode, &'a mut dyn Write)>,
    /// Capture (and leave out of the canonical form) the first `Signature` element.
    pub capture_signature: bool,
}

/// Scans `input`; returns the first `Signature` subtree, if any.
pub(crate) fn scan<R: BufRead>(input: R, cfg: Scan<'_>) -> Result<Option<Captured>, EdxmlError> {
    let document = cfg.context == Context::default();
    let canonical = cfg.canonical.map(|(mode, out)| {
        if document {
            Canonicalizer::document(out, mode)
        } else {
            Canonicalizer::subtree(out, mode, cfg.context.clone())
        }
    });
    let mut h = Handler {
        limits: cfg.limits,
        stack: vec![cfg.context],
        canonical,
        capture_signature: cfg.capture_signature,
        capturing: None,
        captured: None,
        capture_size: 0,
        pending_cr: false,
        carry: Vec::new(),
        root_seen: false,
        position: 0,
    };
    let limit = cfg.limits.max_text.saturating_add(64 * 1024);
    let mut reader = Reader::from_reader(Guard {
        inner: input,
        used: 0,
        limit,
        tripped: false,
    });
    reader.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(4096);
    loop {
        stream_text(&mut reader.get_mut().inner, &mut h)?;
        h.end_text()?;
        reader.get_mut().used = 0;
        h.position = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(_) if reader.get_ref().tripped => {
                return Err(EdxmlError::TextTooLong {
                    element: "markup".into(),
                    limit: cfg.limits.max_text,
                })
            }
            Err(quick_xml::Error::Encoding(_)) => return Err(EdxmlError::InvalidUtf8(h.position)),
            Err(e) => return Err(h.xml(e.to_string())),
        };
        if reader.get_ref().used > limit {
            return Err(EdxmlError::TextTooLong {
                element: "markup".into(),
                limit: cfg.limits.max_text,
            });
        }
        match event {
            Event::Start(e) => {
                let (qname, attrs) = h.element(&e)?;
                h.start(qname, attrs)?;
            }
            Event::Empty(e) => {
                let (qname, attrs) = h.element(&e)?;
                h.start(qname.clone(), attrs)?;
                h.end(qname)?;
            }
            Event::End(e) => {
                let qname = h.utf8(e.name().as_ref())?.to_string();
                h.end(qname)?;
            }
            Event::Text(t) => {
                // Only reached if quick-xml saw text first; handled like streamed text.
                h.raw_text(&t)?;
                h.end_text()?;
            }
            Event::CData(t) => {
                h.raw_text(&t)?;
                h.end_text()?;
            }
            Event::GeneralRef(r) => {
                let c = decode_reference(&r, h.position)?;
                h.chars(c.encode_utf8(&mut [0u8; 4]))?;
            }
            Event::Comment(t) => {
                let text = normalize_newlines(h.utf8(&t)?);
                h.comment(text)?;
            }
            Event::PI(p) => {
                let content = normalize_newlines(h.utf8(&p)?);
                let (target, data) = match content.find(|c: char| c.is_ascii_whitespace()) {
                    Some(i) => (content[..i].to_string(), content[i..].trim_start().to_string()),
                    None => (content.clone(), String::new()),
                };
                h.pi(target, data)?;
            }
            Event::Decl(_) => {}
            Event::DocType(_) => return Err(EdxmlError::Doctype),
            Event::Eof => break,
        }
        buf.clear();
    }
    if !h.root_seen {
        return Err(EdxmlError::NotEdxml(String::new()));
    }
    if h.stack.len() > 1 || h.capturing.is_some() {
        return Err(EdxmlError::Truncated);
    }
    Ok(h.captured)
}

/// Counts the bytes quick-xml consumes for one event and stops it past `limit`.
struct Guard<R> {
    inner: R,
    used: usize,
    limit: usize,
    tripped: bool,
}

impl<R: BufRead> Read for Guard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Guard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.used > self.limit {
            self.tripped = true;
            return Err(io::Error::new(io::ErrorKind::InvalidData, "markup too long"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.used = self.used.saturating_add(n);
        self.inner.consume(n);
    }
}

/// Streams character data up to the next `<`, expanding references.
fn stream_text<R: BufRead>(inner: &mut R, h: &mut Handler<'_, '_>) -> Result<(), EdxmlError> {
    loop {
        let buf = inner.fill_buf()?;
        if buf.is_empty() || buf[0] == b'<' {
            return Ok(());
        }
        if buf[0] == b'&' {
            let mut name = Vec::new();
            inner.consume(1);
            loop {
                let buf = inner.fill_buf()?;
                let Some(&b) = buf.first() else {
                    return Err(EdxmlError::Truncated);
                };
                inner.consume(1);
                if b == b';' {
                    break;
                }
                if name.len() > 32 || b == b'<' || b == b'&' || b.is_ascii_whitespace() {
                    return Err(h.xml("malformed reference".into()));
                }
                name.push(b);
            }
            let c = decode_reference(&name, h.position)?;
            h.pending_cr = false;
            h.chars(c.encode_utf8(&mut [0u8; 4]))?;
            continue;
        }
        let n = memchr::memchr2(b'<', b'&', buf).unwrap_or(buf.len());
        h.raw_text(&buf[..n])?;
        inner.consume(n);
    }
}

/// `amp`, `lt`, `gt`, `quot`, `apos` and character references; anything else is refused.
fn decode_reference(name: &[u8], position: u64) -> Result<char, EdxmlError> {
    let c = match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        [b'#', b'x', hex @ ..] => parse_char(hex, 16).ok_or_else(|| bad_char(name, position))?,
        [b'#', dec @ ..] => parse_char(dec, 10).ok_or_else(|| bad_char(name, position))?,
        other => return Err(EdxmlError::UnknownEntity(String::from_utf8_lossy(other).into_owned())),
    };
    Ok(c)
}

fn bad_char(name: &[u8], position: u64) -> EdxmlError {
    EdxmlError::Xml {
        position,
        message: format!("invalid character reference &{};", String::from_utf8_lossy(name)),
    }
}

fn parse_char(digits: &[u8], radix: u32) -> Option<char> {
    let s = std::str::from_utf8(digits).ok()?;
    if s.is_empty() || s.len() > 8 {
        return None;
    }
    let n = u32::from_str_radix(s, radix).ok()?;
    let c = char::from_u32(n)?;
    let allowed = matches!(c, '\t' | '\n' | '\r') || (n >= 0x20 && !(0xFFFE..=0xFFFF).contains(&n));
    allowed.then_some(c)
}

fn normalize_newlines(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    }
}

/// An attribute value as an XML processor reports it (no DTD: every attribute is CDATA):
/// line ends normalised, then each white-space character becomes a space; references expanded
/// (the characters they produce are kept as they are).
fn attribute_value(raw: &[u8], position: u64) -> Result<String, EdxmlError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\r' => {
                out.push(b' ');
                if raw.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' | b'\t' => out.push(b' '),
            b'&' => {
                let end = raw[i..]
                    .iter()
                    .position(|&b| b == b';')
                    .ok_or_else(|| EdxmlError::Xml {
                        position,
                        message: "malformed reference in an attribute value".into(),
                    })?;
                let c = decode_reference(&raw[i + 1..i + end], position)?;
                out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes());
                i += end;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| EdxmlError::InvalidUtf8(position))
}

struct Handler<'l, 'w> {
    limits: &'l Limits,
    /// Context per open element; `stack[0]` is the input's parent.
    stack: Vec<Context>,
    canonical: Option<Canonicalizer<&'w mut dyn Write>>,
    capture_signature: bool,
    /// Depth (stack length) at which the signature being captured started.
    capturing: Option<(usize, Captured)>,
    captured: Option<Captured>,
    capture_size: usize,
    pending_cr: bool,
    /// Bytes of a UTF-8 sequence split across reads.
    carry: Vec<u8>,
    root_seen: bool,
    position: u64,
}

impl Handler<'_, '_> {
    fn xml(&self, message: String) -> EdxmlError {
        EdxmlError::Xml {
            position: self.position,
            message,
        }
    }

    fn utf8<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, EdxmlError> {
        std::str::from_utf8(bytes).map_err(|_| EdxmlError::InvalidUtf8(self.position))
    }

    fn element(&self, e: &BytesStart<'_>) -> Result<(String, Vec<(String, String)>), EdxmlError> {
        let qname = self.utf8(e.name().as_ref())?.to_string();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| self.xml(err.to_string()))?;
            let key = self.utf8(a.key.as_ref())?.to_string();
            let value = attribute_value(&a.value, self.position)?;
            attrs.push((key, value));
        }
        Ok((qname, attrs))
    }

    fn capture(&mut self, node: Node) -> Result<(), EdxmlError> {
        if let Some((_, c)) = self.capturing.as_mut() {
            let size = match &node {
                Node::Start { qname, attrs } => {
                    qname.len() + attrs.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 2
                }
                Node::End { qname } => qname.len() + 3,
                Node::Text(t) | Node::Comment(t) => t.len(),
                Node::Pi { target, data } => target.len() + data.len() + 4,
            };
            self.capture_size += size;
            if self.capture_size > MAX_CAPTURE {
                return Err(EdxmlError::TextTooLong {
                    element: "Signature".into(),
                    limit: MAX_CAPTURE,
                });
            }
            match (c.nodes.last_mut(), node) {
                (Some(Node::Text(prev)), Node::Text(t)) => prev.push_str(&t),
                (_, node) => c.nodes.push(node),
            }
        }
        Ok(())
    }

    fn start(&mut self, qname: String, attrs: Vec<(String, String)>) -> Result<(), EdxmlError> {
        let depth = self.stack.len() - 1;
        if depth == 0 {
            if self.root_seen {
                return Err(self.xml("content after the root element".into()));
            }
            self.root_seen = true;
        }
        if depth >= self.limits.max_depth {
            return Err(EdxmlError::TooDeep(self.limits.max_depth));
        }
        let parent = self.stack.last().cloned().unwrap_or_default();
        let here = parent.enter(&attrs);
        let (prefix, local) = split_qname(&qname);
        if self.capture_signature && self.capturing.is_none() && self.captured.is_none() && local == "Signature" {
            let namespace = here.lookup(prefix).map(str::to_string);
            self.capturing = Some((
                self.stack.len(),
                Captured {
                    nodes: Vec::new(),
                    context: parent,
                    namespace,
                    depth,
                },
            ));
        }
        self.stack.push(here);
        if self.capturing.is_some() {
            self.capture(Node::Start { qname, attrs })
        } else if let Some(c) = self.canonical.as_mut() {
            Ok(c.start(&qname, &attrs)?)
        } else {
            Ok(())
        }
    }

    fn end(&mut self, qname: String) -> Result<(), EdxmlError> {
        if self.stack.len() <= 1 {
            return Err(self.xml(format!("unexpected end tag </{qname}>")));
        }
        if self.capturing.is_some() {
            self.capture(Node::End { qname })?;
            if self.capturing.as_ref().is_some_and(|(d, _)| *d + 1 == self.stack.len()) {
                self.captured = self.capturing.take().map(|(_, c)| c);
            }
        } else if let Some(c) = self.canonical.as_mut() {
            c.end(&qname)?;
        }
        self.stack.pop();
        Ok(())
    }

    fn comment(&mut self, text: String) -> Result<(), EdxmlError> {
        if self.capturing.is_some() {
            self.capture(Node::Comment(text))
        } else if let Some(c) = self.canonical.as_mut() {
            Ok(c.comment(&text)?)
        } else {
            Ok(())
        }
    }

    fn pi(&mut self, target: String, data: String) -> Result<(), EdxmlError> {
        if self.capturing.is_some() {
            self.capture(Node::Pi { target, data })
        } else if let Some(c) = self.canonical.as_mut() {
            Ok(c.pi(&target, &data)?)
        } else {
            Ok(())
        }
    }

    /// Decoded characters.
    fn chars(&mut self, s: &str) -> Result<(), EdxmlError> {
        if !self.carry.is_empty() {
            return Err(EdxmlError::InvalidUtf8(self.position));
        }
        if self.stack.len() <= 1 {
            if !s.trim().is_empty() && s != "\u{feff}" {
                return Err(self.xml("text outside the root element".into()));
            }
            return Ok(());
        }
        if self.capturing.is_some() {
            self.capture(Node::Text(s.to_string()))
        } else if let Some(c) = self.canonical.as_mut() {
            Ok(c.text(s)?)
        } else {
            Ok(())
        }
    }

    /// Raw character data (no references): line ends normalised, UTF-8 checked across reads.
    fn raw_text(&mut self, mut bytes: &[u8]) -> Result<(), EdxmlError> {
        while !bytes.is_empty() {
            if self.pending_cr && bytes[0] == b'\n' {
                bytes = &bytes[1..];
            }
            self.pending_cr = false;
            let cut = memchr::memchr(b'\r', bytes);
            let (chunk, rest) = match cut {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            self.utf8_chunk(chunk)?;
            if cut.is_some() {
                self.utf8_chunk(b"\n")?;
                self.pending_cr = true;
            }
            bytes = rest;
        }
        Ok(())
    }

    fn utf8_chunk(&mut self, mut bytes: &[u8]) -> Result<(), EdxmlError> {
        while !self.carry.is_empty() && !bytes.is_empty() {
            self.carry.push(bytes[0]);
            bytes = &bytes[1..];
            match std::str::from_utf8(&self.carry) {
                Ok(_) => {
                    let done = std::mem::take(&mut self.carry);
                    let s = String::from_utf8(done).map_err(|_| EdxmlError::InvalidUtf8(self.position))?;
                    self.chars(&s)?;
                }
                Err(e) if e.error_len().is_none() && self.carry.len() < 4 => {}
                Err(_) => return Err(EdxmlError::InvalidUtf8(self.position)),
            }
        }
        if bytes.is_empty() {
            return Ok(());
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => self.chars(s),
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                let s = std::str::from_utf8(&bytes[..valid]).map_err(|_| EdxmlError::InvalidUtf8(self.position))?;
                if !s.is_empty() {
                    self.chars(s)?;
                }
                self.carry.extend_from_slice(&bytes[valid..]);
                Ok(())
            }
            Err(_) => Err(EdxmlError::InvalidUtf8(self.position)),
        }
    }

    /// Markup follows: a split UTF-8 sequence cannot continue.
    fn end_text(&mut self) -> Result<(), EdxmlError> {
        self.pending_cr = false;
        if !self.carry.is_empty() {
            return Err(EdxmlError::InvalidUtf8(self.position));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::BufReader;

    use super::*;

    const DOC: &str = "<?xml version=\"1.0\"?>\r\n<r xmlns=\"urn:r\" a=\"x&#10;y\r\nz\">Tiếng Việt\r\n&amp;&#x1F600;\rđ<s:Signature xmlns:s=\"urn:s\"><s:V>1</s:V></s:Signature>ư<![CDATA[<&>]]></r>";

    fn canonical(reader: impl BufRead, exclusive: bool) -> (Vec<u8>, Option<Captured>) {
        let mut out = Vec::new();
        let limits = Limits::default();
        let captured = scan(
            reader,
            Scan {
                limits: &limits,
                context: Context::default(),
                canonical: Some((
                    Mode {
                        exclusive,
                        ..Mode::default()
                    },
                    &mut out,
                )),
                capture_signature: true,
            },
        )
        .expect("scan");
        (out, captured)
    }

    #[test]
    fn reads_split_anywhere_give_the_same_canonical_form() {
        let (whole, captured) = canonical(DOC.as_bytes(), false);
        assert_eq!(
            String::from_utf8(whole.clone()).expect("utf8"),
            "<r xmlns=\"urn:r\" a=\"x&#xA;y z\">Tiếng Việt\n&amp;😀\nđư&lt;&amp;&gt;</r>"
        );
        let captured = captured.expect("signature");
        assert_eq!(captured.namespace.as_deref(), Some("urn:s"));
        assert_eq!(captured.context.ns, vec![(String::new(), "urn:r".to_string())]);
        assert_eq!(captured.nodes.len(), 5);
        for capacity in [1, 2, 3, 5, 7] {
            let (split, _) = canonical(BufReader::with_capacity(capacity, DOC.as_bytes()), false);
            assert_eq!(split, whole, "buffer of {capacity} bytes");
        }
    }

    #[test]
    fn hostile_input_is_refused() {
        let limits = Limits {
            max_depth: 8,
            ..Limits::default()
        };
        let run = |doc: &[u8]| {
            scan(
                doc,
                Scan {
                    limits: &limits,
                    context: Context::default(),
                    canonical: None,
                    capture_signature: true,
                },
            )
        };
        assert!(matches!(run(b"<a>&ext;</a>"), Err(EdxmlError::UnknownEntity(_))));
        assert!(matches!(run(b"<!DOCTYPE a><a/>"), Err(EdxmlError::Doctype)));
        assert!(matches!(run(&b"<a>".repeat(20)), Err(EdxmlError::TooDeep(8))));
        assert!(matches!(run(b"<a>\xff</a>"), Err(EdxmlError::InvalidUtf8(_))));
        assert!(matches!(run(b"<a>\xe1\xbb</a>"), Err(EdxmlError::InvalidUtf8(_))));
        assert!(matches!(run(b"<a>&#0;</a>"), Err(EdxmlError::Xml { .. })));
        assert!(matches!(run(b"<a><b></a>"), Err(EdxmlError::Xml { .. })));
        assert!(matches!(run(b"<a>"), Err(EdxmlError::Truncated)));
        assert!(matches!(run(b"<a/><b/>"), Err(EdxmlError::Xml { .. })));
        let mut long = b"<a b=\"".to_vec();
        long.extend(std::iter::repeat_n(b'x', 2 << 20));
        long.extend_from_slice(b"\"/>");
        assert!(matches!(run(&long), Err(EdxmlError::TextTooLong { .. })));
    }
}
