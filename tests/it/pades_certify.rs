//! Certification signatures (DocMDP P=1/2/3): `vanthu pdf sign --certify P` checked by pyHanko
//! (`sign validate`, and its Python API for the DocMDP level it reads), pdfsig, `qpdf --check`
//! and `vanthu pdf verify`; pyHanko-certified files verified by vanthu; what each level allows
//! afterwards (a second signature, an annotation), the refusals (certify a signed file, sign a
//! P=1 file, --certify 0/4), and a /Perms /DocMDP that names a later signature.
//!
//! The pyHanko Python helper is `tests/it/pades_certify/helper.py`, run with the venv's python
//! next to `VANTHU_TEST_PYHANKO`. Needs pyHanko, pdfsig, certutil and qpdf; a missing one skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lopdf::{Document, IncrementalDocument, Object};
use serde_json::Value;

use crate::pades_support::{certs, pyhanko_validate, sample_pdf, text, validators};

/// The venv's python next to the pyHanko CLI.
fn python(pyhanko: &str) -> PathBuf {
    let p = Path::new(pyhanko);
    match p.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("python"),
        _ => PathBuf::from("python3"),
    }
}

fn helper() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/pades_certify/helper.py")
        .display()
        .to_string()
}

/// The pyHanko Python helper; panics unless it succeeds.
fn py(pyhanko: &str, args: &[&str]) -> String {
    let o = Command::new(python(pyhanko))
        .arg(helper())
        .args(args)
        .output()
        .expect("run the pyHanko helper");
    assert!(o.status.success(), "helper {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// pyHanko's view per signature: `FIELD docmdp=P docmdp_ok=… summary=…` lines.
fn pyhanko_info(pyhanko: &str, file: &Path) -> String {
    py(pyhanko, &["info", &file.display().to_string(), &certs("root-ca.pem")])
}

const RSA: [&str; 3] = ["leader-rsa-noaia.key.pem", "leader-rsa-noaia.pem", "sub-ca.pem"];
const EC: [&str; 3] = ["leader-ec.key.pem", "leader-ec.pem", "sub-ca.pem"];

fn signer_args(who: [&str; 3]) -> Vec<String> {
    vec![
        "--key".into(),
        certs(who[0]),
        "--cert".into(),
        certs(who[1]),
        "--chain".into(),
        certs(who[2]),
    ]
}

crate::scratch_work!();

impl Work {
    fn sample(&self) -> PathBuf {
        self.write("in.pdf", &sample_pdf(1))
    }

    /// `vanthu pdf sign` as `who` with `extra` arguments.
    fn sign(&self, who: [&str; 3], extra: &[&str], input: &Path, output: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args(["pdf", "sign"])
            .args(signer_args(who))
            .args(extra)
            .arg(input)
            .arg(output)
            .output()
            .expect("run vanthu pdf sign")
    }

    fn sign_ok(&self, who: [&str; 3], extra: &[&str], input: &Path, output: &Path) {
        let o = self.sign(who, extra, input, output);
        assert!(o.status.success(), "vanthu pdf sign {extra:?}: {}", text(&o));
    }

    fn pyhanko_sign(&self, pyhanko: &str, field: &str, input: &Path, output: &Path, force: bool) {
        let [key, cert, chain] = EC.map(certs);
        py(
            pyhanko,
            &[
                "sign",
                field,
                &input.display().to_string(),
                &output.display().to_string(),
                &key,
                &cert,
                &chain,
                if force { "1" } else { "0" },
            ],
        );
    }
}

/// `vanthu pdf verify --json`: exit code, report, all output.
/// `with-field.pdf`: `input` plus an empty signature field made by pyHanko (`PAGE/X1,Y1,X2,Y2/NAME`).
fn add_empty_field(pyhanko: &str, w: &Work, input: &Path, spec: &str) -> PathBuf {
    let out = w.path("with-field.pdf");
    let o = Command::new(pyhanko)
        .args(["sign", "addfields", "--field", spec])
        .arg(input)
        .arg(&out)
        .output()
        .expect("pyhanko addfields");
    assert!(o.status.success(), "{}", text(&o));
    out
}

fn vanthu_verify(file: &Path) -> (Option<i32>, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args([
            "pdf",
            "verify",
            "--trust",
            &certs("root-ca.pem"),
            "--no-revocation-check",
            "--json",
        ])
        .arg(file)
        .output()
        .expect("run vanthu pdf verify");
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), json, text(&o))
}

