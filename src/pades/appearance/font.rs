//! The appearance font: Liberation Serif (metric-compatible with Times New Roman), built into
//! the binary and written to a PDF as a **subset** holding only the glyphs a signature uses.
//!
//! The PDF font is a Type0 font with `Identity-H` encoding over a `CIDFontType2` descendant:
//! text is written as two-byte CIDs, a CID is the glyph's id in the subset (`/CIDToGIDMap
//! /Identity`), `/W` gives each glyph's advance, and a `ToUnicode` CMap maps every CID back to
//! its character, so text extraction returns exactly the (NFC) string that was drawn.
//!
//! There is no shaping: one character is one glyph. Vietnamese needs none, because text is
//! normalised to NFC first and the font has every precomposed Vietnamese letter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

use lopdf::{dictionary, Document, Object, ObjectId, Stream, StringFormat};
use subsetter::GlyphRemapper;
use ttf_parser::Face;
use unicode_normalization::UnicodeNormalization;

use crate::pades::{PadesError, PadesResult};

static LIBERATION_SERIF: &[u8] = include_bytes!("../../../assets/fonts/LiberationSerif-Regular.ttf");
static LIBERATION_SERIF_BOLD: &[u8] = include_bytes!("../../../assets/fonts/LiberationSerif-Bold.ttf");

/// The face a stamp is set in: NĐ 30 sets the signer's title and name in bold (PL I §II.7),
/// the attachment's signature text in regular.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

impl Weight {
    fn data(self) -> &'static [u8] {
        match self {
            Weight::Regular => LIBERATION_SERIF,
            Weight::Bold => LIBERATION_SERIF_BOLD,
        }
    }

    fn postscript_name(self) -> &'static str {
        match self {
            Weight::Regular => "LiberationSerif",
            Weight::Bold => "LiberationSerif-Bold",
        }
    }

    /// FontDescriptor /Flags: Serif (2) + Nonsymbolic (32), plus ForceBold (1 << 18) for bold.
    fn flags(self) -> i64 {
        match self {
            Weight::Regular => 34,
            Weight::Bold => 34 | (1 << 18),
        }
    }

    fn stem_v(self) -> i64 {
        match self {
            Weight::Regular => 80,
            Weight::Bold => 140,
        }
    }
}

/// A line of text encoded for the font: the bytes for `Tj` and its advance per point of size.
#[derive(Clone, Debug)]
pub(crate) struct EncodedText {
    /// Two-byte big-endian CIDs.
    pub cids: Vec<u8>,
    /// Width in text space units at font size 1.
    pub width: f32,
}

/// Collects the glyphs used by a signature's text, then writes the font subset.
pub(crate) struct FontSubset {
    weight: Weight,
    face: Face<'static>,
    remapper: GlyphRemapper,
    /// subset CID → (character, advance in 1/1000 em)
    used: BTreeMap<u16, (char, f32)>,
}

fn font_err(what: &str) -> PadesError {
    PadesError::Appearance(format!("the built-in font cannot be used: {what}"))
}

impl FontSubset {
    pub(crate) fn new(weight: Weight) -> PadesResult<Self> {
        let face = Face::parse(weight.data(), 0).map_err(|e| font_err(&e.to_string()))?;
        Ok(Self {
            weight,
            face,
            remapper: GlyphRemapper::new(),
            used: BTreeMap::new(),
        })
    }

    fn per_mille(&self, units: f32) -> f32 {
        units * 1000.0 / f32::from(self.face.units_per_em())
    }

    /// Encodes one line (NFC-normalised) and records its glyphs for the subset. A character
    /// the font has no glyph for is refused rather than drawn as a box.
    pub(crate) fn encode(&mut self, text: &str) -> PadesResult<EncodedText> {
        let mut cids = Vec::new();
        let mut width = 0.0;
        for c in text.nfc() {
            let gid = self.face.glyph_index(c).ok_or_else(|| {
                PadesError::Appearance(format!(
                    "the character {c:?} (U+{:04X}) cannot be drawn with the built-in font",
                    u32::from(c)
                ))
            })?;
            let advance = self.per_mille(f32::from(self.face.glyph_hor_advance(gid).unwrap_or(0)));
            let cid = self.remapper.remap(gid.0);
            self.used.entry(cid).or_insert((c, advance));
            cids.extend_from_slice(&cid.to_be_bytes());
            width += advance / 1000.0;
        }
        Ok(EncodedText { cids, width })
    }

