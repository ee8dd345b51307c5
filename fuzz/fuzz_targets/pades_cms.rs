//! The CMS inside a signature: arbitrary bytes placed in the `/Contents` of a well-formed
//! signed PDF (so the PDF layer passes and the CMS, certificate and attribute decoders see the
//! fuzzer's bytes) must give a report, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vanthu::pades::{verify_pdf, VerifyOptions};

/// A minimal one-page PDF with one signature whose `/Contents` hole is `hole` hex digits wide.
fn pdf_around(cms: &[u8]) -> Vec<u8> {
    let hex: String = cms.iter().map(|b| format!("{b:02X}")).collect();
    let head = "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >> endobj\n\
                2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n\
                3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >> endobj\n\
                4 0 obj << /FT /Sig /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R /T (Signature1) /V 5 0 R >> endobj\n\
                5 0 obj << /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 AAAAAAAAAA BBBBBBBBBB CCCCCCCCCC] /Contents ";
    let mut out = head.as_bytes().to_vec();
    let gap_start = out.len();
    out.push(b'<');
    out.extend_from_slice(hex.as_bytes());
    out.push(b'>');
    let gap_end = out.len();
    out.extend_from_slice(b" >> endobj\ntrailer << /Root 1 0 R /Size 6 >>\n%%EOF\n");
    let range = format!("{:<10} {:<10} {:<10}", gap_start, gap_end, out.len() - gap_end);
    if let Some(at) = out.windows(10).position(|w| w == b"AAAAAAAAAA") {
        out[at..at + 32].copy_from_slice(range.as_bytes());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let opts = VerifyOptions {
        trust: Vec::new(),
        crls: Vec::new(),
        at: chrono::DateTime::UNIX_EPOCH,
        allow_unknown_revocation: true,
    };
    let _ = verify_pdf(&pdf_around(data), &opts);
});
