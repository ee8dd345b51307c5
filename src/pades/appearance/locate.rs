//! Reading an existing document for placement: page boxes, and the leader's visible signature
//! (the last signed signature field with a non-empty rectangle) with the rectangle its image
//! occupies on the page, found from the widget's appearance stream.

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

use super::Rect;

/// A4 portrait, for pages without a readable box.
const A4: Rect = Rect {
    x1: 0.0,
    y1: 0.0,
    x2: 595.276,
    y2: 841.89,
};
/// Appearance streams larger than this are not searched for an image.
pub(crate) const MAX_FORM_BYTES: usize = 256 * 1024;

fn rect_of(obj: Option<&Object>) -> Option<Rect> {
    let a = obj?.as_array().ok()?;
    let n: Vec<f32> = a.iter().filter_map(|o| o.as_float().ok()).collect();
    let [a, b, c, d] = n.as_slice() else { return None };
    Some(Rect {
        x1: a.min(*c),
        y1: b.min(*d),
        x2: a.max(*c),
        y2: b.max(*d),
    })
}

fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    doc.dereference(obj).ok().map(|(_, o)| o)
}

fn dict_get<'a>(doc: &'a Document, d: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    resolve(doc, d.get(key).ok()?)
}

/// The page's visible box: `/CropBox`, else `/MediaBox` (both inheritable), else A4.
pub(crate) fn page_box(doc: &Document, page_id: ObjectId) -> Rect {
    for key in [&b"CropBox"[..], b"MediaBox"] {
        let mut node = doc.get_dictionary(page_id).ok();
        for _ in 0..32 {
            let Some(d) = node else { break };
            if let Some(r) = rect_of(dict_get(doc, d, key)) {
                if r.width() > 0.0 && r.height() > 0.0 {
                    return r;
                }
            }
            node = d
                .get(b"Parent")
                .and_then(Object::as_reference)
                .ok()
                .and_then(|id| doc.get_dictionary(id).ok());
        }
    }
    A4
}

/// The leader's visible signature: its page and image rectangle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeaderSignature {
    pub page_id: ObjectId,
    /// The image's rectangle on the page; the widget's when no image was found.
    pub image: Rect,
}

