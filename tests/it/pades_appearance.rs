//! Visible signatures per NĐ 30 (`vanthu pdf sign --appearance leader|seal|attachment`):
//! the signed files stay valid (vanthu verify, pyHanko, qpdf --check), poppler's `pdftotext`
//! returns the exact Vietnamese strings, `pdftoppm` renders blue, red and black pixels where
//! the widgets are, and the seal covers about the left third of the leader's signature image
//! (geometry read back from the PDF objects).
//!
//! Needs pdftotext/pdftoppm (poppler-utils), qpdf and pyHanko; a missing one skips, or fails
//! under `VANTHU_TEST_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::DateTime;
use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, ObjectId, Stream};
use unicode_normalization::UnicodeNormalization;
use vanthu::pades::{self, Appearance, AppearanceKind, SignOptions, SigningKey};

use crate::common;
use crate::pades_support::{certs, pyhanko, text, tool};

const POSITION: [&str; 2] = ["KT. BỘ TRƯỞNG", "THỨ TRƯỞNG"];
const NAME: &str = "Nguyễn Văn An";
const NUMBER_SYMBOL: &str = "123/QĐ-BTP";
const AGENCY: &str = "Bộ Tư pháp";

/// A `pages`-page A4 PDF with a line of text at the top of each page.
fn sample_pdf(pages: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let mut kids = Vec::new();
    for n in 0..pages {
        let content = Content {
            operations: vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 13.into()]),
                Operation::new("Td", vec![85.into(), 700.into()]),
                Operation::new(
                    "Tj",
                    vec![Object::string_literal(format!("Phu luc I - trang {}", n + 1))],
                ),
                Operation::new("ET", vec![]),
            ],
        };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().expect("encode")));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        });
        kids.push(page_id.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => pages as i64 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().expect("png header");
    w.write_image_data(rgba).expect("png data");
    w.finish().expect("png finish");
    out
}

/// A blue "handwritten" stroke on a transparent background: a thick sine wave.
pub(crate) fn signature_png() -> Vec<u8> {
    let (w, h) = (300u32, 120u32);
    let mut px = vec![0u8; (w * h * 4) as usize];
    for x in 10..290 {
        let yc = 60.0 + 35.0 * ((x as f32) / 30.0).sin();
        for y in 0..h {
            if ((y as f32) - yc).abs() < 7.0 {
                let i = ((y * w + x) * 4) as usize;
                px[i..i + 4].copy_from_slice(&[10, 40, 200, 255]);
            }
        }
    }
    encode_png(w, h, &px)
}

/// A red seal: a ring and a star-less centre disc, transparent outside.
fn seal_png() -> Vec<u8> {
    let s = 200u32;
    let mut px = vec![0u8; (s * s * 4) as usize];
    for y in 0..s {
        for x in 0..s {
            let (dx, dy) = (x as f32 - 99.5, y as f32 - 99.5);
            let r = (dx * dx + dy * dy).sqrt();
            if (85.0..98.0).contains(&r) || r < 30.0 {
                let i = ((y * s + x) * 4) as usize;
                px[i..i + 4].copy_from_slice(&[220, 20, 20, 255]);
            }
        }
    }
    encode_png(s, s, &px)
}

crate::scratch_work!();

impl Work {
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write");
        p.display().to_string()
    }

    fn sign(&self, args: &[&str], input: &Path, output: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args(["pdf", "sign"])
            .args(args)
            .arg(input)
            .arg(output)
            .output()
            .expect("run vanthu")
    }

    fn sign_ok(&self, args: &[&str], input: &Path, output: &Path) {
        let o = self.sign(args, input, output);
        assert!(o.status.success(), "vanthu pdf sign {args:?}: {}", text(&o));
    }
}

fn leader_signer() -> Vec<String> {
    vec![
        "--key".into(),
        certs("leader-rsa.key.pem"),
        "--cert".into(),
        certs("leader-rsa.pem"),
        "--chain".into(),
        certs("sub-ca.pem"),
    ]
}