/// The report of the signature in field `name`.
fn field<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["signatures"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["field"] == name))
        .unwrap_or(&Value::Null)
}

fn reasons(sig: &Value) -> String {
    sig["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
        .unwrap_or_default()
}

/// pyHanko CLI INTACT:TRUSTED (exit 0), the DocMDP level pyHanko reads, pdfsig valid and
/// trusted, qpdf clean, and vanthu valid with `certification: p` on the first signature.
fn check_certified(w: &Work, pyhanko: &str, file: &Path, p: u8, sigs: usize) {
    let o = pyhanko_validate(pyhanko, file);
    let out = text(&o);
    assert!(o.status.success(), "pyhanko validate P={p}: {out}");
    assert_eq!(out.matches(":INTACT:TRUSTED").count(), sigs, "pyhanko P={p}: {out}");
    let info = pyhanko_info(pyhanko, file);
    let first = info.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("docmdp={p} docmdp_ok=True")),
        "pyHanko's DocMDP level P={p}: {info}"
    );
    let o = Command::new("pdfsig")
        .args(["-nssdir", &w.nss()])
        .arg(file)
        .output()
        .expect("pdfsig");
    let out = text(&o);
    assert_eq!(out.matches("Signature is Valid.").count(), sigs, "pdfsig P={p}: {out}");
    assert_eq!(
        out.matches("Certificate is Trusted.").count(),
        sigs,
        "pdfsig P={p}: {out}"
    );
    let o = Command::new("qpdf").arg("--check").arg(file).output().expect("qpdf");
    assert!(o.status.success(), "qpdf --check P={p}: {}", text(&o));
    assert!(
        text(&o).contains("No syntax or stream encoding errors"),
        "qpdf P={p}: {}",
        text(&o)
    );
    let (code, json, out) = vanthu_verify(file);
    assert_eq!(code, Some(0), "vanthu verify P={p}: {out}");
    assert_eq!(json["signatures"][0]["certification"], Value::from(p), "{out}");
    for s in json["signatures"].as_array().expect("signatures").iter().skip(1) {
        assert_eq!(s["certification"], Value::Null, "{out}");
    }
}

#[test]
fn vanthu_certifies_at_p1_p2_p3_and_every_validator_agrees() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    for (p, who) in [(1u8, RSA), (2, RSA), (3, RSA)] {
        let out = w.path(&format!("cert-{p}-{}.pdf", who[0]));
        let o = w.sign(who, &["--certify", &p.to_string(), "--field", "Cert1"], &input, &out);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(&format!("certified P={p}")), "{}", text(&o));
        let bytes = std::fs::read(&out).expect("read");
        let s = String::from_utf8_lossy(&bytes);
        assert!(s.contains("/TransformMethod/DocMDP"), "no DocMDP reference");
        assert!(s.contains("/Perms<</DocMDP "), "no /Perms /DocMDP");
        check_certified(&w, &pyhanko, &out, p, 1);
        // The text report names the level too.
        let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args([
                "pdf",
                "verify",
                "--trust",
                &certs("root-ca.pem"),
                "--no-revocation-check",
            ])
            .arg(&out)
            .output()
            .expect("verify");
        assert!(
            text(&o).contains(&format!("certification: DocMDP P={p}")),
            "{}",
            text(&o)
        );
    }
}

#[test]
fn a_visible_certification_signature_is_valid_everywhere() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    let image = w.write("chu-ky.png", &crate::pades_appearance::signature_png());
    let out = w.path("cert-visible.pdf");
    w.sign_ok(
        RSA,
        &[
            "--certify",
            "2",
            "--appearance",
            "leader",
            "--image",
            &image.display().to_string(),
            "--position",
            "KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG",
            "--name",
            "Nguyễn Văn An",
        ],
        &input,
        &out,
    );
    let bytes = std::fs::read(&out).expect("read");
    assert!(
        String::from_utf8_lossy(&bytes).contains("/AP<</N "),
        "no appearance stream"
    );
    check_certified(&w, &pyhanko, &out, 2, 1);
}