    /// Width at font size 1 of `text` without recording anything (for fitting a size).
    pub(crate) fn measure(&self, text: &str) -> f32 {
        text.nfc()
            .filter_map(|c| self.face.glyph_index(c))
            .map(|g| self.per_mille(f32::from(self.face.glyph_hor_advance(g).unwrap_or(0))) / 1000.0)
            .sum()
    }

    /// Six capital letters derived from the glyph set (the PDF subset-tag convention).
    fn tag(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for gid in self.remapper.remapped_gids() {
            ctx.update(&gid.to_be_bytes());
        }
        ctx.finish()
            .as_ref()
            .iter()
            .take(6)
            .map(|b| char::from(b'A' + b % 26))
            .collect()
    }

    /// Writes the subset font objects into `doc` and returns the Type0 font's id.
    pub(crate) fn write(&self, doc: &mut Document) -> PadesResult<ObjectId> {
        let subset = subsetter::subset(self.weight.data(), 0, &self.remapper)
            .map_err(|e| font_err(&format!("subsetting failed: {e}")))?;
        let base_font = format!("{}+{}", self.tag(), self.weight.postscript_name());

        let mut file = Stream::new(dictionary! { "Length1" => subset.len() as i64 }, deflate(&subset)?);
        file.dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        let file_id = doc.add_object(file);

        let bbox = self.face.global_bounding_box();
        let scale = |v: i16| Object::Integer(self.per_mille(f32::from(v)).round() as i64);
        let descriptor_id = doc.add_object(dictionary! {
            "Type" => "FontDescriptor",
            "FontName" => Object::Name(base_font.clone().into_bytes()),
            "Flags" => self.weight.flags(),
            "FontBBox" => vec![scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)],
            "ItalicAngle" => 0,
            "Ascent" => scale(self.face.ascender()),
            "Descent" => scale(self.face.descender()),
            "CapHeight" => scale(self.face.capital_height().unwrap_or(self.face.ascender())),
            "StemV" => self.weight.stem_v(),
            "FontFile2" => file_id,
        });

        // /W [first [w w w …]] over the consecutive CIDs 0..n of the glyphs drawn.
        let widths: Vec<Object> = (0..self.remapper.num_gids())
            .map(|cid| {
                let w = self.used.get(&cid).map_or(0.0, |(_, w)| *w);
                Object::Integer(w.round() as i64)
            })
            .collect();
        let cid_font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "CIDFontType2",
            "BaseFont" => Object::Name(base_font.clone().into_bytes()),
            "CIDSystemInfo" => dictionary! {
                "Registry" => Object::string_literal("Adobe"),
                "Ordering" => Object::string_literal("Identity"),
                "Supplement" => 0,
            },
            "FontDescriptor" => descriptor_id,
            "DW" => 1000,
            "W" => vec![Object::Integer(0), Object::Array(widths)],
            "CIDToGIDMap" => "Identity",
        });

        let to_unicode = Stream::new(
            dictionary! { "Filter" => "FlateDecode" },
            deflate(self.cmap().as_bytes())?,
        );
        let to_unicode_id = doc.add_object(to_unicode);
        Ok(doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type0",
            "BaseFont" => Object::Name(base_font.into_bytes()),
            "Encoding" => "Identity-H",
            "DescendantFonts" => vec![Object::Reference(cid_font_id)],
            "ToUnicode" => to_unicode_id,
        }))
    }

    /// The ToUnicode CMap: each CID drawn → its character (UTF-16BE).
    fn cmap(&self) -> String {
        let mut out = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<_> = self.used.iter().collect();
        for chunk in entries.chunks(100) {
            let _ = writeln!(out, "{} beginbfchar", chunk.len());
            for (cid, (c, _)) in chunk {
                let mut units = [0u16; 2];
                let hex: String = c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
                let _ = writeln!(out, "<{cid:04X}> <{hex}>");
            }
            out.push_str("endbfchar\n");
        }
        out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        out
    }
}

