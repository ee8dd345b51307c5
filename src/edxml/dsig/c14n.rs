//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0, as an event sink.
//!
//! The caller (the streaming [`scan`](super::scan) driver, or a replay of a captured subtree)
//! feeds elements, character data (already decoded: references expanded, line ends
//! normalised, attribute values normalised), comments and processing instructions; the
//! canonical bytes go to a writer as they are produced, so a whole packet is never held.
//!
//! Covered: namespace declarations rendered only where they change what the nearest output
//! ancestor rendered (inclusive) or where visibly used (exclusive, with an
//! `InclusiveNamespaces` prefix list), `xmlns=""` when the default namespace is undone,
//! namespace nodes before attributes, attributes sorted by (namespace URI, local name), the
//! text and attribute escaping rules, empty elements as start-end pairs, comments kept only
//! in the `WithComments` variants, PIs and comments outside the document element on their own
//! lines, and (inclusive, document subset) the `xml:*` attributes a subtree's apex inherits.

use std::io::{self, Write};

/// The `xml` prefix's namespace (always in scope, never declared in the output).
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Which canonicalization to apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mode {
    pub exclusive: bool,
    pub comments: bool,
    /// Exclusive only: prefixes treated as in inclusive canonicalization (`#default` = "").
    pub inclusive_prefixes: Vec<String>,
}

/// What is in scope at the parent of the first element fed: namespace bindings
/// (prefix → URI; "" is the default namespace) and inherited `xml:*` attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Context {
    pub ns: Vec<(String, String)>,
    pub xml_attrs: Vec<(String, String)>,
}

impl Context {
    pub fn lookup(&self, prefix: &str) -> Option<&str> {
        lookup(&self.ns, prefix)
    }

    /// The context inside an element with these attributes.
    pub fn enter(&self, attrs: &[(String, String)]) -> Context {
        let mut next = self.clone();
        for (name, value) in attrs {
            if let Some(prefix) = ns_decl_prefix(name) {
                if prefix != "xml" {
                    set(&mut next.ns, prefix, value);
                }
            } else if let Some(local) = name.strip_prefix("xml:") {
                set(&mut next.xml_attrs, local, value);
            }
        }
        next
    }
}

fn lookup<'a>(map: &'a [(String, String)], key: &str) -> Option<&'a str> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn set(map: &mut Vec<(String, String)>, key: &str, value: &str) {
    match map.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value.to_string(),
        None => map.push((key.to_string(), value.to_string())),
    }
}

/// `xmlns` → Some(""), `xmlns:p` → Some("p"), anything else → None.
pub(crate) fn ns_decl_prefix(name: &str) -> Option<&str> {
    if name == "xmlns" {
        Some("")
    } else {
        name.strip_prefix("xmlns:")
    }
}

/// `p:local` → ("p", "local"); `local` → ("", "local").
pub(crate) fn split_qname(qname: &str) -> (&str, &str) {
    match qname.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", qname),
    }
}

struct Frame {
    /// In-scope namespace bindings of this element.
    ns: Vec<(String, String)>,
    /// What the output has declared at this element (for the next output descendant).
    rendered: Vec<(String, String)>,
}

pub(crate) struct Canonicalizer<W: Write> {
    out: W,
    mode: Mode,
    base: Context,
    stack: Vec<Frame>,
    /// Document mode: comments and PIs outside the document element get line breaks.
    document: bool,
    root_done: bool,
}

impl<W: Write> Canonicalizer<W> {
    /// Canonicalizes a whole document (fed from its start).
    pub fn document(out: W, mode: Mode) -> Self {
        Self::new(out, mode, Context::default(), true)
    }

    /// Canonicalizes one subtree (a document subset) whose parent's context is `base`.
    pub fn subtree(out: W, mode: Mode, base: Context) -> Self {
        Self::new(out, mode, base, false)
    }

