//! `cargo fuzz run edxml_dsig`: XML-signature verification and canonicalization must return
//! Ok or Err on any input, never panic, and stay within their limits. Seed the corpus with
//! signed packets (`vanthu edxml build SPEC --sign-key … --sign-cert …`) to reach the checks
//! past the Signature's structure.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use vanthu::edxml::dsig::{canonicalize, verify_packet};
use vanthu::edxml::Limits;
use vanthu::pades::{load_certificates, VerifyOptions};

const ROOT: &[u8] = include_bytes!("../../certs-test/root-ca.pem");

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let opts = VerifyOptions {
        trust: load_certificates(ROOT).unwrap_or_default(),
        crls: Vec::new(),
        at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        allow_unknown_revocation: true,
    };
    let _ = verify_packet(Cursor::new(data), &opts, &limits);
    for exclusive in [false, true] {
        let mut out = Vec::new();
        let _ = canonicalize(Cursor::new(data), exclusive, true, &mut out, &limits);
    }
});
