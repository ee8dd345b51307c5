//! The PDF side of a signature: an incremental update that adds a signature field (merged with
//! its widget, invisible, on page 1) and a signature dictionary whose `/ByteRange` and
//! `/Contents` are fixed-width placeholders; then the real byte range and the CMS are patched
//! into the serialized bytes without changing their length.
//!
//! Invariants of the result: `ByteRange = [0 a b c]` where `a` is the offset of `<` of this
//! signature's `/Contents`, `b` the offset just after its `>`, and `b + c` the file length.

use lopdf::{Dictionary, Document, IncrementalDocument, LoadOptions, Object, ObjectId, StringFormat};
use ring::digest::{Context, SHA256};

use super::{PadesError, PadesResult, SignOptions};

/// Placeholder for each unknown ByteRange number: wide enough for any file up to 10 GB.
const BYTE_RANGE_PLACEHOLDER: i64 = 9_999_999_999;
const BYTE_RANGE_MARK: &[u8] = b"9999999999 9999999999 9999999999";
/// Field flags of the widget: Print (4) + Locked (128).
const WIDGET_FLAGS: i64 = 132;
/// AcroForm SigFlags: SignaturesExist (1) + AppendOnly (2).
const SIG_FLAGS: i64 = 3;

/// A serialized update with its placeholders located.
pub(crate) struct Prepared {
    bytes: Vec<u8>,
    /// Offset of `<` of `/Contents`.
    gap_start: usize,
    /// Offset just after `>`.
    gap_end: usize,
}

fn pdf_err(e: lopdf::Error) -> PadesError {
    PadesError::Pdf(e.to_string())
}