/// With `vanthu pki serve-test` running (the ECDSA leader's certificate names its OCSP
/// responder, which pdfsig asks): an ECDSA certification at B-B, and RSA ones at B-LT and B-LTA.
#[test]
fn ecdsa_and_b_lt_certifications_with_the_test_services_are_valid_everywhere() {
    let Some(pyhanko) = validators() else { return };
    let _guard = crate::pades_ltv::lock();
    let _server = crate::pades_ltv::Server::start();
    let w = Work::new();
    let input = w.sample();
    let ec = w.path("cert-ec.pdf");
    w.sign_ok(EC, &["--certify", "3", "--field", "Cert1"], &input, &ec);
    check_certified(&w, &pyhanko, &ec, 3, 1);

    let out = w.path("cert-blt.pdf");
    let who = ["leader-rsa.key.pem", "leader-rsa.pem", "sub-ca.pem"];
    w.sign_ok(
        who,
        &["--certify", "1", "--level", "b-lt", "--tsa", crate::pades_ltv::TSA],
        &input,
        &out,
    );
    // The DSS update after a P=1 certification is allowed (pyHanko: LTA updates).
    check_certified(&w, &pyhanko, &out, 1, 1);
    let (_, json, text_out) = vanthu_verify(&out);
    assert_eq!(json["signatures"][0]["level"], "B-LT", "{text_out}");

    // B-LTA: the DSS and the document time-stamp are still allowed after P=1.
    let lta = w.path("cert-blta.pdf");
    w.sign_ok(
        who,
        &["--certify", "1", "--level", "b-lta", "--tsa", crate::pades_ltv::TSA],
        &input,
        &lta,
    );
    let o = pyhanko_validate(&pyhanko, &lta);
    assert!(o.status.success(), "pyhanko B-LTA: {}", text(&o));
    let info = pyhanko_info(&pyhanko, &lta);
    assert!(info.contains("docmdp=1 docmdp_ok=True"), "{info}");
    let (code, json, text_out) = vanthu_verify(&lta);
    assert_eq!(code, Some(0), "{text_out}");
    assert_eq!(json["signatures"][0]["certification"], 1, "{text_out}");
    assert_eq!(json["signatures"][0]["level"], "B-LTA", "{text_out}");
    assert_eq!(json["signatures"][1]["kind"], "document_timestamp", "{text_out}");
}

#[test]
fn p2_then_approval_signatures_in_precreated_and_invisible_fields_are_valid_and_new_visible_ones_not() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    // An empty field made beforehand (P=2 allows signing fields, not creating them).
    let with_field = add_empty_field(&pyhanko, &w, &input, "1/300,50,500,120/Sig2");
    let certified = w.path("p2.pdf");
    w.sign_ok(RSA, &["--certify", "2", "--field", "Cert1"], &with_field, &certified);
    let both = w.path("p2-signed.pdf");
    w.sign_ok(EC, &["--field", "Sig2"], &certified, &both);

    let o = pyhanko_validate(&pyhanko, &both);
    let out = text(&o);
    assert!(o.status.success(), "pyhanko: {out}");
    assert!(
        out.contains("EXTENDED_WITH_FORM_FILLING,ACCEPTABLE_MODIFICATIONS"),
        "{out}"
    );
    assert_eq!(out.matches(":INTACT:TRUSTED").count(), 2, "{out}");
    let (code, json, out) = vanthu_verify(&both);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&json, "Cert1")["certification"], 2, "{out}");
    assert_eq!(field(&json, "Sig2")["certification"], Value::Null, "{out}");
    assert_eq!(field(&json, "Sig2")["verdict"], "valid", "{out}");

    // A signature in a new invisible field is fine for both (pyHanko, like Acrobat, allows
    // it); a new visible field is a modification for both, so vanthu refuses to make one.
    let new_field = w.path("p2-newfield.pdf");
    w.sign_ok(EC, &["--field", "Sig3"], &certified, &new_field);
    let o = pyhanko_validate(&pyhanko, &new_field);
    assert!(o.status.success(), "pyhanko: {}", text(&o));
    let (code, json, out) = vanthu_verify(&new_field);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&json, "Sig3")["verdict"], "valid", "{out}");

    let image = w.write("chu-ky.png", &crate::pades_appearance::signature_png());
    let visible = w.path("p2-visible.pdf");
    let o = w.sign(
        EC,
        &[
            "--appearance",
            "leader",
            "--image",
            &image.display().to_string(),
            "--name",
            "Nguyễn Văn An",
        ],
        &certified,
        &visible,
    );
    assert!(!o.status.success(), "made a new visible field after P=2");
    assert!(
        text(&o).contains("new visible signature field would be a modification"),
        "{}",
        text(&o)
    );
    assert!(!visible.exists());
    // Made anyway (pyHanko, visible field spec): both report it.
    let forced = w.path("p2-visible-pyhanko.pdf");
    w.pyhanko_sign(&pyhanko, "1/100,100,300,160/Sig4", &certified, &forced, false);
    let o = pyhanko_validate(&pyhanko, &forced);
    assert!(
        !o.status.success(),
        "pyhanko accepted a new visible field: {}",
        text(&o)
    );
    assert!(text(&o).contains("ILLEGAL_MODIFICATIONS"), "{}", text(&o));
    let (code, json, out) = vanthu_verify(&forced);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        reasons(field(&json, "Cert1"))
            .contains("changed after certification with P=2: a visible signature field was created"),
        "{out}"
    );
}

