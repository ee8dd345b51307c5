//! `cargo fuzz run edxml_parse`: the edXML parser must return Ok or Err on any input, never
//! panic, and stay within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vanthu::edxml::{parse_bytes, DiscardSink, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_attachment_bytes: 1 << 20,
        ..Limits::default()
    };
    let _ = parse_bytes(data, &mut DiscardSink, &limits);
    let lenient = Limits {
        skip_undecodable: true,
        ..limits
    };
    let _ = parse_bytes(data, &mut DiscardSink, &lenient);
});
