//! PNG → PDF image XObject. 8-bit gray or RGB samples (palettes, low bit depths and tRNS are
//! expanded, 16-bit is reduced), Flate-compressed; an alpha channel becomes an `/SMask` so the
//! transparent background of a signature or seal image stays transparent.

use std::io::Cursor;

use lopdf::{dictionary, Document, Object, ObjectId, Stream};

use super::font::deflate;
use crate::pades::{PadesError, PadesResult};

/// Largest width or height accepted, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// A decoded image ready to be written.
#[derive(Debug)]
pub(crate) struct Image {
    pub width: u32,
    pub height: u32,
    /// 1 (gray) or 3 (RGB) components per pixel.
    components: u8,
    samples: Vec<u8>,
    /// One byte per pixel, `None` when the image is fully opaque.
    alpha: Option<Vec<u8>>,
}

fn bad(msg: impl std::fmt::Display) -> PadesError {
    PadesError::Appearance(format!("the image is not a usable PNG: {msg}"))
}

/// Decodes a PNG, refusing anything larger than [`MAX_IMAGE_SIDE`] on a side before any
/// pixel buffer is allocated.
pub(crate) fn decode_png(bytes: &[u8]) -> PadesResult<Image> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: (MAX_IMAGE_SIDE as usize).pow(2) * 8,
        },
    );
    let header = decoder.read_header_info().map_err(bad)?;
    let (width, height) = (header.width, header.height);
    if width == 0 || height == 0 || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(PadesError::Appearance(format!(
            "the image is {width}×{height} pixels; at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} is accepted"
        )));
    }
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("the image is too large"))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    buf.truncate(frame.buffer_size());
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(bad(format!("unsupported bit depth {:?}", frame.bit_depth)));
    }
    let (components, has_alpha) = match frame.color_type {
        png::ColorType::Grayscale => (1, false),
        png::ColorType::GrayscaleAlpha => (1, true),
        png::ColorType::Rgb => (3, false),
        png::ColorType::Rgba => (3, true),
        png::ColorType::Indexed => return Err(bad("the palette could not be expanded")),
    };
    let pixels = width as usize * height as usize;
    let stride = usize::from(components) + usize::from(has_alpha);
    if buf.len() < pixels * stride {
        return Err(bad("the pixel data is shorter than the header says"));
    }
    let (samples, alpha) = if has_alpha {
        let mut samples = Vec::with_capacity(pixels * usize::from(components));
        let mut alpha = Vec::with_capacity(pixels);
        for px in buf.chunks_exact(stride).take(pixels) {
            samples.extend_from_slice(&px[..usize::from(components)]);
            alpha.push(px[usize::from(components)]);
        }
        let opaque = alpha.iter().all(|&a| a == 255);
        (samples, (!opaque).then_some(alpha))
    } else {
        buf.truncate(pixels * stride);
        (buf, None)
    };
    Ok(Image {
        width,
        height,
        components,
        samples,
        alpha,
    })
}

impl Image {
    /// Width / height.
    pub(crate) fn aspect(&self) -> f32 {
        self.width as f32 / self.height as f32
    }

    /// Writes the image (and its soft mask) into `doc`; returns the image XObject's id.
    pub(crate) fn write(&self, doc: &mut Document) -> PadesResult<ObjectId> {
        let smask = match &self.alpha {
            Some(alpha) => Some(doc.add_object(Stream::new(
                dictionary! {
                    "Type" => "XObject",
                    "Subtype" => "Image",
                    "Width" => i64::from(self.width),
                    "Height" => i64::from(self.height),
                    "ColorSpace" => "DeviceGray",
                    "BitsPerComponent" => 8,
                    "Filter" => "FlateDecode",
                },
                deflate(alpha)?,
            ))),
            None => None,
        };
        let mut dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => i64::from(self.width),
            "Height" => i64::from(self.height),
            "ColorSpace" => if self.components == 1 { "DeviceGray" } else { "DeviceRGB" },
            "BitsPerComponent" => 8,
            "Filter" => "FlateDecode",
        };
        if let Some(id) = smask {
            dict.set("SMask", Object::Reference(id));
        }
        Ok(doc.add_object(Stream::new(dict, deflate(&self.samples)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("header");
        w.write_image_data(data).expect("data");
        w.finish().expect("finish");
        out
    }

    #[test]
    fn rgba_splits_into_samples_and_a_soft_mask() {
        let img = decode_png(&png(2, 1, png::ColorType::Rgba, &[0, 0, 255, 255, 0, 0, 0, 0])).expect("png");
        assert_eq!((img.width, img.height, img.components), (2, 1, 3));
        assert_eq!(img.samples, vec![0, 0, 255, 0, 0, 0]);
        assert_eq!(img.alpha, Some(vec![255, 0]));
        let mut doc = Document::with_version("1.7");
        let id = img.write(&mut doc).expect("write");
        let dict = &doc.get_object(id).and_then(Object::as_stream).expect("stream").dict;
        assert!(dict.get(b"SMask").and_then(Object::as_reference).is_ok());
    }

    #[test]
    fn opaque_images_get_no_mask() {
        let img = decode_png(&png(1, 1, png::ColorType::Rgba, &[1, 2, 3, 255])).expect("png");
        assert!(img.alpha.is_none());
        let img = decode_png(&png(2, 2, png::ColorType::Grayscale, &[0, 1, 2, 3])).expect("png");
        assert_eq!((img.components, img.samples.len()), (1, 4));
    }

    #[test]
    fn oversized_and_garbage_images_are_refused() {
        let big = png(
            MAX_IMAGE_SIDE + 1,
            1,
            png::ColorType::Grayscale,
            &vec![0; MAX_IMAGE_SIDE as usize + 1],
        );
        let err = decode_png(&big).expect_err("too wide");
        assert!(err.to_string().contains("4097×1"), "{err}");
        assert!(decode_png(b"\x89PNG\r\n\x1a\nnot really").is_err());
        assert!(decode_png(b"").is_err());
    }
}