#[test]
fn a_visible_approval_in_a_precreated_field_keeps_p2_and_draws_in_that_field() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    // The field the second signer will fill, made before the certification.
    let with_field = add_empty_field(&pyhanko, &w, &input, "1/300,60,520,160/Approval");
    let certified = w.path("p2.pdf");
    w.sign_ok(RSA, &["--certify", "2", "--field", "Cert1"], &with_field, &certified);

    let image = w.write("chu-ky.png", &crate::pades_appearance::signature_png());
    let image = image.display().to_string();
    let leader = |extra: &[&str], out: &Path| {
        let mut args = vec!["--field", "Approval", "--appearance", "leader", "--image", &image];
        args.extend(["--name", "Trần Thị Bình", "--position", "KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG"]);
        args.extend(extra);
        w.sign(EC, &args, &certified, out)
    };
    // The field's page and rectangle are fixed by the certified revision.
    let moved = w.path("moved.pdf");
    let o = leader(&["--rect", "10,10,200,100"], &moved);
    assert!(!o.status.success(), "moved a pre-created field");
    assert!(text(&o).contains("has its own page and rectangle"), "{}", text(&o));
    assert!(!moved.exists());

    let signed = w.path("p2-approved.pdf");
    let o = leader(&[], &signed);
    assert!(o.status.success(), "{}", text(&o));
    let o = pyhanko_validate(&pyhanko, &signed);
    let out = text(&o);
    assert!(o.status.success(), "pyhanko: {out}");
    assert!(out.contains("ACCEPTABLE_MODIFICATIONS"), "{out}");
    assert_eq!(out.matches(":INTACT:TRUSTED").count(), 2, "{out}");
    let (code, json, out) = vanthu_verify(&signed);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(field(&json, "Cert1")["certification"], 2, "{out}");
    assert_eq!(field(&json, "Approval")["verdict"], "valid", "{out}");
    // Drawn where the field is, with the exact Vietnamese text.
    let page = crate::pades_appearance::pdftotext(&signed, 1);
    assert!(page.contains("Trần Thị Bình"), "{page}");
    assert!(page.contains("KT. BỘ TRƯỞNG"), "{page}");
    let doc = lopdf::Document::load(&signed).expect("load");
    let widget = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .find(|d| d.get(b"T").and_then(lopdf::Object::as_str).ok() == Some(b"Approval".as_slice()))
        .expect("the Approval field");
    let rect: Vec<f32> = widget
        .get(b"Rect")
        .and_then(lopdf::Object::as_array)
        .expect("rect")
        .iter()
        .map(|o| o.as_float().expect("number"))
        .collect();
    assert_eq!(rect, [300.0, 60.0, 520.0, 160.0]);
    assert!(widget.has(b"AP"), "the filled field has an appearance");
}