/// A PDF string of the encoded CIDs.
pub(crate) fn cid_string(text: &EncodedText) -> Object {
    Object::String(text.cids.clone(), StringFormat::Hexadecimal)
}

/// zlib (FlateDecode) compression.
pub(crate) fn deflate(data: &[u8]) -> PadesResult<Vec<u8>> {
    let mut enc =
        flate2::write::ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| PadesError::Appearance(format!("compressing a stream failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_letters_all_have_glyphs() {
        let mut f = FontSubset::new(Weight::Regular).expect("font");
        let text = "ĂÂĐÊÔƠƯăâđêôơư ÀẢÃÁẠ àảãáạ ẰẲẴẮẶ ằẳẵắặ ẦẨẪẤẬ ầẩẫấậ ÈẺẼÉẸ èẻẽéẹ ỀỂỄẾỆ ềểễếệ \
                    ÌỈĨÍỊ ìỉĩíị ÒỎÕÓỌ òỏõóọ ỒỔỖỐỘ ồổỗốộ ỜỞỠỚỢ ờởỡớợ ÙỦŨÚỤ ùủũúụ ỪỬỮỨỰ ừửữứự ỲỶỸÝỴ ỳỷỹýỵ";
        f.encode(text).expect("every Vietnamese letter is in the font");
    }

    #[test]
    fn decomposed_input_is_drawn_precomposed() {
        let mut f = FontSubset::new(Weight::Regular).expect("font");
        let nfd = "Nguye\u{302}\u{303}n";
        let nfc = "Nguyễn";
        assert_eq!(f.encode(nfd).expect("nfd").cids, f.encode(nfc).expect("nfc").cids);
        assert_eq!(f.encode(nfc).expect("nfc").cids.len(), 2 * nfc.chars().count());
    }

    #[test]
    fn the_cmap_maps_cids_back_to_characters() {
        let mut f = FontSubset::new(Weight::Regular).expect("font");
        let t = f.encode("Ấ").expect("encode");
        let cmap = f.cmap();
        let cid = u16::from_be_bytes([t.cids[0], t.cids[1]]);
        assert!(cmap.contains(&format!("<{cid:04X}> <1EA4>")), "{cmap}");
    }

    #[test]
    fn characters_outside_the_font_are_refused() {
        let mut f = FontSubset::new(Weight::Regular).expect("font");
        assert!(matches!(f.encode("漢"), Err(PadesError::Appearance(_))));
    }

    #[test]
    fn the_subset_is_small() {
        let mut f = FontSubset::new(Weight::Regular).expect("font");
        f.encode("KT. BỘ TRƯỞNG THỨ TRƯỞNG Nguyễn Văn An").expect("encode");
        let mut doc = Document::with_version("1.7");
        f.write(&mut doc).expect("write");
        let file = doc
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .find(|s| s.dict.has(b"Length1"))
            .expect("font file");
        assert!(file.content.len() < 40_000, "subset is {} bytes", file.content.len());
        assert!(LIBERATION_SERIF.len() > 300_000);
    }

    #[test]
    fn bold_has_every_vietnamese_letter_and_its_own_name() {
        let mut f = FontSubset::new(Weight::Bold).expect("font");
        let text = "KT. BỘ TRƯỞNG THỨ TRƯỞNG Nguyễn Văn An ĂÂĐÊÔƠƯ ăâđêôơư ẤẦẨẪẬ";
        let t = f.encode(text).expect("bold covers Vietnamese");
        // Bold glyphs are wider than regular ones.
        assert!(t.width > FontSubset::new(Weight::Regular).expect("font").measure(text));
        let mut doc = Document::with_version("1.7");
        f.write(&mut doc).expect("write");
        assert!(doc.objects.values().filter_map(|o| o.as_dict().ok()).any(|d| d
            .get(b"BaseFont")
            .and_then(Object::as_name)
            .is_ok_and(|n| n.ends_with(b"+LiberationSerif-Bold"))));
    }
}
