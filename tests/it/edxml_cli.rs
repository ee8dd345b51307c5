//! `vanthu edxml parse|build|check` through the real binary.

use std::path::Path;
use std::process::{Command, Output};

use crate::edxml::FIXTURES;

fn vanthu(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(args)
        .current_dir(dir)
        .env_remove("VANTHU_LOG")
        .output()
        .expect("run vanthu")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).expect("utf8 stdout")
}

/// Failed with exactly one line on stderr; returns it.
fn one_line_failure(out: &Output, what: &str) -> String {
    assert!(!out.status.success(), "{what} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one line on stderr, got:\n{stderr}");
    lines[0].to_string()
}

fn fixture_path(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

#[test]
fn parse_prints_the_model_and_writes_attachments_under_out() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_dir = dir.path().join("files");
    let out = vanthu(
        dir.path(),
        &[
            "edxml",
            "parse",
            &fixture_path("edoc_new.edxml"),
            "--out",
            out_dir.to_str().expect("path"),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&out, "parse")).expect("json");
    assert_eq!(json["kind"], "document");
    assert_eq!(json["from"]["organ_id"], "002.00.20.H13");
    assert_eq!(json["code"]["notation"], "VPCP-TTĐT");
    assert_eq!(json["promulgation"]["date"], "2019-01-16");
    assert_eq!(json["attachments"][0]["name"], "1896_QD-TTg_m_294779.doc");
    assert_eq!(json["attachments"][0]["size"], 388_347);
    let written = std::fs::read(out_dir.join("1896_QD-TTg_m_294779.doc")).expect("attachment written");
    assert_eq!(written.len(), 388_347);
    assert!(written.starts_with(b"<?xml"));
}

#[test]
fn parse_build_parse_is_lossless() {
    let dir = tempfile::tempdir().expect("tmp");
    for fixture in [
        "edoc_update.edxml",
        "edoc_replacement.edxml",
        "status_cancellation_13.edxml",
    ] {
        let files = dir.path().join(format!("{fixture}.files"));
        let first = ok(
            &vanthu(
                dir.path(),
                &[
                    "edxml",
                    "parse",
                    &fixture_path(fixture),
                    "--out",
                    files.to_str().expect("p"),
                ],
            ),
            "parse",
        );
        let spec = dir.path().join(format!("{fixture}.json"));
        std::fs::write(&spec, &first).expect("write spec");
        let value: serde_json::Value = serde_json::from_str(&first).expect("json");
        let mut args = vec!["edxml".to_string(), "build".into(), spec.display().to_string()];
        for a in value["attachments"].as_array().cloned().unwrap_or_default() {
            args.push("--attach".into());
            args.push(files.join(a["name"].as_str().expect("name")).display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let built = vanthu(dir.path(), &args);
        assert!(
            built.status.success(),
            "build {fixture}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let rebuilt = dir.path().join(format!("{fixture}.rebuilt.edxml"));
        std::fs::write(&rebuilt, &built.stdout).expect("write");
        let second = ok(
            &vanthu(dir.path(), &["edxml", "parse", rebuilt.to_str().expect("p")]),
            "parse again",
        );
        // The model is unchanged; only the (unsigned) rebuild no longer carries a Signature.
        let model = |json: &str| {
            let mut v: serde_json::Value = serde_json::from_str(json).expect("json");
            v.as_object_mut().expect("object").remove("signature_present");
            v
        };
        assert_eq!(
            model(&first),
            model(&second),
            "{fixture}: parse → build → parse changed the model"
        );
    }
}

#[test]
fn build_from_a_minimal_spec_with_attach() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("spec.json");
    std::fs::write(
        &spec,
        r#"{"kind":"document","from":{"organ_id":"000.00.00.G12","organ_name":"Bộ Tư pháp"},
            "to":[{"organ_id":"000.00.00.H41"}],"document_id":"d-1",
            "code":{"number":"5","notation":"BTP-VP"},"promulgation":{"date":"2026-11-30"},
            "subject":"V/v thử nghiệm"}"#,
    )
    .expect("spec");
    let pdf = dir.path().join("Công văn 5.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 test").expect("pdf");
    let out = vanthu(
        dir.path(),
        &[
            "edxml",
            "build",
            spec.to_str().expect("p"),
            "--attach",
            pdf.to_str().expect("p"),
        ],
    );
    let xml = ok(&out, "build");
    assert!(xml.contains("<AttachmentName>Công văn 5.pdf</AttachmentName>"), "{xml}");
    assert!(xml.contains("<ContentType>application/pdf</ContentType>"));
    assert!(xml.contains("<edXML:Priority>0</edXML:Priority>"));
    let built = dir.path().join("built.edxml");
    std::fs::write(&built, xml).expect("write");
    let check = ok(
        &vanthu(dir.path(), &["edxml", "check", built.to_str().expect("p")]),
        "check",
    );
    assert_eq!(
        check.trim(),
        "ok: document packet, business type 0, 1 receiver(s), 1 attachment(s)"
    );
}

#[test]
fn check_reports_what_is_unusual_and_exits_zero_when_usable() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = vanthu(dir.path(), &["edxml", "check", &fixture_path("edoc.edxml")]);
    let text = ok(&out, "check");
    assert!(text.contains("invalid base64"), "{text}");
    assert!(text.contains("Signature"), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("ok: document packet")),
        "{text}"
    );
    let out = vanthu(dir.path(), &["edxml", "check", &fixture_path("status_finish_06.edxml")]);
    assert_eq!(ok(&out, "check status").trim(), "ok: status packet 06 (Hoàn thành)");
}