#[test]
fn p1_refuses_a_second_signature_and_one_forced_in_by_pyhanko_is_reported() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    let certified = w.path("p1.pdf");
    w.sign_ok(RSA, &["--certify", "1", "--field", "Cert1"], &input, &certified);

    let refused = w.path("p1-again.pdf");
    let o = w.sign(EC, &[], &certified, &refused);
    assert!(!o.status.success(), "signed a P=1 document");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("certified with P=1"), "{err}");
    assert!(!refused.exists(), "a file was written");
    // External signing refuses too.
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "prepare", "--cert", &certs("leader-ec.pem"), "--handle"])
        .arg(w.path("handle"))
        .arg(&certified)
        .output()
        .expect("prepare");
    assert!(!o.status.success(), "prepared a P=1 document");
    assert!(text(&o).contains("certified with P=1"), "{}", text(&o));

    // pyHanko refuses as well unless forced; the forced file is caught by both.
    let forced = w.path("p1-forced.pdf");
    w.pyhanko_sign(&pyhanko, "Sig2", &certified, &forced, true);
    let info = pyhanko_info(&pyhanko, &forced);
    assert!(info.contains("docmdp=1 docmdp_ok=False"), "{info}");
    let (code, json, out) = vanthu_verify(&forced);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(json["signatures"][0]["certification"], 1, "{out}");
    assert_eq!(json["signatures"][0]["verdict"], "invalid", "{out}");
    let why = reasons(&json["signatures"][0]);
    assert!(
        why.contains("changed after certification with P=1: a signature was added (field Sig2)"),
        "{out}"
    );
    assert_eq!(json["signatures"][1]["verdict"], "valid", "{out}");
}

#[test]
fn pyhanko_certified_files_verify_in_vanthu_with_their_level() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    let [key, cert, chain] = RSA.map(certs);
    for p in ["1", "2", "3"] {
        let out = w.path(&format!("ph-{p}.pdf"));
        py(
            &pyhanko,
            &[
                "certify",
                p,
                &input.display().to_string(),
                &out.display().to_string(),
                &key,
                &cert,
                &chain,
            ],
        );
        let (code, json, text_out) = vanthu_verify(&out);
        assert_eq!(code, Some(0), "P={p}: {text_out}");
        assert_eq!(
            json["signatures"][0]["certification"],
            p.parse::<u8>().expect("p"),
            "{text_out}"
        );
        assert_eq!(json["signatures"][0]["field"], "Cert1", "{text_out}");
    }
    // vanthu refuses to sign the pyHanko-certified P=1 file.
    let o = w.sign(EC, &[], &w.path("ph-1.pdf"), &w.path("ph-1-signed.pdf"));
    assert!(!o.status.success(), "signed a pyHanko P=1 file");
    assert!(text(&o).contains("certified with P=1"), "{}", text(&o));
}

#[test]
fn an_annotation_after_p3_is_allowed_and_after_p2_is_a_modification() {
    let Some(pyhanko) = validators() else { return };
    let w = Work::new();
    let input = w.sample();
    for p in [3u8, 2] {
        let certified = w.path(&format!("p{p}.pdf"));
        w.sign_ok(RSA, &["--certify", &p.to_string()], &input, &certified);
        let annotated = w.path(&format!("p{p}-annot.pdf"));
        py(
            &pyhanko,
            &[
                "annot",
                &certified.display().to_string(),
                &annotated.display().to_string(),
            ],
        );
        assert!(String::from_utf8_lossy(&std::fs::read(&annotated).expect("read")).contains("/Text"));
        let (code, json, out) = vanthu_verify(&annotated);
        assert_eq!(json["signatures"][0]["certification"], p, "{out}");
        if p == 3 {
            assert_eq!(code, Some(0), "P=3 + annotation: {out}");
            assert_eq!(json["signatures"][0]["covers_whole_file"], false, "{out}");
        } else {
            assert_eq!(code, Some(1), "P=2 + annotation: {out}");
            let why = reasons(&json["signatures"][0]);
            assert!(
                why.contains("changed after certification with P=2: an annotation was added"),
                "{out}"
            );
        }
    }
    // Uncertified, an annotation stays a modification (today's rule).
    let signed = w.path("plain.pdf");
    w.sign_ok(RSA, &[], &input, &signed);
    let annotated = w.path("plain-annot.pdf");
    py(
        &pyhanko,
        &["annot", &signed.display().to_string(), &annotated.display().to_string()],
    );
    let (code, json, out) = vanthu_verify(&annotated);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(json["signatures"][0]["certification"], Value::Null, "{out}");
    assert!(
        reasons(&json["signatures"][0]).contains("modified after signing"),
        "{out}"
    );
}

