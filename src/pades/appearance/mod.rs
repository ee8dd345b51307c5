//! Visible signature appearances per NĐ 30/2020 (Phụ lục I §II.7–8, §III; brief domain-vn §4):
//!
//! - **leader** — the competent person's signature: the handwritten signature image (blue,
//!   transparent PNG) centred between the position (chức vụ) and the name;
//! - **seal** — the organisation's signature on the main document: the red seal image at its
//!   actual size, overlapping about a third of the leader's signature image, on its left;
//! - **attachment** — the organisation's signature on an attachment in its own file: no image,
//!   the agency, number/symbol and signing time (ISO 8601, +07:00) as text in Times New Roman
//!   metrics, size 10, black, at the top right of page 1.
//!
//! Pure: placement reads the parsed document; drawing writes new objects into the update.
//!
//! ```text
//! font    ─ the built-in Liberation Serif, subset per signature, Type0/CIDFontType2 + ToUnicode
//! image   ─ PNG → image XObject (+ /SMask for alpha), bounded size
//! layout  ─ pure geometry and content streams of the three appearances (form XObjects)
//! locate  ─ page boxes, the leader's signature widget and its image rectangle
//! ```

mod font;
mod image;
mod layout;
mod locate;

pub(crate) use locate::{field_placement, MAX_FORM_BYTES};

use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use lopdf::{Document, Object, ObjectId};

pub use image::MAX_IMAGE_SIDE;

use super::{PadesError, PadesResult};

/// A common diameter of a government agency's seal.
pub const DEFAULT_SEAL_SIZE_MM: f32 = 36.0;
const POINTS_PER_MM: f32 = 72.0 / 25.4;
/// Default size of the leader's signature box, in points.
const LEADER_BOX: (f32, f32) = (220.0, 140.0);
/// Page margins used for default placement: right 20 mm, bottom 25 mm (NĐ 30 Phụ lục I §I).
const RIGHT_MARGIN: f32 = 20.0 * POINTS_PER_MM;
const BOTTOM_MARGIN: f32 = 25.0 * POINTS_PER_MM;
/// The attachment text sits this far below the top edge, inside the top margin.
const ATTACHMENT_TOP: f32 = 5.0 * POINTS_PER_MM;

/// A rectangle in PDF user space (points), `x1 < x2`, `y1 < y2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl Rect {
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    fn to_object(self) -> Object {
        let n = |v: f32| Object::Real(((v * 100.0).round() / 100.0) as _);
        Object::Array(vec![n(self.x1), n(self.y1), n(self.x2), n(self.y2)])
    }
}

impl FromStr for Rect {
    type Err = String;

    /// `x1,y1,x2,y2` in points.
    fn from_str(s: &str) -> Result<Self, String> {
        let n: Vec<f32> = s
            .split(',')
            .map(|p| p.trim().parse::<f32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("\"{s}\" is not x1,y1,x2,y2 (four numbers in points)"))?;
        match n.as_slice() {
            [x1, y1, x2, y2] if n.iter().all(|v| v.is_finite()) && x2 > x1 && y2 > y1 => Ok(Rect {
                x1: *x1,
                y1: *y1,
                x2: *x2,
                y2: *y2,
            }),
            [_, _, _, _] => Err(format!("\"{s}\" must have x1 < x2 and y1 < y2")),
            _ => Err(format!("\"{s}\" is not x1,y1,x2,y2 (four numbers in points)")),
        }
    }
}

/// Which appearance to draw, with its content.
#[derive(Clone, Debug)]
pub enum AppearanceKind {
    /// The leader's signature: PNG of the handwritten signature, position lines (chức vụ,
    /// e.g. `["KT. BỘ TRƯỞNG", "THỨ TRƯỞNG"]`) and name.
    Leader {
        image: Vec<u8>,
        position: Vec<String>,
        name: String,
    },
    /// The organisation's seal over the leader's signature: PNG of the seal and its diameter.
    Seal { image: Vec<u8>, size_mm: f32 },
    /// The organisation's signature on an attachment: number/symbol and the issuing agency;
    /// the signing time is added from the signature's `/M`.
    Attachment {
        number_symbol: String,
        agency: Option<String>,
    },
}

/// A visible signature: what to draw and, optionally, where.
#[derive(Clone, Debug)]
pub struct Appearance {
    pub kind: AppearanceKind,
    /// 1-based page; default: the last page (leader), the leader's page (seal), page 1
    /// (attachment).
    pub page: Option<usize>,
    /// The widget rectangle in points; default: computed (see each kind).
    pub rect: Option<Rect>,
}

impl Appearance {
    /// Placing this appearance reads the earlier signatures' appearance streams.
    pub(crate) fn reads_earlier_appearances(&self) -> bool {
        matches!(self.kind, AppearanceKind::Seal { .. }) && self.rect.is_none()
    }
}

/// ISO 8601 with the offset, seconds precision: `2026-03-05T14:30:05+07:00`.
pub fn iso_time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A placed, drawn appearance waiting to be written into the update.
pub(crate) struct Placed {
    pub page_id: ObjectId,
    pub rect: Rect,
    stamp: layout::Stamp,
}

impl Placed {
    /// The widget's `/Rect`.
    pub(crate) fn rect_object(&self) -> Object {
        self.rect.to_object()
    }

    /// Writes the appearance's objects; returns the form XObject for `/AP << /N … >>`.
    pub(crate) fn write(&self, doc: &mut Document) -> PadesResult<ObjectId> {
        self.stamp.write(doc)
    }
}

