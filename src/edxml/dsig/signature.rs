//! The `Signature` element: reading a captured one into its parts, canonicalizing its
//! `SignedInfo`, and writing one.

use super::algorithms as alg;
use super::c14n::{split_qname, Canonicalizer, Context, Mode};
use super::scan::{Captured, Node};
use crate::edxml::EdxmlError;

/// One element of the captured subtree.
#[derive(Debug)]
struct Element {
    qname: String,
    attrs: Vec<(String, String)>,
    children: Vec<usize>,
    /// The element's own character data, concatenated.
    text: String,
    /// Index of its start node and of its end node in the captured nodes.
    first: usize,
    last: usize,
}

impl Element {
    fn local(&self) -> &str {
        split_qname(&self.qname).1
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

struct Tree {
    elements: Vec<Element>,
}

impl Tree {
    fn from_nodes(nodes: &[Node]) -> Tree {
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            match node {
                Node::Start { qname, attrs } => {
                    let id = elements.len();
                    if let Some(&parent) = open.last() {
                        elements[parent].children.push(id);
                    }
                    elements.push(Element {
                        qname: qname.clone(),
                        attrs: attrs.clone(),
                        children: Vec::new(),
                        text: String::new(),
                        first: i,
                        last: i,
                    });
                    open.push(id);
                }
                Node::End { .. } => {
                    if let Some(id) = open.pop() {
                        elements[id].last = i;
                    }
                }
                Node::Text(t) => {
                    if let Some(&id) = open.last() {
                        elements[id].text.push_str(t);
                    }
                }
                Node::Comment(_) | Node::Pi { .. } => {}
            }
        }
        Tree { elements }
    }

    fn children<'a>(&'a self, id: usize, local: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.elements[id]
            .children
            .iter()
            .copied()
            .filter(move |&c| self.elements[c].local() == local)
    }

    fn child(&self, id: usize, local: &str) -> Option<usize> {
        self.children(id, local).next()
    }

    fn el(&self, id: usize) -> &Element {
        &self.elements[id]
    }
}

/// `Reference` as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reference {
    pub uri: Option<String>,
    /// (Algorithm, InclusiveNamespaces prefix list) per `Transform`.
    pub transforms: Vec<(String, Vec<String>)>,
    pub digest_method: Option<String>,
    pub digest_value: Option<String>,
}

/// What a signature says, before any check.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parts {
    /// Captured-node range of `SignedInfo`.
    signed_info: (usize, usize),
    /// Context at `SignedInfo`'s parent (the `Signature` element).
    context: Context,
    pub c14n: Option<String>,
    pub c14n_prefixes: Vec<String>,
    pub signature_method: Option<String>,
    pub references: Vec<Reference>,
    pub signature_value: Option<String>,
    pub key_info: bool,
    /// Base64 text of every `KeyInfo/X509Data/X509Certificate`, in order.
    pub certificates: Vec<String>,
}