fn seal_signer() -> Vec<String> {
    vec![
        "--key".into(),
        certs("seal-rsa.key.pem"),
        "--cert".into(),
        certs("seal-rsa.pem"),
        "--chain".into(),
        certs("sub-ca.pem"),
    ]
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// vanthu verify (with the test CRLs), pyHanko and qpdf --check all accept `file`, which holds
/// `count` signatures.
fn assert_valid(pyhanko: &str, file: &Path, count: usize) {
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "verify", "--trust", &certs("root-ca.pem")])
        .args(["--crl", &certs("root-ca.crl"), "--crl", &certs("sub-ca.crl")])
        .arg(file)
        .output()
        .expect("vanthu verify");
    let out = text(&o);
    assert!(o.status.success(), "vanthu verify: {out}");
    assert_eq!(out.matches("]: Valid").count(), count, "vanthu verify: {out}");

    let o = Command::new(pyhanko)
        .args(["sign", "validate", "--trust", &certs("root-ca.pem"), "--trust-replace"])
        .arg("--no-revocation-check")
        .arg(file)
        .output()
        .expect("pyhanko");
    let out = text(&o);
    assert!(o.status.success(), "pyHanko: {out}");
    assert_eq!(out.matches("INTACT:TRUSTED").count(), count, "pyHanko: {out}");
    assert!(!out.contains("ILLEGAL"), "pyHanko: {out}");

    let o = Command::new("qpdf").arg("--check").arg(file).output().expect("qpdf");
    assert!(
        o.status.success() && text(&o).contains("No syntax or stream encoding errors"),
        "qpdf: {}",
        text(&o)
    );

    // poppler: every signature's CMS is valid (the certificate check is left to the suites
    // that run the OCSP responder; these signers' certificates name one).
    if Command::new("pdfsig").arg("-v").output().is_ok() {
        let o = Command::new("pdfsig").arg(file).output().expect("pdfsig");
        let out = text(&o);
        assert_eq!(
            out.matches("Signature Validation: Signature is Valid.").count(),
            count,
            "pdfsig: {out}"
        );
    } else {
        common::skip::<()>("pdfsig is not installed (signature appearances)");
    }
}

