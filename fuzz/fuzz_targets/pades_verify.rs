//! The PAdES signature parser: any bytes given to `verify_pdf` as a PDF (signature dictionaries,
//! byte ranges, `/Contents` CMS, DSS, later revisions) must give a report or an error, never a
//! panic, and in bounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vanthu::pades::{verify_pdf, VerifyOptions};

fuzz_target!(|data: &[u8]| {
    let opts = VerifyOptions {
        trust: Vec::new(),
        crls: Vec::new(),
        at: chrono::DateTime::UNIX_EPOCH,
        allow_unknown_revocation: true,
    };
    let _ = verify_pdf(data, &opts);
});