/// Every widget of the AcroForm's signature fields that is signed (has `/V`), in field order.
fn signed_widgets(doc: &Document) -> Vec<(ObjectId, &Dictionary)> {
    let Some(catalog) = doc
        .trailer
        .get(b"Root")
        .ok()
        .and_then(|r| resolve(doc, r))
        .and_then(|o| o.as_dict().ok())
    else {
        return Vec::new();
    };
    let Some(fields) = dict_get(doc, catalog, b"AcroForm")
        .and_then(|a| a.as_dict().ok())
        .and_then(|a| dict_get(doc, a, b"Fields"))
        .and_then(|f| f.as_array().ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in fields {
        let Ok(id) = field.as_reference() else { continue };
        let Ok(d) = doc.get_dictionary(id) else { continue };
        let is_sig = d.get(b"FT").and_then(Object::as_name).ok() == Some(b"Sig");
        if !is_sig || !d.has(b"V") {
            continue;
        }
        match d
            .get(b"Kids")
            .ok()
            .and_then(|k| resolve(doc, k))
            .and_then(|k| k.as_array().ok())
        {
            Some(kids) => {
                for kid in kids {
                    if let Some((kid_id, kd)) = kid
                        .as_reference()
                        .ok()
                        .and_then(|k| Some((k, doc.get_dictionary(k).ok()?)))
                    {
                        out.push((kid_id, kd));
                    }
                }
            }
            None => out.push((id, d)),
        }
    }
    out
}

fn page_of(doc: &Document, widget_id: ObjectId, widget: &Dictionary) -> Option<ObjectId> {
    if let Ok(p) = widget.get(b"P").and_then(Object::as_reference) {
        if doc.get_dictionary(p).is_ok() {
            return Some(p);
        }
    }
    doc.get_pages().into_values().find(|&page| {
        doc.get_dictionary(page)
            .ok()
            .and_then(|d| dict_get(doc, d, b"Annots"))
            .and_then(|a| a.as_array().ok())
            .is_some_and(|a| a.iter().any(|o| o.as_reference().ok() == Some(widget_id)))
    })
}

/// The last signed signature field with a visible rectangle.
pub(crate) fn leader_signature(doc: &Document) -> Option<LeaderSignature> {
    signed_widgets(doc).into_iter().rev().find_map(|(id, w)| {
        let widget = rect_of(dict_get(doc, w, b"Rect")).filter(|r| r.width() > 1.0 && r.height() > 1.0)?;
        let page_id = page_of(doc, id, w)?;
        let image = image_in_appearance(doc, w, widget).unwrap_or(widget);
        Some(LeaderSignature { page_id, image })
    })
}

type Matrix = [f32; 6];

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn apply(m: &Matrix, x: f32, y: f32) -> (f32, f32) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

/// Bounding box of `r` under `m`.
fn transform(m: &Matrix, r: Rect) -> Rect {
    let pts = [
        apply(m, r.x1, r.y1),
        apply(m, r.x2, r.y1),
        apply(m, r.x1, r.y2),
        apply(m, r.x2, r.y2),
    ];
    let xs = pts.iter().map(|p| p.0);
    let ys = pts.iter().map(|p| p.1);
    Rect {
        x1: xs.clone().fold(f32::INFINITY, f32::min),
        y1: ys.clone().fold(f32::INFINITY, f32::min),
        x2: xs.fold(f32::NEG_INFINITY, f32::max),
        y2: ys.fold(f32::NEG_INFINITY, f32::max),
    }
}

/// The page rectangle of the first image the widget's normal appearance draws (directly, not
/// in a nested form), using the form's `/BBox` and `/Matrix` mapped onto `/Rect` (PDF 32000
/// §12.5.5).
fn image_in_appearance(doc: &Document, widget: &Dictionary, rect: Rect) -> Option<Rect> {
    let ap = dict_get(doc, widget, b"AP")?.as_dict().ok()?;
    let form = dict_get(doc, ap, b"N")?.as_stream().ok()?;
    let bbox = rect_of(form.dict.get(b"BBox").ok())?;
    let matrix: Matrix = match form.dict.get(b"Matrix").ok().and_then(|m| m.as_array().ok()) {
        Some(a) if a.len() == 6 => {
            let v: Vec<f32> = a.iter().filter_map(|o| o.as_float().ok()).collect();
            v.try_into().ok()?
        }
        _ => [1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
    };
    let data = form.decompressed_content_with_limit(MAX_FORM_BYTES).ok().or_else(|| {
        (!form.dict.has(b"Filter") && form.content.len() <= MAX_FORM_BYTES).then(|| form.content.clone())
    })?;
    let images = dict_get(doc, &form.dict, b"Resources")
        .and_then(|r| r.as_dict().ok())
        .and_then(|r| dict_get(doc, r, b"XObject"))
        .and_then(|x| x.as_dict().ok())?;
    let content = Content::decode(&data).ok()?;

    let mut ctm: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let mut stack = Vec::new();
    let drawn = content.operations.iter().find_map(|op| {
        match op.operator.as_str() {
            "q" => stack.push(ctm),
            "Q" => ctm = stack.pop().unwrap_or(ctm),
            "cm" => {
                let v: Vec<f32> = op.operands.iter().filter_map(|o| o.as_float().ok()).collect();
                if let Ok(m) = <Matrix>::try_from(v) {
                    ctm = multiply(&m, &ctm);
                }
            }
            "Do" => {
                let name = op.operands.first()?.as_name().ok()?;
                let xobject = dict_get(doc, images, name)?.as_stream().ok()?;
                if xobject.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image") {
                    let unit = Rect {
                        x1: 0.0,
                        y1: 0.0,
                        x2: 1.0,
                        y2: 1.0,
                    };
                    return Some(transform(&ctm, unit));
                }
            }
            _ => {}
        }
        None
    })?;
    // Form space → the transformed BBox → scaled and moved onto /Rect.
    let in_form = transform(&matrix, drawn);
    let bbox = transform(&matrix, bbox);
    if bbox.width() <= 0.0 || bbox.height() <= 0.0 {
        return None;
    }
    let sx = rect.width() / bbox.width();
    let sy = rect.height() / bbox.height();
    Some(Rect {
        x1: rect.x1 + (in_form.x1 - bbox.x1) * sx,
        y1: rect.y1 + (in_form.y1 - bbox.y1) * sy,
        x2: rect.x1 + (in_form.x2 - bbox.x1) * sx,
        y2: rect.y1 + (in_form.y2 - bbox.y1) * sy,
    })
}

/// Where a pre-created signature field sits: its 1-based page and its rectangle, or `None`
/// when it is invisible (no page, or a degenerate rectangle).
pub(crate) fn field_placement(
    doc: &Document,
    field_id: lopdf::ObjectId,
    field: &lopdf::Dictionary,
) -> Option<(usize, Rect)> {
    let rect = rect_of(field.get(b"Rect").ok().and_then(|o| resolve(doc, o)))?;
    if rect.width() < 1.0 || rect.height() < 1.0 {
        return None;
    }
    let pages = doc.get_pages();
    let on_page = |page_id: &lopdf::ObjectId| {
        doc.get_dictionary(*page_id)
            .ok()
            .and_then(|p| p.get(b"Annots").ok())
            .and_then(|a| resolve(doc, a))
            .and_then(|a| a.as_array().ok())
            .is_some_and(|a| a.iter().any(|o| o.as_reference().ok() == Some(field_id)))
    };
    let named = field.get(b"P").and_then(Object::as_reference).ok();
    let (number, _) = pages
        .iter()
        .find(|(_, id)| Some(**id) == named)
        .or_else(|| pages.iter().find(|(_, id)| on_page(id)))?;
    Some((*number as usize, rect))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_compose_in_pdf_order() {
        // translate then scale: [2 0 0 2 0 0] × [1 0 0 1 10 20] maps (1,1) to (12, 22)
        let m = multiply(&[2.0, 0.0, 0.0, 2.0, 0.0, 0.0], &[1.0, 0.0, 0.0, 1.0, 10.0, 20.0]);
        assert_eq!(apply(&m, 1.0, 1.0), (12.0, 22.0));
    }
}