/// The fonts poppler lists for a file (names, types, embedded and subset flags).
fn pdffonts(file: &Path) -> String {
    let o = Command::new("pdffonts").arg(file).output().expect("pdffonts");
    assert!(o.status.success(), "pdffonts: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Text of one page, as poppler extracts it.
pub(crate) fn pdftotext(file: &Path, page: usize) -> String {
    let p = page.to_string();
    let o = Command::new("pdftotext")
        .args(["-f", &p, "-l", &p, "-enc", "UTF-8"])
        .arg(file)
        .arg("-")
        .output()
        .expect("pdftotext");
    assert!(o.status.success(), "pdftotext: {}", text(&o));
    String::from_utf8(o.stdout).expect("pdftotext prints UTF-8")
}

fn assert_line(extracted: &str, expected: &str) {
    let nfc: String = expected.nfc().collect();
    assert_eq!(expected, nfc, "the expected string is NFC");
    assert!(
        extracted.lines().any(|l| l.trim() == expected),
        "pdftotext did not return the line {expected:?} exactly: {extracted:?}"
    );
}

/// A page rendered by `pdftoppm -r 72` (1 pixel = 1 point): width, height, RGB rows.
struct Render {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn pdftoppm(w: &Work, file: &Path, page: usize) -> Render {
    let p = page.to_string();
    let stem = w.path(&format!("render-{page}"));
    let o = Command::new("pdftoppm")
        .args(["-r", "72", "-png", "-singlefile", "-f", &p, "-l", &p])
        .arg(file)
        .arg(&stem)
        .output()
        .expect("pdftoppm");
    assert!(o.status.success(), "pdftoppm: {}", text(&o));
    let bytes = std::fs::read(stem.with_extension("png")).expect("rendered page");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("png info");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!(info.color_type, png::ColorType::Rgb, "pdftoppm writes RGB");
    buf.truncate(info.buffer_size());
    Render {
        width: info.width as usize,
        height: info.height as usize,
        rgb: buf,
    }
}

impl Render {
    /// Pixels inside `r` (PDF points, origin bottom left) for which `pred(r, g, b)` holds.
    fn count(&self, r: [f32; 4], pred: impl Fn(u8, u8, u8) -> bool) -> usize {
        let x1 = r[0].max(0.0) as usize;
        let x2 = (r[2].min(self.width as f32)) as usize;
        let y1 = (self.height as f32 - r[3]).max(0.0) as usize;
        let y2 = (self.height as f32 - r[1]).min(self.height as f32) as usize;
        let mut n = 0;
        for y in y1..y2 {
            for x in x1..x2 {
                let i = (y * self.width + x) * 3;
                if pred(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]) {
                    n += 1;
                }
            }
        }
        n
    }
}

fn blue(r: u8, g: u8, b: u8) -> bool {
    b > 150 && r < 100 && g < 120
}

fn red(r: u8, g: u8, b: u8) -> bool {
    r > 150 && g < 100 && b < 100
}

fn black(r: u8, g: u8, b: u8) -> bool {
    r < 90 && g < 90 && b < 90
}

/// A signature widget read back from the file.
struct Widget {
    rect: [f32; 4],
    page: usize,
    /// The page rectangle of the image the appearance draws, if any.
    image: Option<[f32; 4]>,
    /// Names of the appearance's font and XObject resources.
    resources: Vec<String>,
}

fn floats(o: &Object) -> Vec<f32> {
    o.as_array()
        .expect("array")
        .iter()
        .map(|n| n.as_float().expect("number"))
        .collect()
}

/// Signature widgets in AcroForm order, with the image rectangle computed from the appearance
/// stream (`cm` before `Do`, BBox at the origin mapped onto Rect).
fn widgets(pdf: &[u8]) -> Vec<Widget> {
    let doc = Document::load_mem(pdf).expect("load signed pdf");
    let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
    let catalog = doc.catalog().expect("catalog");
    let acro = doc
        .dereference(catalog.get(b"AcroForm").expect("AcroForm"))
        .expect("acroform")
        .1
        .as_dict()
        .expect("dict");
    let fields = doc
        .dereference(acro.get(b"Fields").expect("Fields"))
        .expect("fields")
        .1
        .as_array()
        .expect("array");
    let mut out = Vec::new();
    for f in fields {
        let id = f.as_reference().expect("field ref");
        let w = doc.get_dictionary(id).expect("field");
        let rect: [f32; 4] = floats(w.get(b"Rect").expect("Rect")).try_into().expect("4 numbers");
        let page_id = w.get(b"P").and_then(Object::as_reference).expect("/P");
        let page = pages.iter().position(|p| *p == page_id).expect("page") + 1;
        let mut image = None;
        let mut resources = Vec::new();
        if let Ok(ap) = w.get(b"AP").and_then(Object::as_dict) {
            let form = doc
                .get_object(ap.get(b"N").and_then(Object::as_reference).expect("/N"))
                .and_then(Object::as_stream)
                .expect("form");
            let bbox = floats(form.dict.get(b"BBox").expect("BBox"));
            assert_eq!((bbox[0], bbox[1]), (0.0, 0.0));
            let res = form
                .dict
                .get(b"Resources")
                .and_then(Object::as_dict)
                .expect("own /Resources");
            for (cat, entries) in res.iter() {
                for (name, _) in entries.as_dict().expect("dict").iter() {
                    resources.push(format!(
                        "{}/{}",
                        String::from_utf8_lossy(cat),
                        String::from_utf8_lossy(name)
                    ));
                }
            }
            let content = Content::decode(&form.decompressed_content().expect("inflate")).expect("content");
            let (sx, sy) = ((rect[2] - rect[0]) / bbox[2], (rect[3] - rect[1]) / bbox[3]);
            let mut cm = None;
            for op in &content.operations {
                match op.operator.as_str() {
                    "cm" => cm = Some(op.operands.iter().map(|o| o.as_float().expect("n")).collect::<Vec<_>>()),
                    "Do" => {
                        let m = cm.clone().expect("cm before Do");
                        image = Some([
                            rect[0] + m[4] * sx,
                            rect[1] + m[5] * sy,
                            rect[0] + (m[4] + m[0]) * sx,
                            rect[1] + (m[5] + m[3]) * sy,
                        ]);
                    }
                    _ => {}
                }
            }
        }
        out.push(Widget {
            rect,
            page,
            image,
            resources,
        });
    }
    out
}

fn leader_args(image: &str) -> Vec<String> {
    leader_named(image, NAME)
}

fn leader_named(image: &str, name: &str) -> Vec<String> {
    let mut args = leader_signer();
    args.extend([
        "--appearance".into(),
        "leader".into(),
        "--image".into(),
        image.into(),
        "--position".into(),
        POSITION.join("\n"),
        "--name".into(),
        name.into(),
    ]);
    args
}

#[test]
fn leader_then_seal_render_extract_and_stay_valid() {
    let (Some(pyhanko), Some(()), Some(()), Some(())) = (
        pyhanko(),
        tool("pdftotext", "-v"),
        tool("pdftoppm", "-v"),
        tool("qpdf", "--version"),
    ) else {
        return;
    };
    let w = Work::new();
    let input = PathBuf::from(w.write("in.pdf", &sample_pdf(2)));
    let sig_png = w.write("chu-ky.png", &signature_png());
    let seal_png = w.write("con-dau.png", &seal_png());
    let (leader, both) = (w.path("leader.pdf"), w.path("leader-seal.pdf"));

    w.sign_ok(&refs(&leader_args(&sig_png)), &input, &leader);
    assert_valid(&pyhanko, &leader, 1);
    // NĐ 30 sets the title and the name in bold: only the bold face is embedded.
    let fonts = pdffonts(&leader);
    assert!(fonts.contains("+LiberationSerif-Bold"), "{fonts}");
    assert!(!fonts.contains("+LiberationSerif "), "{fonts}");
    let mut args = seal_signer();
    args.extend(["--appearance".into(), "seal".into(), "--image".into(), seal_png]);
    w.sign_ok(&refs(&args), &leader, &both);
    assert_valid(&pyhanko, &both, 2);

    let signed = std::fs::read(&both).expect("read");
    let ws = widgets(&signed);
    assert_eq!(ws.len(), 2, "two signature fields");
    let (l, s) = (&ws[0], &ws[1]);
    // The leader's signature defaults to the bottom right of the last page.
    assert_eq!((l.page, s.page), (2, 2), "both on the last page");
    assert!(
        l.rect[0] > 595.0 / 2.0 && l.rect[3] < 842.0 / 2.0,
        "leader at the bottom right: {:?}",
        l.rect
    );
    let img = l.image.expect("the leader's appearance draws an image");
    assert!(img[0] >= l.rect[0] && img[2] <= l.rect[2] && img[1] >= l.rect[1] && img[3] <= l.rect[3]);
    for res in [&l.resources, &s.resources] {
        assert!(res.iter().all(|r| r == "Font/F1" || r == "XObject/Im1"), "{res:?}");
    }
    // The seal: actual size (36 mm), over the left third of the image, on its left.
    let seal = s.rect;
    let mm36 = 36.0 * 72.0 / 25.4;
    assert!(((seal[2] - seal[0]) - mm36).abs() < 0.5, "seal width {:?}", seal);
    assert!(((seal[3] - seal[1]) - mm36).abs() < 0.5, "seal height {:?}", seal);
    assert!(seal[0] < img[0], "the seal sticks out on the left: {seal:?} vs {img:?}");
    let covered = (seal[2] - img[0]) / (img[2] - img[0]);
    assert!(
        (covered - 1.0 / 3.0).abs() < 0.02,
        "seal covers {covered} of the image width"
    );
    let centre = |r: [f32; 4]| (r[1] + r[3]) / 2.0;
    assert!((centre(seal) - centre(img)).abs() < 0.5, "vertically centred");
    assert_eq!(s.image, Some(seal), "a square seal image fills its square widget");

    // Text extraction returns the exact Vietnamese lines.
    let extracted = pdftotext(&both, 2);
    for line in POSITION.iter().chain([&NAME]) {
        assert_line(&extracted, line);
    }

    // Rendering: blue signature strokes right of the seal, red seal pixels, black text above.
    let page = pdftoppm(&w, &both, 2);
    let right_of_seal = [seal[2] + 1.0, img[1], img[2], img[3]];
    assert!(page.count(right_of_seal, blue) > 200, "blue signature pixels");
    assert!(page.count(seal, red) > 500, "red seal pixels");
    let position_band = [l.rect[0], img[3], l.rect[2], l.rect[3]];
    assert!(page.count(position_band, black) > 100, "black position text");
    let name_band = [l.rect[0], l.rect[1], l.rect[2], img[1]];
    assert!(page.count(name_band, black) > 50, "black name text");
    let page1 = pdftoppm(&w, &both, 1);
    assert_eq!(
        page1.count(l.rect, |r, g, b| !(r > 240 && g > 240 && b > 240)),
        0,
        "page 1 is untouched there"
    );
}

#[test]
fn attachment_shows_number_agency_and_iso_time_top_right() {
    let (Some(pyhanko), Some(()), Some(()), Some(())) = (
        pyhanko(),
        tool("pdftotext", "-v"),
        tool("pdftoppm", "-v"),
        tool("qpdf", "--version"),
    ) else {
        return;
    };
    let w = Work::new();
    let input = PathBuf::from(w.write("phu-luc.pdf", &sample_pdf(3)));
    let out = w.path("phu-luc-signed.pdf");
    let mut args = seal_signer();
    args.extend([
        "--appearance".into(),
        "attachment".into(),
        "--number-symbol".into(),
        NUMBER_SYMBOL.into(),
        "--agency".into(),
        AGENCY.into(),
    ]);
    w.sign_ok(&refs(&args), &input, &out);
    assert_valid(&pyhanko, &out, 1);
    // The attachment's text is regular (NĐ 30: normal case, upright, size 10).
    let fonts = pdffonts(&out);
    assert!(fonts.contains("+LiberationSerif "), "{fonts}");
    assert!(!fonts.contains("Bold"), "{fonts}");

    let signed = std::fs::read(&out).expect("read");
    let ws = widgets(&signed);
    assert_eq!(ws.len(), 1);
    let r = ws[0].rect;
    assert_eq!(ws[0].page, 1, "page 1");
    assert!(r[0] > 595.0 / 2.0 && r[1] > 842.0 * 0.8, "top right: {r:?}");
    assert!(
        r[2] <= 595.0 - 42.0 && r[3] <= 842.0 - 14.0,
        "inside the page's margins: {r:?}"
    );
    assert!(ws[0].image.is_none(), "no image on an attachment");
    assert_eq!(ws[0].resources, vec!["Font/F1".to_string()]);

    // The time shown is the signature's /M, in ISO 8601 with +07:00.
    let doc = Document::load_mem(&signed).expect("load");
    let m = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .find(|d| d.get(b"Type").and_then(Object::as_name).ok() == Some(b"Sig"))
        .and_then(|d| d.get(b"M").ok()?.as_str().ok().map(<[u8]>::to_vec))
        .expect("/M");
    let m = String::from_utf8(m).expect("ascii");
    assert!(m.ends_with("+07'00'"), "{m}");
    let iso = format!(
        "{}-{}-{}T{}:{}:{}+07:00",
        &m[2..6],
        &m[6..8],
        &m[8..10],
        &m[10..12],
        &m[12..14],
        &m[14..16]
    );
    let extracted = pdftotext(&out, 1);
    for line in [AGENCY, NUMBER_SYMBOL, iso.as_str()] {
        assert_line(&extracted, line);
    }
    let page = pdftoppm(&w, &out, 1);
    assert!(page.count(r, black) > 100, "black text in the widget");
    assert_eq!(page.count(r, |r, g, b| r != g || g != b), 0, "black only (no colour)");
}

#[test]
fn the_library_writes_the_signing_time_it_is_given() {
    let Some(()) = tool("pdftotext", "-v") else { return };
    let cert = pades::load_certificates(&std::fs::read(certs("seal-ec.pem")).expect("cert"))
        .expect("parse")
        .remove(0);
    let chain = pades::load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("chain")).expect("chain");
    let key = SigningKey::from_bytes(&std::fs::read(certs("seal-ec.key.pem")).expect("key"), None, &cert).expect("key");
    let mut opts = SignOptions::at(DateTime::parse_from_rfc3339("2026-03-05T14:30:05+07:00").expect("time"));
    opts.appearance = Some(Appearance {
        kind: AppearanceKind::Attachment {
            number_symbol: "05/2026/TT-BTP".into(),
            // decomposed on purpose: drawn and extracted as NFC
            agency: Some(
                "Cu\u{323}c Qua\u{309}n ly\u{301} thi ha\u{300}nh a\u{301}n da\u{302}n su\u{31b}\u{323}".into(),
            ),
        },
        page: None,
        rect: None,
    });
    let signed = pades::sign_pdf(&sample_pdf(1), &key, &cert, &chain, &opts).expect("sign");
    let w = Work::new();
    let file = PathBuf::from(w.write("signed.pdf", &signed));
    let extracted = pdftotext(&file, 1);
    assert_line(&extracted, "2026-03-05T14:30:05+07:00");
    assert_line(&extracted, "05/2026/TT-BTP");
    assert_line(&extracted, "Cục Quản lý thi hành án dân sự");
}

#[test]
fn bad_appearance_inputs_fail_with_one_line() {
    let w = Work::new();
    let input = PathBuf::from(w.write("in.pdf", &sample_pdf(1)));
    let out = w.path("out.pdf");
    let sig = w.write("sig.png", &signature_png());
    let wide = w.write("wide.png", &encode_png(4097, 1, &vec![0; 4097 * 4]));
    let junk = w.write("junk.png", b"\x89PNG\r\n\x1a\nthis is not a PNG");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            [
                &seal_signer()[..],
                &["--appearance".into(), "seal".into(), "--image".into(), sig.clone()],
            ]
            .concat(),
            "--rect",
        ),
        (
            [&leader_signer()[..], &["--appearance".into(), "leader".into()]].concat(),
            "--image",
        ),
        (leader_args(&wide), "4096"),
        (leader_args(&junk), "PNG"),
        (leader_named(&sig, "Nguyễn 漢"), "U+6F22"),
        (
            [&leader_args(&sig)[..], &["--rect".into(), "10,10,30,30".into()]].concat(),
            "too small",
        ),
        (
            [&leader_args(&sig)[..], &["--rect".into(), "10,10,5".into()]].concat(),
            "x1,y1,x2,y2",
        ),
        (
            [&leader_args(&sig)[..], &["--page".into(), "7".into()]].concat(),
            "page 7",
        ),
        (
            [&seal_signer()[..], &["--appearance".into(), "attachment".into()]].concat(),
            "--number-symbol",
        ),
    ];
    for (args, expected) in cases {
        let o = w.sign(&refs(&args), &input, &out);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(expected), "{args:?}: expected {expected:?} in {err:?}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "nothing written for {args:?}");
    }
}

