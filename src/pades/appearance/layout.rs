//! **Pure** geometry and drawing of the three NĐ 30 appearances, as a form XObject of size
//! `width × height` (its `/BBox` is `[0 0 width height]`, mapped onto the widget's `/Rect`).
//!
//! - leader: the position (chức vụ) lines at the top, the name at the bottom, the handwritten
//!   signature image centred between them;
//! - seal: the seal image filling the box (the box is the seal's actual size);
//! - attachment: left-aligned lines of text (agency, number/symbol, ISO 8601 time), size 10.
//!
//! A form only references its own resources (`/F1` the font subset, `/Im1` the image), never
//! the page's.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, ObjectId, Stream};

use super::font::{cid_string, deflate, EncodedText, FontSubset, Weight};
use super::image::Image;
use super::Rect;
use crate::pades::{PadesError, PadesResult};

/// Inner margin of a box, in points.
const PAD: f32 = 2.0;
/// Text size of the leader's position and name lines.
pub(crate) const LEADER_TEXT_SIZE: f32 = 12.0;
/// NĐ 30: the attachment's signature text is size 10.
pub(crate) const ATTACHMENT_TEXT_SIZE: f32 = 10.0;
/// Smallest size text is shrunk to so that it fits the box.
const MIN_TEXT_SIZE: f32 = 5.0;
const LINE_SPACING: f32 = 1.2;
/// Ascent and descent of Liberation Serif, in em.
const ASCENT: f32 = 0.891;
const DESCENT: f32 = 0.216;

/// A drawn appearance: its size, content operations and the resources it uses.
pub(crate) struct Stamp {
    pub width: f32,
    pub height: f32,
    ops: Vec<Operation>,
    font: Option<FontSubset>,
    image: Option<Image>,
}

fn num(v: f32) -> Object {
    Object::Real(((v * 1000.0).round() / 1000.0) as _)
}

fn too_small(what: &str, w: f32, h: f32) -> PadesError {
    PadesError::Appearance(format!(
        "the rectangle ({w:.0}×{h:.0} pt) is too small for the {what}; give a larger --rect"
    ))
}

/// `count` lines of the widest `width_at_1` fit `max_width` at `size`, shrunk if needed.
fn fit_size(size: f32, width_at_1: f32, max_width: f32) -> f32 {
    if width_at_1 <= 0.0 {
        return size;
    }
    size.min(max_width / width_at_1).max(MIN_TEXT_SIZE)
}

fn text_ops(ops: &mut Vec<Operation>, text: &EncodedText, size: f32, x: f32, baseline: f32) {
    ops.extend([
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec![Object::Name(b"F1".to_vec()), num(size)]),
        Operation::new("Td", vec![num(x), num(baseline)]),
        Operation::new("Tj", vec![cid_string(text)]),
        Operation::new("ET", vec![]),
    ]);
}

/// The largest box of `aspect` (width/height) centred in `area`.
fn fit_image(aspect: f32, area: Rect) -> Rect {
    let (w, h) = (area.width(), area.height());
    let (iw, ih) = if w / h > aspect {
        (h * aspect, h)
    } else {
        (w, w / aspect)
    };
    let x1 = area.x1 + (w - iw) / 2.0;
    let y1 = area.y1 + (h - ih) / 2.0;
    Rect {
        x1,
        y1,
        x2: x1 + iw,
        y2: y1 + ih,
    }
}

fn image_ops(ops: &mut Vec<Operation>, r: Rect) {
    ops.extend([
        Operation::new("q", vec![]),
        Operation::new(
            "cm",
            vec![
                num(r.width()),
                num(0.0),
                num(0.0),
                num(r.height()),
                num(r.x1),
                num(r.y1),
            ],
        ),
        Operation::new("Do", vec![Object::Name(b"Im1".to_vec())]),
        Operation::new("Q", vec![]),
    ]);
}

/// The leader's appearance in a `width × height` box.
pub(crate) fn leader(width: f32, height: f32, image: Image, position: &[String], name: &str) -> PadesResult<Stamp> {
    let mut font = FontSubset::new(Weight::Bold)?;
    let inner = width - 2.0 * PAD;
    let widest = position
        .iter()
        .map(String::as_str)
        .chain([name])
        .map(|l| font.measure(l))
        .fold(0.0, f32::max);
    let size = fit_size(LEADER_TEXT_SIZE, widest, inner);
    let line = size * LINE_SPACING;
    let mut ops = vec![Operation::new("g", vec![num(0.0)])];

    let mut baseline = height - PAD - size * ASCENT;
    for l in position {
        let t = font.encode(l)?;
        text_ops(&mut ops, &t, size, (width - t.width * size) / 2.0, baseline);
        baseline -= line;
    }
    let image_top = baseline + size * ASCENT - 2.0 * PAD;
    let name_baseline = PAD + size * DESCENT;
    let image_bottom = if name.is_empty() {
        PAD
    } else {
        let t = font.encode(name)?;
        text_ops(&mut ops, &t, size, (width - t.width * size) / 2.0, name_baseline);
        name_baseline + size * ASCENT + PAD
    };
    if image_top - image_bottom < 12.0 || inner < 12.0 {
        return Err(too_small(
            "signature image between the position and the name",
            width,
            height,
        ));
    }
    let image_box = fit_image(
        image.aspect(),
        Rect {
            x1: PAD,
            y1: image_bottom,
            x2: width - PAD,
            y2: image_top,
        },
    );
    image_ops(&mut ops, image_box);
    Ok(Stamp {
        width,
        height,
        ops,
        font: Some(font),
        image: Some(image),
    })
}