/// A PDF text string: ASCII as a literal, anything else as UTF-16BE with a byte-order mark.
fn text_string(s: &str) -> Object {
    if s.is_ascii() {
        Object::String(s.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// `D:YYYYMMDDHHmmSS+07'00'`.
fn pdf_date(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let offset = t.offset().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    format!(
        "D:{}{}{:02}'{:02}'",
        t.format("%Y%m%d%H%M%S"),
        sign,
        offset / 3600,
        (offset % 3600) / 60
    )
}

fn field_names(doc: &Document, fields: &[Object]) -> Vec<Vec<u8>> {
    fields
        .iter()
        .filter_map(|f| doc.dereference(f).ok())
        .filter_map(|(_, o)| o.as_dict().ok())
        .filter_map(|d| d.get(b"T").ok()?.as_str().ok().map(<[u8]>::to_vec))
        .collect()
}

/// Load filter: the update never needs stream data (only dictionaries), so it is not kept.
/// Object and cross-reference streams stay whole: the objects inside them are read from them.
fn drop_stream_data(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = obj {
        let kind = stream.dict.get(b"Type").and_then(Object::as_name).ok();
        if !matches!(kind, Some(b"ObjStm") | Some(b"XRef")) {
            stream.content = Vec::new();
        }
    }
    // lopdf keeps `obj` for top-level objects and the returned copy for objects inside object
    // streams; with stream data gone, the copy is small.
    Some((id, obj.clone()))
}

/// What the new field's value dictionary is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DictKind {
    /// `/Type /Sig`, `ETSI.CAdES.detached`, with `/M` (and `/Reason`, `/Location`).
    Signature,
    /// `/Type /DocTimeStamp`, `ETSI.RFC3161`: the Contents is a time-stamp token (PAdES B-LTA).
    DocTimeStamp,
}

pub(crate) fn prepare(pdf: Vec<u8>, opts: &SignOptions) -> PadesResult<Prepared> {
    prepare_kind(pdf, opts, DictKind::Signature)
}

/// [`drop_stream_data`], but keeping small form XObjects: placing a seal reads the leader's
/// appearance stream to find its image.
fn drop_stream_data_but_forms(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    if let Object::Stream(stream) = obj {
        let form = stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form");
        if form && stream.content.len() <= super::appearance::MAX_FORM_BYTES {
            return Some((id, obj.clone()));
        }
    }
    drop_stream_data(id, obj)
}

pub(crate) fn prepare_kind(pdf: Vec<u8>, opts: &SignOptions, kind: DictKind) -> PadesResult<Prepared> {
    let reads_forms = opts.appearance.as_ref().is_some_and(|a| a.reads_earlier_appearances());
    let options = LoadOptions {
        filter: Some(if reads_forms {
            drop_stream_data_but_forms
        } else {
            drop_stream_data
        }),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(&pdf, options).map_err(pdf_err)?;
    if doc.is_encrypted() || doc.trailer.has(b"Encrypt") {
        return Err(PadesError::Encrypted);
    }
    if doc.xref_start == 0 {
        return Err(PadesError::Damaged);
    }
    let mut page_id = *doc.get_pages().values().next().ok_or(PadesError::NoPages)?;
    let catalog_id = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| PadesError::Pdf("the trailer has no /Root reference".into()))?;
    let catalog = doc.get_dictionary(catalog_id).map_err(pdf_err)?.clone();

    // The AcroForm: indirect (edited in place), inline (moved to an object of its own) or new.
    let (acro_id, mut acro) = match catalog.get(b"AcroForm") {
        Ok(Object::Reference(id)) => (Some(*id), doc.get_dictionary(*id).map_err(pdf_err)?.clone()),
        Ok(Object::Dictionary(d)) => (None, d.clone()),
        _ => (None, Dictionary::new()),
    };
    let (fields_id, mut fields) = match acro.get(b"Fields") {
        Ok(Object::Reference(id)) => (
            Some(*id),
            doc.get_object(*id).and_then(Object::as_array).map_err(pdf_err)?.clone(),
        ),
        Ok(Object::Array(a)) => (None, a.clone()),
        _ => (None, Vec::new()),
    };
    if kind == DictKind::Signature {
        check_certification(&doc, opts)?;
    }
    let taken = field_names(&doc, &fields);
    // A pre-created, still empty signature field of that name is signed in place (a document
    // certified with P=2 allows signing existing fields but not creating new ones).
    let empty_field = match &opts.field_name {
        Some(n) if taken.iter().any(|t| t == n.as_bytes()) => Some(empty_signature_field(&doc, &fields, n)?),
        _ => None,
    };
    // An appearance on a pre-created field is drawn into that field's own rectangle: its
    // /Rect and page are part of the certified revision and must not move.
    let appearance = match (&opts.appearance, &empty_field) {
        (Some(a), Some((field_id, field))) => {
            if a.rect.is_some() || a.page.is_some() {
                return Err(PadesError::Appearance(
                    "a pre-created field has its own page and rectangle; leave out --page and --rect".into(),
                ));
            }
            let (page, rect) = super::appearance::field_placement(&doc, *field_id, field).ok_or_else(|| {
                PadesError::Appearance(
                    "the pre-created field is invisible (no page or an empty rectangle); sign it without --appearance"
                        .into(),
                )
            })?;
            Some(super::appearance::Appearance {
                page: Some(page),
                rect: Some(rect),
                ..a.clone()
            })
        }
        (a, _) => a.clone(),
    };
    let placed = match &appearance {
        Some(a) => Some(super::appearance::place(&doc, a, &opts.signing_time)?),
        None => None,
    };
    if let Some(p) = &placed {
        page_id = p.page_id;
    }
    if empty_field.is_none() && placed.is_some() && kind == DictKind::Signature {
        if let Some(cert) = super::verify::docmdp_of(&doc) {
            return Err(PadesError::Certification(format!(
                "the document is certified (P={}): a new visible signature field would be a modification; sign a pre-created field or sign invisibly",
                cert.raw
            )));
        }
    }
    let name = match &opts.field_name {
        Some(n) => n.clone(),
        None => (1..)
            .map(|i| format!("Signature{i}"))
            .find(|n| !taken.iter().any(|t| t == n.as_bytes()))
            .unwrap_or_else(|| "Signature".into()),
    };
    let mut page = doc.get_dictionary(page_id).map_err(pdf_err)?.clone();
    let (annots_id, mut annots) = match page.get(b"Annots") {
        Ok(Object::Reference(id)) => (
            Some(*id),
            doc.get_object(*id).and_then(Object::as_array).map_err(pdf_err)?.clone(),
        ),
        Ok(Object::Array(a)) => (None, a.clone()),
        _ => (None, Vec::new()),
    };
    let perms = match (opts.certify, catalog.get(b"Perms")) {
        (None, _) => None,
        (Some(_), Ok(Object::Reference(id))) => Some((Some(*id), doc.get_dictionary(*id).map_err(pdf_err)?.clone())),
        (Some(_), Ok(Object::Dictionary(d))) => Some((None, d.clone())),
        (Some(_), _) => Some((None, Dictionary::new())),
    };

    let prev_len = pdf.len();
    let mut inc = IncrementalDocument::create_from(pdf, doc);
    let new = &mut inc.new_document;

    let mut sig = Dictionary::new();
    let (type_name, sub_filter): (&[u8], &[u8]) = match kind {
        DictKind::Signature => (b"Sig", b"ETSI.CAdES.detached"),
        DictKind::DocTimeStamp => (b"DocTimeStamp", b"ETSI.RFC3161"),
    };
    sig.set("Type", Object::Name(type_name.to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(sub_filter.to_vec()));
    sig.set(
        "ByteRange",
        Object::Array(vec![
            Object::Integer(0),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
            Object::Integer(BYTE_RANGE_PLACEHOLDER),
        ]),
    );
    sig.set(
        "Contents",
        Object::String(vec![0; opts.contents_size], StringFormat::Hexadecimal),
    );
    if kind == DictKind::Signature {
        sig.set(
            "M",
            Object::String(pdf_date(&opts.signing_time).into_bytes(), StringFormat::Literal),
        );
        if let Some(reason) = &opts.reason {
            sig.set("Reason", text_string(reason));
        }
        if let Some(location) = &opts.location {
            sig.set("Location", text_string(location));
        }
        if let Some(perm) = opts.certify {
            sig.set(
                "Reference",
                Object::Array(vec![Object::Dictionary(docmdp_reference(perm))]),
            );
        }
    }
    let sig_id = new.add_object(sig);

    if let Some((field_id, mut field)) = empty_field {
        field.set("V", Object::Reference(sig_id));
        if let Some(p) = &placed {
            let form = p.write(new)?;
            field.set("AP", lopdf::dictionary! { "N" => form });
        }
        new.set_object(field_id, field);
    } else {
        let mut widget = Dictionary::new();
        widget.set("Type", Object::Name(b"Annot".to_vec()));
        widget.set("Subtype", Object::Name(b"Widget".to_vec()));
        widget.set("FT", Object::Name(b"Sig".to_vec()));
        widget.set("T", text_string(&name));
        widget.set("V", Object::Reference(sig_id));
        match &placed {
            Some(p) => {
                widget.set("Rect", p.rect_object());
                let form = p.write(new)?;
                widget.set("AP", lopdf::dictionary! { "N" => form });
            }
            None => widget.set("Rect", Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()])),
        }
        widget.set("F", Object::Integer(WIDGET_FLAGS));
        widget.set("P", Object::Reference(page_id));
        let widget_id = new.add_object(widget);

        annots.push(Object::Reference(widget_id));
        set_array(new, &mut page, b"Annots", annots_id, annots);
        new.set_object(page_id, page);

        fields.push(Object::Reference(widget_id));
        set_array(new, &mut acro, b"Fields", fields_id, fields);
    }
    acro.set("SigFlags", Object::Integer(SIG_FLAGS));
    let mut catalog = catalog;
    let mut catalog_changed = false;
    match acro_id {
        Some(id) => new.set_object(id, acro),
        None => {
            let id = new.add_object(acro);
            catalog.set("AcroForm", Object::Reference(id));
            catalog_changed = true;
        }
    }
    // Certification: the catalog's /Perms /DocMDP names this signature dictionary.
    if let Some((perms_id, mut perms)) = perms {
        perms.set("DocMDP", Object::Reference(sig_id));
        match perms_id {
            Some(id) => new.set_object(id, perms),
            None => {
                catalog.set("Perms", Object::Dictionary(perms));
                catalog_changed = true;
            }
        }
    }
    if catalog_changed {
        new.set_object(catalog_id, catalog);
    }

    let mut bytes = Vec::with_capacity(prev_len + 2 * opts.contents_size + 8192);
    inc.save_to(&mut bytes)
        .map_err(|e| PadesError::Pdf(format!("writing the update failed: {e}")))?;
    drop(inc);
    locate(bytes, prev_len, opts.contents_size)
}

/// `<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P n /V /1.2 >> >>`.
fn docmdp_reference(perm: super::MdpPerm) -> Dictionary {
    let mut params = Dictionary::new();
    params.set("Type", Object::Name(b"TransformParams".to_vec()));
    params.set("P", Object::Integer(i64::from(perm.level())));
    params.set("V", Object::Name(b"1.2".to_vec()));
    let mut reference = Dictionary::new();
    reference.set("Type", Object::Name(b"SigRef".to_vec()));
    reference.set("TransformMethod", Object::Name(b"DocMDP".to_vec()));
    reference.set("TransformParams", Object::Dictionary(params));
    reference
}

/// Refuses to certify a signed document and to sign one certified with P=1.
fn check_certification(doc: &Document, opts: &SignOptions) -> PadesResult<()> {
    if let Some(cert) = super::verify::docmdp_of(doc) {
        if cert.perm == Some(super::MdpPerm::NoChanges) {
            return Err(PadesError::Certification(
                "the document is certified with P=1 (no changes allowed); it cannot be signed again".into(),
            ));
        }
    }
    if opts.certify.is_some() && !super::verify::signature_dictionaries(doc).is_empty() {
        return Err(PadesError::Certification(
            "the document is already signed; only its first signature may certify it".into(),
        ));
    }
    Ok(())
}

/// The top-level field named `name`, which must be an unsigned signature field held in its own
/// object: (its id, a copy of its dictionary).
fn empty_signature_field(doc: &Document, fields: &[Object], name: &str) -> PadesResult<(ObjectId, Dictionary)> {
    let taken = || PadesError::Pdf(format!("a field named \"{name}\" already exists"));
    for f in fields {
        let Ok(id) = f.as_reference() else { continue };
        let Ok(field) = doc.get_dictionary(id) else { continue };
        let named = field.get(b"T").and_then(Object::as_str).ok() == Some(name.as_bytes());
        if !named {
            continue;
        }
        let is_sig = field.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig".as_slice());
        if !is_sig || field.has(b"V") {
            return Err(taken());
        }
        return Ok((id, field.clone()));
    }
    Err(taken())
}

/// Puts `items` back where the array lived: its own object when it had one, else inline.
fn set_array(new: &mut Document, owner: &mut Dictionary, key: &[u8], id: Option<ObjectId>, items: Vec<Object>) {
    match id {
        Some(id) => new.set_object(id, Object::Array(items)),
        None => owner.set(key.to_vec(), Object::Array(items)),
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Finds the placeholders in the appended update and writes the real byte range.
fn locate(mut bytes: Vec<u8>, update_start: usize, reserved: usize) -> PadesResult<Prepared> {
    let missing = || PadesError::Pdf("the signature placeholders were not found in the update".into());
    let mut hole = Vec::with_capacity(2 * reserved + 2);
    hole.push(b'<');
    hole.resize(2 * reserved + 1, b'0');
    hole.push(b'>');
    let gap_start = find(&bytes, &hole, update_start).ok_or_else(missing)?;
    let gap_end = gap_start + hole.len();

    let mark = find(&bytes, BYTE_RANGE_MARK, update_start).ok_or_else(missing)?;
    let open = bytes[..mark].iter().rposition(|&b| b == b'[').ok_or_else(missing)?;
    let close = find(&bytes, b"]", mark).ok_or_else(missing)?;
    let width = close - open - 1;
    let range = format!("0 {} {} {}", gap_start, gap_end, bytes.len() - gap_end);
    if range.len() > width {
        return Err(PadesError::Pdf(
            "the file is too large for the byte range placeholder".into(),
        ));
    }
    let padded = format!("{range:<width$}");
    bytes[open + 1..close].copy_from_slice(padded.as_bytes());
    Ok(Prepared {
        bytes,
        gap_start,
        gap_end,
    })
}

impl Prepared {
    /// A prepared file kept between the two steps of external signing. The offsets must point
    /// at an unfilled `/Contents` hole (`<` + zeros + `>`).
    pub(crate) fn from_parts(bytes: Vec<u8>, gap_start: usize, gap_end: usize) -> PadesResult<Self> {
        let hole = gap_start
            .checked_add(2)
            .filter(|&min| min < gap_end && gap_end <= bytes.len())
            .map(|_| &bytes[gap_start..gap_end]);
        let unfilled = hole.is_some_and(|h| {
            h[0] == b'<' && h[h.len() - 1] == b'>' && h.len() % 2 == 0 && h[1..h.len() - 1].iter().all(|&b| b == b'0')
        });
        if !unfilled {
            return Err(PadesError::External(
                "the prepared file has no unfilled signature hole where the handle says".into(),
            ));
        }
        Ok(Self {
            bytes,
            gap_start,
            gap_end,
        })
    }

    /// Offsets of `<` and just after `>` of the `/Contents` hole.
    pub(crate) fn gap(&self) -> (usize, usize) {
        (self.gap_start, self.gap_end)
    }

    /// SHA-256 over the byte range: everything but this signature's `<…>`.
    pub(crate) fn digest(&self) -> Vec<u8> {
        let mut ctx = Context::new(&SHA256);
        ctx.update(&self.bytes[..self.gap_start]);
        ctx.update(&self.bytes[self.gap_end..]);
        ctx.finish().as_ref().to_vec()
    }

    /// Writes the CMS as hex into the hole; the rest stays zero padding.
    pub(crate) fn embed(&mut self, cms: &[u8]) -> PadesResult<()> {
        let reserved = (self.gap_end - self.gap_start - 2) / 2;
        if cms.len() > reserved {
            return Err(PadesError::ContentsTooSmall {
                needed: cms.len(),
                reserved,
            });
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let out = &mut self.bytes[self.gap_start + 1..];
        for (i, b) in cms.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 0xF) as usize];
        }
        Ok(())
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdf_dates_carry_the_offset() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:05:07+07:00").expect("date");
        assert_eq!(pdf_date(&t), "D:20261201090507+07'00'");
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:05:07-03:30").expect("date");
        assert_eq!(pdf_date(&t), "D:20261201090507-03'30'");
    }

    #[test]
    fn vietnamese_text_strings_are_utf16_with_bom() {
        assert_eq!(text_string("ok"), Object::String(b"ok".to_vec(), StringFormat::Literal));
        let Object::String(bytes, StringFormat::Hexadecimal) = text_string("Đ") else {
            panic!("expected a hex string")
        };
        assert_eq!(bytes, vec![0xFE, 0xFF, 0x01, 0x10]);
    }
}