#[test]
fn bad_certify_values_and_certifying_a_signed_file_are_refused() {
    let w = Work::new();
    let input = w.sample();
    for bad in ["0", "4", "x"] {
        let out = w.path(&format!("bad-{bad}.pdf"));
        let o = w.sign(RSA, &["--certify", bad], &input, &out);
        assert!(!o.status.success(), "--certify {bad} accepted");
        assert!(text(&o).contains("--certify"), "{}", text(&o));
        assert!(!out.exists());
    }
    let signed = w.path("signed.pdf");
    w.sign_ok(RSA, &[], &input, &signed);
    let out = w.path("certified.pdf");
    let o = w.sign(EC, &["--certify", "2"], &signed, &out);
    assert!(!o.status.success(), "certified a signed file");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("already signed"), "{err}");
    assert!(!out.exists(), "a file was written");
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args([
            "pdf",
            "prepare",
            "--certify",
            "1",
            "--cert",
            &certs("leader-ec.pem"),
            "--handle",
        ])
        .arg(w.path("handle"))
        .arg(&signed)
        .output()
        .expect("prepare");
    assert!(!o.status.success(), "prepared a certification of a signed file");
    assert!(text(&o).contains("already signed"), "{}", text(&o));
}

#[test]
fn external_signing_can_certify() {
    let w = Work::new();
    let input = w.sample();
    let handle = w.path("handle");
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args([
            "pdf",
            "prepare",
            "--certify",
            "3",
            "--cert",
            &certs("leader-rsa-noaia.pem"),
            "--chain",
            &certs("sub-ca.pem"),
            "--handle",
        ])
        .arg(&handle)
        .arg(&input)
        .output()
        .expect("prepare");
    assert!(o.status.success(), "{}", text(&o));
    let sig = w.path("sig.bin");
    let o = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", &certs("leader-rsa-noaia.key.pem"), "-out"])
        .arg(&sig)
        .arg(handle.join("to-sign.der"))
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", text(&o));
    let out = w.path("external.pdf");
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "complete", "--handle"])
        .arg(&handle)
        .arg("--signature")
        .arg(&sig)
        .arg(&out)
        .output()
        .expect("complete");
    assert!(o.status.success(), "{}", text(&o));
    let (code, json, out) = vanthu_verify(&out);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(json["signatures"][0]["certification"], 3, "{out}");
}

/// Marks the second of two approval signatures as the certification in a later update.
fn point_docmdp_at_second_signature(pdf: &[u8]) -> Vec<u8> {
    let doc = Document::load_mem(pdf).expect("load");
    let catalog_id = doc.trailer.get(b"Root").and_then(Object::as_reference).expect("root");
    let mut catalog = doc.get_dictionary(catalog_id).expect("catalog").clone();
    let acro = doc
        .dereference(catalog.get(b"AcroForm").expect("acroform"))
        .expect("acro")
        .1
        .as_dict()
        .expect("dict")
        .clone();
    let fields = acro.get(b"Fields").expect("fields").as_array().expect("array").clone();
    let second = doc
        .get_dictionary(fields[1].as_reference().expect("ref"))
        .expect("field");
    let sig_ref = second.get(b"V").expect("V").clone();
    catalog.set("Perms", lopdf::dictionary! { "DocMDP" => sig_ref });
    let mut inc = IncrementalDocument::create_from(pdf.to_vec(), doc);
    inc.new_document.set_object(catalog_id, catalog);
    let mut out = Vec::new();
    inc.save_to(&mut out).expect("save");
    out
}

#[test]
fn docmdp_naming_a_later_signature_is_reported_not_a_panic() {
    let w = Work::new();
    let input = w.sample();
    let one = w.path("one.pdf");
    w.sign_ok(RSA, &[], &input, &one);
    let two = w.path("two.pdf");
    w.sign_ok(EC, &[], &one, &two);
    let bad = w.write(
        "bad-perms.pdf",
        &point_docmdp_at_second_signature(&std::fs::read(&two).expect("read")),
    );
    let (code, json, out) = vanthu_verify(&bad);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(json["verdict"], "invalid", "{out}");
    let second = &json["signatures"][1];
    assert!(
        reasons(second).contains("the certification signature is not the document's first signature"),
        "{out}"
    );
}