#[test]
fn bad_input_fails_with_one_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.edxml");
    std::fs::write(&bad, "<!DOCTYPE x [<!ENTITY a \"b\">]><edXML/>").expect("write");
    let line = one_line_failure(
        &vanthu(dir.path(), &["edxml", "parse", bad.to_str().expect("p")]),
        "parse doctype",
    );
    assert!(line.contains("DOCTYPE"), "{line}");
    let line = one_line_failure(
        &vanthu(dir.path(), &["edxml", "check", bad.to_str().expect("p")]),
        "check doctype",
    );
    assert!(line.contains("DOCTYPE"), "{line}");
    let line = one_line_failure(
        &vanthu(dir.path(), &["edxml", "parse", "missing.edxml"]),
        "parse missing",
    );
    assert!(line.contains("missing.edxml"), "{line}");

    // Garbage base64: parse fails and leaves no file behind.
    let garbage = dir.path().join("garbage.edxml");
    std::fs::write(&garbage, std::fs::read(fixture_path("edoc.edxml")).expect("fixture")).expect("write");
    let files = dir.path().join("files");
    let line = one_line_failure(
        &vanthu(
            dir.path(),
            &[
                "edxml",
                "parse",
                garbage.to_str().expect("p"),
                "--out",
                files.to_str().expect("p"),
            ],
        ),
        "parse garbage",
    );
    assert!(line.contains("base64"), "{line}");
    assert_eq!(std::fs::read_dir(&files).expect("dir").count(), 0);
    // With --skip-undecodable the same packet parses; the attachment has no size.
    let out = vanthu(
        dir.path(),
        &[
            "edxml",
            "parse",
            garbage.to_str().expect("p"),
            "--skip-undecodable",
            "--out",
            files.to_str().expect("p"),
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&out, "parse --skip-undecodable")).expect("json");
    assert_eq!(json["attachments"][0]["name"], "GUIDE_INSTALL OPENVPN.SIGNED.PDF");
    assert!(json["attachments"][0].get("size").is_none());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid base64"));
    assert_eq!(std::fs::read_dir(&files).expect("dir").count(), 0);

    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, r#"{"kind":"status","from":{"organ_id":"000.00.00.H41"}}"#).expect("spec");
    let line = one_line_failure(
        &vanthu(dir.path(), &["edxml", "build", spec.to_str().expect("p")]),
        "build incomplete",
    );
    assert!(line.contains("response_for.organ_id"), "{line}");
    std::fs::write(&spec, "{not json").expect("spec");
    one_line_failure(
        &vanthu(dir.path(), &["edxml", "build", spec.to_str().expect("p")]),
        "build bad json",
    );
}