fn page_by_number(doc: &Document, n: usize) -> PadesResult<ObjectId> {
    let pages = doc.get_pages();
    u32::try_from(n)
        .ok()
        .and_then(|n| pages.get(&n).copied())
        .ok_or_else(|| PadesError::Appearance(format!("page {n} does not exist (the PDF has {} pages)", pages.len())))
}

fn last_page(doc: &Document) -> PadesResult<ObjectId> {
    doc.get_pages().values().next_back().copied().ok_or(PadesError::NoPages)
}

fn nonblank(s: &str) -> bool {
    !s.trim().is_empty()
}

/// Decides the page and rectangle of `appearance` in `doc` and draws it.
pub(crate) fn place(doc: &Document, appearance: &Appearance, time: &DateTime<FixedOffset>) -> PadesResult<Placed> {
    let explicit_page = appearance.page.map(|n| page_by_number(doc, n)).transpose()?;
    match &appearance.kind {
        AppearanceKind::Leader { image, position, name } => {
            let position: Vec<String> = position.iter().filter(|l| nonblank(l)).cloned().collect();
            if position.is_empty() && !nonblank(name) {
                return Err(PadesError::Appearance(
                    "the leader's signature needs a position or a name".into(),
                ));
            }
            let image = image::decode_png(image)?;
            let page_id = match explicit_page {
                Some(p) => p,
                None => last_page(doc)?,
            };
            let rect = appearance.rect.unwrap_or_else(|| {
                let b = locate::page_box(doc, page_id);
                let (w, h) = LEADER_BOX;
                let x2 = (b.x2 - RIGHT_MARGIN).max(b.x1 + w);
                let y1 = b.y1 + BOTTOM_MARGIN + 36.0;
                Rect {
                    x1: x2 - w,
                    y1,
                    x2,
                    y2: y1 + h,
                }
            });
            let stamp = layout::leader(rect.width(), rect.height(), image, &position, name.trim())?;
            Ok(Placed { page_id, rect, stamp })
        }
        AppearanceKind::Seal { image, size_mm } => {
            if !(5.0..=200.0).contains(size_mm) {
                return Err(PadesError::Appearance(format!(
                    "the seal size must be between 5 and 200 mm, not {size_mm}"
                )));
            }
            let image = image::decode_png(image)?;
            let (page_id, rect) = match appearance.rect {
                Some(rect) => (
                    match explicit_page {
                        Some(p) => p,
                        None => locate::leader_signature(doc).map_or(last_page(doc)?, |l| l.page_id),
                    },
                    rect,
                ),
                None => {
                    let leader = locate::leader_signature(doc).ok_or_else(|| {
                        PadesError::Appearance(
                            "no visible signature to place the seal over: sign with the leader's appearance first, or give --rect"
                                .into(),
                        )
                    })?;
                    (leader.page_id, seal_over(leader.image, size_mm * POINTS_PER_MM))
                }
            };
            let stamp = layout::seal(rect.width(), rect.height(), image)?;
            Ok(Placed { page_id, rect, stamp })
        }
        AppearanceKind::Attachment { number_symbol, agency } => {
            if !nonblank(number_symbol) {
                return Err(PadesError::Appearance(
                    "the attachment's signature needs the number and symbol".into(),
                ));
            }
            let lines: Vec<String> = agency
                .iter()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .chain([number_symbol.trim().to_string(), iso_time(time)])
                .collect();
            let page_id = match explicit_page {
                Some(p) => p,
                None => page_by_number(doc, 1)?,
            };
            let rect = match appearance.rect {
                Some(r) => r,
                None => {
                    let (w, h) = layout::attachment_size(&lines)?;
                    let b = locate::page_box(doc, page_id);
                    let x2 = b.x2 - RIGHT_MARGIN * 0.75;
                    let y2 = b.y2 - ATTACHMENT_TOP;
                    Rect {
                        x1: x2 - w,
                        y1: y2 - h,
                        x2,
                        y2,
                    }
                }
            };
            let stamp = layout::attachment(rect.width(), rect.height(), &lines)?;
            Ok(Placed { page_id, rect, stamp })
        }
    }
}

/// The seal's square of side `size`: its right edge a third of the way into the leader's
/// image, vertically centred on it.
fn seal_over(image: Rect, size: f32) -> Rect {
    let x2 = image.x1 + image.width() / 3.0;
    let cy = (image.y1 + image.y2) / 2.0;
    Rect {
        x1: x2 - size,
        y1: cy - size / 2.0,
        x2,
        y2: cy + size / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rects_parse_and_refuse_nonsense() {
        assert_eq!(
            "10,20,110.5,70".parse::<Rect>(),
            Ok(Rect {
                x1: 10.0,
                y1: 20.0,
                x2: 110.5,
                y2: 70.0
            })
        );
        assert!("10,20,5,70".parse::<Rect>().is_err());
        assert!("1,2,3".parse::<Rect>().is_err());
        assert!("a,b,c,d".parse::<Rect>().is_err());
        assert!("0,0,inf,1".parse::<Rect>().is_err());
    }

    #[test]
    fn the_seal_covers_a_third_of_the_image_on_its_left() {
        let image = Rect {
            x1: 300.0,
            y1: 100.0,
            x2: 390.0,
            y2: 160.0,
        };
        let s = seal_over(image, 102.0);
        assert_eq!(s.x2, 330.0);
        assert_eq!(s.width(), 102.0);
        assert_eq!((s.y1 + s.y2) / 2.0, 130.0);
        assert!(s.x1 < image.x1);
    }

    #[test]
    fn iso_times_carry_the_vietnam_offset() {
        let t = DateTime::parse_from_rfc3339("2026-03-05T14:30:05.123+07:00").expect("time");
        assert_eq!(iso_time(&t), "2026-03-05T14:30:05+07:00");
    }
}