    fn new(out: W, mode: Mode, base: Context, document: bool) -> Self {
        Self {
            out,
            mode,
            base,
            stack: Vec::new(),
            document,
            root_done: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn parent_ns(&self) -> &[(String, String)] {
        self.stack.last().map_or(&self.base.ns, |f| &f.ns)
    }

    fn parent_rendered(&self) -> &[(String, String)] {
        self.stack.last().map_or(&[][..], |f| &f.rendered)
    }

    /// An element start; `attrs` holds every attribute as written (namespace declarations
    /// included) with its normalised value.
    pub fn start(&mut self, qname: &str, attrs: &[(String, String)]) -> io::Result<()> {
        let mut ns = self.parent_ns().to_vec();
        for (name, value) in attrs {
            if let Some(prefix) = ns_decl_prefix(name) {
                if prefix != "xml" {
                    set(&mut ns, prefix, value);
                }
            }
        }
        let rendered_above = self.parent_rendered();
        let default_above = lookup(rendered_above, "").unwrap_or("");
        let mut decls: Vec<(String, String)> = Vec::new();
        let (element_prefix, _) = split_qname(qname);
        if self.mode.exclusive {
            let mut used: Vec<&str> = vec![element_prefix];
            for (name, _) in attrs {
                if ns_decl_prefix(name).is_some() {
                    continue;
                }
                let (p, _) = split_qname(name);
                if !p.is_empty() && p != "xml" {
                    used.push(p);
                }
            }
            for p in &self.mode.inclusive_prefixes {
                used.push(if p == "#default" { "" } else { p.as_str() });
            }
            used.sort_unstable();
            used.dedup();
            for p in used {
                let uri = lookup(&ns, p).unwrap_or("");
                if p.is_empty() {
                    if uri != default_above {
                        decls.push((String::new(), uri.to_string()));
                    }
                } else if !uri.is_empty() && lookup(rendered_above, p) != Some(uri) {
                    decls.push((p.to_string(), uri.to_string()));
                }
            }
        } else {
            let default_here = lookup(&ns, "").unwrap_or("");
            if default_here != default_above {
                decls.push((String::new(), default_here.to_string()));
            }
            for (p, uri) in &ns {
                if !p.is_empty() && !uri.is_empty() && lookup(rendered_above, p) != Some(uri.as_str()) {
                    decls.push((p.clone(), uri.clone()));
                }
            }
        }
        decls.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rendered = rendered_above.to_vec();
        for (p, uri) in &decls {
            set(&mut rendered, p, uri);
        }

        // Attributes: (namespace URI, local name) order; unqualified ones have no URI.
        let mut plain: Vec<(String, &str, &str, &str)> = Vec::new();
        for (name, value) in attrs {
            if ns_decl_prefix(name).is_some() {
                continue;
            }
            let (p, local) = split_qname(name);
            let uri = match p {
                "" => String::new(),
                "xml" => XML_NS.to_string(),
                p => lookup(&ns, p).unwrap_or(p).to_string(),
            };
            plain.push((uri, local, name.as_str(), value.as_str()));
        }
        let inherited: Vec<(String, String)> = if !self.document && !self.mode.exclusive && self.stack.is_empty() {
            self.base
                .xml_attrs
                .iter()
                .filter(|(local, _)| !plain.iter().any(|(u, l, _, _)| u == XML_NS && l == local))
                .map(|(local, value)| (format!("xml:{local}"), value.clone()))
                .collect()
        } else {
            Vec::new()
        };
        for (name, value) in &inherited {
            plain.push((XML_NS.to_string(), &name[4..], name.as_str(), value.as_str()));
        }
        plain.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));

        let out = &mut self.out;
        out.write_all(b"<")?;
        out.write_all(qname.as_bytes())?;
        for (p, uri) in &decls {
            if p.is_empty() {
                out.write_all(b" xmlns=\"")?;
            } else {
                out.write_all(b" xmlns:")?;
                out.write_all(p.as_bytes())?;
                out.write_all(b"=\"")?;
            }
            escape_attr(out, uri)?;
            out.write_all(b"\"")?;
        }
        for (_, _, name, value) in &plain {
            out.write_all(b" ")?;
            out.write_all(name.as_bytes())?;
            out.write_all(b"=\"")?;
            escape_attr(out, value)?;
            out.write_all(b"\"")?;
        }
        out.write_all(b">")?;
        self.stack.push(Frame { ns, rendered });
        Ok(())
    }

    pub fn end(&mut self, qname: &str) -> io::Result<()> {
        self.stack.pop();
        self.out.write_all(b"</")?;
        self.out.write_all(qname.as_bytes())?;
        self.out.write_all(b">")?;
        if self.stack.is_empty() {
            self.root_done = true;
        }
        Ok(())
    }

    /// Character data. Outside the document element it is dropped (it can only be white space).
    pub fn text(&mut self, text: &str) -> io::Result<()> {
        if self.stack.is_empty() {
            return Ok(());
        }
        escape_text(&mut self.out, text)
    }

    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        if !self.mode.comments {
            return Ok(());
        }
        self.outside_before()?;
        self.out.write_all(b"<!--")?;
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"-->")?;
        self.outside_after()
    }

    pub fn pi(&mut self, target: &str, data: &str) -> io::Result<()> {
        self.outside_before()?;
        self.out.write_all(b"<?")?;
        self.out.write_all(target.as_bytes())?;
        if !data.is_empty() {
            self.out.write_all(b" ")?;
            self.out.write_all(data.as_bytes())?;
        }
        self.out.write_all(b"?>")?;
        self.outside_after()
    }

    fn outside_before(&mut self) -> io::Result<()> {
        if self.document && self.stack.is_empty() && self.root_done {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn outside_after(&mut self) -> io::Result<()> {
        if self.document && self.stack.is_empty() && !self.root_done {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// Text nodes: `&`, `<`, `>` and CR are escaped.
pub(crate) fn escape_text<W: Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.write_all(&bytes[from..i])?;
        out.write_all(rep)?;
        from = i + 1;
    }
    out.write_all(&bytes[from..])
}

/// Attribute values: `&`, `<`, `"`, TAB, LF and CR are escaped.
pub(crate) fn escape_attr<W: Write + ?Sized>(out: &mut W, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            _ => continue,
        };
        out.write_all(&bytes[from..i])?;
        out.write_all(rep)?;
        from = i + 1;
    }
    out.write_all(&bytes[from..])
}