#[test]
fn explicit_page_and_rect_are_used_and_invisible_signatures_embed_no_font() {
    let cert = pades::load_certificates(&std::fs::read(certs("leader-ec.pem")).expect("cert"))
        .expect("parse")
        .remove(0);
    let chain = pades::load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("chain")).expect("chain");
    let key =
        SigningKey::from_bytes(&std::fs::read(certs("leader-ec.key.pem")).expect("key"), None, &cert).expect("key");
    let input = sample_pdf(3);
    let mut opts = SignOptions::at(DateTime::parse_from_rfc3339("2026-03-05T14:30:05+07:00").expect("time"));
    let invisible = pades::sign_pdf(&input, &key, &cert, &chain, &opts).expect("sign");
    let update = &invisible[input.len()..];
    assert!(
        !update.windows(9).any(|w| w == b"FontFile2"),
        "no font in an invisible signature"
    );
    assert_eq!(widgets(&invisible)[0].rect, [0.0; 4]);

    opts.appearance = Some(Appearance {
        kind: AppearanceKind::Leader {
            image: signature_png(),
            position: vec!["CỤC TRƯỞNG".into()],
            name: "Trần Thị Bình".into(),
        },
        page: Some(2),
        rect: Some("100,200,300,330".parse().expect("rect")),
    });
    let signed = pades::sign_pdf(&input, &key, &cert, &chain, &opts).expect("sign");
    let ws = widgets(&signed);
    assert_eq!((ws[0].page, ws[0].rect), (2, [100.0, 200.0, 300.0, 330.0]));
    let img = ws[0].image.expect("image");
    assert!(
        img[0] >= 100.0 && img[2] <= 300.0 && img[1] > 200.0 && img[3] < 330.0,
        "{img:?}"
    );
    // The font is a subset: far smaller than the 393 KB Liberation Serif.
    let update = signed.len() - input.len();
    assert!(
        update < 2 * pades::DEFAULT_CONTENTS_SIZE + 40_000,
        "update of {update} bytes"
    );

    // A seal with an explicit rectangle needs no leader signature.
    opts.appearance = Some(Appearance {
        kind: AppearanceKind::Seal {
            image: seal_png(),
            size_mm: 36.0,
        },
        page: Some(1),
        rect: Some("50,50,150,150".parse().expect("rect")),
    });
    let sealed = pades::sign_pdf(&input, &key, &cert, &chain, &opts).expect("seal with --rect");
    let ws = widgets(&sealed);
    assert_eq!((ws[0].page, ws[0].image), (1, Some([50.0, 50.0, 150.0, 150.0])));
}