fn prefix_list(tree: &Tree, id: usize) -> Vec<String> {
    tree.child(id, "InclusiveNamespaces")
        .and_then(|n| tree.el(n).attr("PrefixList"))
        .map(|l| l.split_ascii_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Reads the parts of a captured signature; `Err` names what is structurally missing.
pub(crate) fn parts(captured: &Captured) -> Result<Parts, String> {
    let tree = Tree::from_nodes(&captured.nodes);
    if tree.elements.is_empty() {
        return Err("the Signature element is empty".into());
    }
    let sig = 0;
    let si = tree.child(sig, "SignedInfo").ok_or("the Signature has no SignedInfo")?;
    let mut p = Parts {
        signed_info: (tree.el(si).first, tree.el(si).last),
        context: captured.context.enter(&tree.el(sig).attrs),
        ..Parts::default()
    };
    if let Some(cm) = tree.child(si, "CanonicalizationMethod") {
        p.c14n = tree.el(cm).attr("Algorithm").map(str::to_string);
        p.c14n_prefixes = prefix_list(&tree, cm);
    }
    p.signature_method = tree
        .child(si, "SignatureMethod")
        .and_then(|m| tree.el(m).attr("Algorithm"))
        .map(str::to_string);
    for r in tree.children(si, "Reference") {
        let mut reference = Reference {
            uri: tree.el(r).attr("URI").map(str::to_string),
            ..Reference::default()
        };
        if let Some(ts) = tree.child(r, "Transforms") {
            for t in tree.children(ts, "Transform") {
                let algorithm = tree.el(t).attr("Algorithm").unwrap_or_default().to_string();
                reference.transforms.push((algorithm, prefix_list(&tree, t)));
            }
        }
        reference.digest_method = tree
            .child(r, "DigestMethod")
            .and_then(|m| tree.el(m).attr("Algorithm"))
            .map(str::to_string);
        reference.digest_value = tree.child(r, "DigestValue").map(|v| tree.el(v).text.clone());
        p.references.push(reference);
    }
    p.signature_value = tree.child(sig, "SignatureValue").map(|v| tree.el(v).text.clone());
    if let Some(ki) = tree.child(sig, "KeyInfo") {
        p.key_info = true;
        for xd in tree.children(ki, "X509Data") {
            for c in tree.children(xd, "X509Certificate") {
                p.certificates.push(tree.el(c).text.clone());
            }
        }
    }
    Ok(p)
}

/// The canonical bytes of `SignedInfo`, which the signature value covers.
pub(crate) fn canonical_signed_info(captured: &Captured, parts: &Parts, mode: Mode) -> Result<Vec<u8>, EdxmlError> {
    let mut c = Canonicalizer::subtree(Vec::new(), mode, parts.context.clone());
    let (first, last) = parts.signed_info;
    for node in captured.nodes.get(first..=last).unwrap_or_default() {
        match node {
            Node::Start { qname, attrs } => c.start(qname, attrs)?,
            Node::End { qname } => c.end(qname)?,
            Node::Text(t) => c.text(t)?,
            Node::Comment(t) => c.comment(t)?,
            Node::Pi { target, data } => c.pi(target, data)?,
        }
    }
    Ok(c.into_inner())
}

/// The canonicalization an algorithm URI names, if supported.
pub(crate) fn mode_for(uri: &str, prefixes: &[String]) -> Option<Mode> {
    let (exclusive, comments) = match uri {
        alg::C14N => (false, false),
        alg::C14N_COMMENTS => (false, true),
        alg::EXC_C14N => (true, false),
        alg::EXC_C14N_COMMENTS => (true, true),
        _ => return None,
    };
    Some(Mode {
        exclusive,
        comments,
        inclusive_prefixes: if exclusive { prefixes.to_vec() } else { Vec::new() },
    })
}

/// Indentation of the `Signature` element in a built packet (depth 3, two spaces a level, as
/// the builder writes); its content is indented from there.
const BASE: usize = 3;

/// Lines joined by LF, each indented `2 × (BASE + level)` spaces except the first (the builder
/// indents that one).
fn lines(items: &[(usize, String)]) -> String {
    let mut s = String::new();
    for (i, (level, line)) in items.iter().enumerate() {
        if i > 0 {
            s.push('\n');
            s.push_str(&" ".repeat(2 * (BASE + level)));
        }
        s.push_str(line);
    }
    s
}

/// The `SignedInfo` this signer writes: one reference to the whole document (`URI=""`), the
/// enveloped-signature transform then the canonicalization named.
pub(crate) fn signed_info_xml(c14n: &str, signature_method: &str, digest_b64: &str) -> String {
    lines(&[
        (1, "<SignedInfo>".into()),
        (2, format!("<CanonicalizationMethod Algorithm=\"{c14n}\"/>")),
        (2, format!("<SignatureMethod Algorithm=\"{signature_method}\"/>")),
        (2, "<Reference URI=\"\">".into()),
        (3, "<Transforms>".into()),
        (4, format!("<Transform Algorithm=\"{}\"/>", alg::ENVELOPED)),
        (4, format!("<Transform Algorithm=\"{c14n}\"/>")),
        (3, "</Transforms>".into()),
        (3, format!("<DigestMethod Algorithm=\"{}\"/>", alg::SHA256)),
        (3, format!("<DigestValue>{digest_b64}</DigestValue>")),
        (2, "</Reference>".into()),
        (1, "</SignedInfo>".into()),
    ])
}

/// The opening tag of the signatures this signer writes (the xmldsig namespace as default).
pub(crate) const SIGNATURE_OPEN: &str = "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">";

/// A `Signature` element around `signed_info` (as [`signed_info_xml`] wrote it); without a
/// value and key info it is the fragment whose `SignedInfo` is canonicalized for signing.
pub(crate) fn signature_xml(signed_info: &str, value: Option<(&str, &[String])>) -> String {
    let mut items = vec![(0, SIGNATURE_OPEN.to_string()), (1, signed_info.to_string())];
    if let Some((signature_b64, certificates_b64)) = value {
        items.push((1, format!("<SignatureValue>{signature_b64}</SignatureValue>")));
        items.push((1, "<KeyInfo>".into()));
        items.push((2, "<X509Data>".into()));
        for c in certificates_b64 {
            items.push((3, format!("<X509Certificate>{c}</X509Certificate>")));
        }
        items.push((2, "</X509Data>".into()));
        items.push((1, "</KeyInfo>".into()));
    }
    items.push((0, "</Signature>".into()));
    lines(&items)
}