/// The seal image filling a `width × height` box (keeping its proportions).
pub(crate) fn seal(width: f32, height: f32, image: Image) -> PadesResult<Stamp> {
    if width < 4.0 || height < 4.0 {
        return Err(too_small("seal", width, height));
    }
    let image_box = fit_image(
        image.aspect(),
        Rect {
            x1: 0.0,
            y1: 0.0,
            x2: width,
            y2: height,
        },
    );
    let mut ops = Vec::new();
    image_ops(&mut ops, image_box);
    Ok(Stamp {
        width,
        height,
        ops,
        font: None,
        image: Some(image),
    })
}

/// Natural size of the attachment text block: (width, height) at size 10.
pub(crate) fn attachment_size(lines: &[String]) -> PadesResult<(f32, f32)> {
    let font = FontSubset::new(Weight::Regular)?;
    let widest = lines.iter().map(|l| font.measure(l)).fold(0.0, f32::max);
    let n = lines.len() as f32;
    Ok((
        (widest * ATTACHMENT_TEXT_SIZE + 2.0 * PAD).ceil(),
        (n * ATTACHMENT_TEXT_SIZE * LINE_SPACING + 2.0 * PAD).ceil(),
    ))
}

/// The attachment's signature text, left-aligned from the top of a `width × height` box.
pub(crate) fn attachment(width: f32, height: f32, lines: &[String]) -> PadesResult<Stamp> {
    let mut font = FontSubset::new(Weight::Regular)?;
    let widest = lines.iter().map(|l| font.measure(l)).fold(0.0, f32::max);
    let size = fit_size(ATTACHMENT_TEXT_SIZE, widest, width - 2.0 * PAD);
    let line = size * LINE_SPACING;
    if (lines.len() as f32) * line + 2.0 * PAD > height + 0.5 {
        return Err(too_small("signature text", width, height));
    }
    let mut ops = vec![Operation::new("g", vec![num(0.0)])];
    let mut baseline = height - PAD - size * ASCENT;
    for l in lines {
        let t = font.encode(l)?;
        text_ops(&mut ops, &t, size, PAD, baseline);
        baseline -= line;
    }
    Ok(Stamp {
        width,
        height,
        ops,
        font: Some(font),
        image: None,
    })
}

impl Stamp {
    /// Writes the font subset, the image and the form XObject into `doc`; returns the form's id.
    pub(crate) fn write(&self, doc: &mut Document) -> PadesResult<ObjectId> {
        let mut resources = lopdf::Dictionary::new();
        if let Some(font) = &self.font {
            let id = font.write(doc)?;
            resources.set("Font", dictionary! { "F1" => id });
        }
        if let Some(image) = &self.image {
            let id = image.write(doc)?;
            resources.set("XObject", dictionary! { "Im1" => id });
        }
        let content = Content {
            operations: self.ops.clone(),
        }
        .encode()
        .map_err(|e| PadesError::Appearance(format!("encoding the appearance failed: {e}")))?;
        let form = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Form",
                "BBox" => vec![num(0.0), num(0.0), num(self.width), num(self.height)],
                "Resources" => resources,
                "Filter" => "FlateDecode",
            },
            deflate(&content)?,
        );
        Ok(doc.add_object(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_keep_their_proportions_and_are_centred() {
        let area = Rect {
            x1: 0.0,
            y1: 0.0,
            x2: 200.0,
            y2: 100.0,
        };
        let r = fit_image(1.0, area);
        assert_eq!((r.x1, r.y1, r.x2, r.y2), (50.0, 0.0, 150.0, 100.0));
        let r = fit_image(4.0, area);
        assert_eq!((r.x1, r.y1, r.x2, r.y2), (0.0, 25.0, 200.0, 75.0));
    }

    #[test]
    fn long_text_shrinks_to_fit_but_not_below_the_minimum() {
        assert_eq!(fit_size(12.0, 10.0, 200.0), 12.0);
        assert_eq!(fit_size(12.0, 20.0, 200.0), 10.0);
        assert_eq!(fit_size(12.0, 1000.0, 200.0), MIN_TEXT_SIZE);
    }
}
