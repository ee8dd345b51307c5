//! `vanthu pdf verify` on files vanthu signs and on files pyHanko signs, and on the same files
//! tampered: a byte changed in the signed range, a content-changing incremental update, an
//! untrusted root, an expired, a revoked and an unknown-critical-extension signer.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use lopdf::{dictionary, IncrementalDocument, Object, Stream};
use serde_json::Value;
use vanthu::pades::{self, SignOptions, SigningKey};

use crate::pades_support::{certs, pyhanko, text};

fn sample_pdf() -> Vec<u8> {
    let mut doc = lopdf::Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let content_id = doc.add_object(Stream::new(
        dictionary! {},
        b"BT /F1 12 Tf 72 760 Td (Cong van so 15/BTP-VP) Tj ET".to_vec(),
    ));
    let font_id = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save");
    out
}

/// Signs with the library (so tests can pick the signing time) using a test-PKI stem.
fn sign_as(pdf: &[u8], stem: &str, chain: &str, at: &str) -> Vec<u8> {
    let cert = pades::load_certificates(&std::fs::read(certs(&format!("{stem}.pem"))).expect("cert"))
        .expect("parse cert")
        .remove(0);
    let chain = pades::load_certificates(&std::fs::read(certs(chain)).expect("chain")).expect("parse chain");
    let key = SigningKey::from_bytes(
        &std::fs::read(certs(&format!("{stem}.key.pem"))).expect("key"),
        None,
        &cert,
    )
    .expect("key");
    let opts = SignOptions::at(DateTime::parse_from_rfc3339(at).expect("time"));
    pades::sign_pdf(pdf, &key, &cert, &chain, &opts).expect("sign")
}

fn now() -> String {
    Utc::now().with_timezone(&vanthu::clock::vietnam()).to_rfc3339()
}

struct Verify {
    code: Option<i32>,
    out: String,
    json: Value,
}

fn verify(dir: &Path, pdf: &[u8], extra: &[&str]) -> Verify {
    let path = dir.join(format!("v{}.pdf", rand_suffix()));
    std::fs::write(&path, pdf).expect("write");
    let run = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vanthu"));
        cmd.args(["pdf", "verify", "--trust", &certs("root-ca.pem")])
            .args(extra);
        if json {
            cmd.arg("--json");
        }
        cmd.arg(&path).output().expect("run vanthu")
    };
    let o = run(true);
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let human = run(false);
    assert_eq!(
        o.status.code(),
        human.status.code(),
        "--json must not change the exit code"
    );
    Verify {
        code: o.status.code(),
        out: format!("{}\n{}", text(&o), text(&human)),
        json,
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn crls() -> [String; 4] {
    [
        "--crl".into(),
        certs("root-ca.crl"),
        "--crl".into(),
        certs("sub-ca.crl.pem"),
    ]
}

fn with_crls(crls: &[String; 4]) -> Vec<&str> {
    crls.iter().map(String::as_str).collect()
}

#[test]
fn vanthu_signatures_verify_and_revocation_decides_the_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = sign_as(&sample_pdf(), "leader-rsa", "sub-ca.pem", &now());
    let two = sign_as(&one, "leader-ec", "chain.pem", &now());
    let three = sign_as(&two, "seal-ec", "sub-ca.pem", &now());
    let crls = crls();

    let v = verify(dir.path(), &three, &with_crls(&crls));
    assert_eq!(v.code, Some(0), "{}", v.out);
    assert_eq!(v.json["verdict"], "valid", "{}", v.json);
    let sigs = v.json["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 3);
    assert_eq!(sigs[0]["covers_whole_file"], false);
    assert_eq!(sigs[2]["covers_whole_file"], true);
    for s in sigs {
        assert_eq!(s["verdict"], "valid", "{s}");
        assert_eq!(s["revocation"], "good (CRL)", "{s}");
        assert_eq!(s["modifications"], Value::Array(vec![]), "{s}");
    }
    assert!(
        sigs[0]["signer"].as_str().unwrap_or_default().contains("Nguyễn Văn An"),
        "{}",
        sigs[0]
    );

    // Without revocation data the verdict is indeterminate (exit 2), unless the caller accepts it.
    let v = verify(dir.path(), &three, &[]);
    assert_eq!(v.code, Some(2), "{}", v.out);
    assert_eq!(v.json["verdict"], "indeterminate");
    let v = verify(dir.path(), &three, &["--no-revocation-check"]);
    assert_eq!(v.code, Some(0), "{}", v.out);
}

#[test]
fn pyhanko_signatures_verify_in_vanthu() {
    let Some(pyhanko) = pyhanko() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, sample_pdf()).expect("write");
    let sign = |stem: &str, field: &str, from: &PathBuf, to: &PathBuf| {
        let o = Command::new(&pyhanko)
            .args(["sign", "addsig", "--field", field, "--use-pades", "pemder", "--key"])
            .arg(certs(&format!("{stem}.key.pem")))
            .arg("--cert")
            .arg(certs(&format!("{stem}.pem")))
            .arg("--chain")
            .arg(certs("sub-ca.pem"))
            .arg("--no-pass")
            .arg(from)
            .arg(to)
            .output()
            .expect("pyhanko addsig");
        assert!(o.status.success(), "pyhanko: {}", text(&o));
    };
    let (one, two) = (dir.path().join("one.pdf"), dir.path().join("two.pdf"));
    sign("leader-rsa", "Sig1", &input, &one);
    sign("leader-ec", "Sig2", &one, &two);
    let crls = crls();
    let signed = std::fs::read(&two).expect("read");
    let v = verify(dir.path(), &signed, &with_crls(&crls));
    assert_eq!(v.code, Some(0), "{}", v.out);
    let sigs = v.json["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 2, "{}", v.json);
    assert_eq!(sigs[0]["field"], "Sig1");
    assert_eq!(sigs[1]["sub_filter"], "ETSI.CAdES.detached");

    // A vanthu signature on top of pyHanko's keeps both valid.
    let three = sign_as(&signed, "seal-rsa", "sub-ca.pem", &now());
    let v = verify(dir.path(), &three, &with_crls(&crls));
    assert_eq!(v.code, Some(0), "{}", v.out);
    assert_eq!(v.json["signatures"].as_array().map(Vec::len), Some(3));
}

fn first_reason(v: &Verify) -> String {
    v.json["signatures"][0]["reasons"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

#[test]
fn tampered_files_are_invalid_with_the_right_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = sample_pdf();
    let signed = sign_as(&original, "leader-rsa", "sub-ca.pem", &now());
    let crls = crls();
    let crl_args = with_crls(&crls);

    // One byte changed inside the signed range (in the page's text).
    let mut tampered = signed.clone();
    let at = tampered.windows(7).position(|w| w == b"15/BTP-").expect("text");
    tampered[at] = b'9';
    let v = verify(dir.path(), &tampered, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(first_reason(&v).contains("integrity"), "{}", v.out);

    // An incremental update that replaces the page's content after signing.
    let doc = lopdf::Document::load_mem(&signed).expect("load");
    let page_id = *doc.get_pages().values().next().expect("page");
    let mut inc = IncrementalDocument::create_from(signed.clone(), doc);
    let new_content = inc.new_document.add_object(Stream::new(
        dictionary! {},
        b"BT /F1 12 Tf 72 760 Td (Cong van so 99/BTP-VP) Tj ET".to_vec(),
    ));
    inc.opt_clone_object_to_new_document(page_id).expect("clone page");
    inc.new_document
        .get_object_mut(page_id)
        .and_then(Object::as_dict_mut)
        .expect("page")
        .set("Contents", new_content);
    let mut shadowed = Vec::new();
    inc.save_to(&mut shadowed).expect("save");
    let v = verify(dir.path(), &shadowed, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(first_reason(&v).contains("modified after signing"), "{}", v.out);
    assert_eq!(v.json["signatures"][0]["covers_whole_file"], false);

    // Untrusted root.
    let untrusted = sign_as(&original, "untrusted-leader", "untrusted-root.pem", &now());
    let v = verify(dir.path(), &untrusted, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(first_reason(&v).contains("no path"), "{}", v.out);

    // Expired: signed while valid (2020), verified now.
    let expired = sign_as(&original, "expired", "sub-ca.pem", "2020-06-01T09:00:00+07:00");
    let v = verify(dir.path(), &expired, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(
        first_reason(&v).contains("not valid at the validation time"),
        "{}",
        v.out
    );

    // Revoked (in sub-ca.crl since 2025-01-01).
    let revoked = sign_as(&original, "revoked", "sub-ca.pem", &now());
    let v = verify(dir.path(), &revoked, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(first_reason(&v).contains("revoked on 2025-01-01"), "{}", v.out);
    assert_eq!(v.json["signatures"][0]["revocation"], "revoked");

    // Unknown critical extension.
    let critical = sign_as(&original, "unknown-critical", "sub-ca.pem", &now());
    let v = verify(dir.path(), &critical, &crl_args);
    assert_eq!(v.code, Some(1), "{}", v.out);
    assert!(first_reason(&v).contains("unknown critical extension"), "{}", v.out);
}

#[test]
fn signing_refuses_a_certificate_outside_its_validity() {
    let cert = pades::load_certificates(&std::fs::read(certs("expired.pem")).expect("cert"))
        .expect("parse")
        .remove(0);
    let key = SigningKey::from_bytes(&std::fs::read(certs("expired.key.pem")).expect("key"), None, &cert).expect("key");
    let opts = SignOptions::at(DateTime::parse_from_rfc3339("2026-12-01T09:00:00+07:00").expect("time"));
    let err = pades::sign_pdf(&sample_pdf(), &key, &cert, &[], &opts).expect_err("expired certificate");
    assert!(err.to_string().contains("not valid at the signing time"), "{err}");
}

#[test]
fn verify_bad_input_fails_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.pdf");
    std::fs::write(&garbage, b"%PDF-1.7\nnot really").expect("write");
    let unsigned = dir.path().join("unsigned.pdf");
    std::fs::write(&unsigned, sample_pdf()).expect("write");
    for (file, expected) in [(&garbage, "not a readable PDF"), (&unsigned, "no signatures")] {
        let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args(["pdf", "verify", "--trust", &certs("root-ca.pem")])
            .arg(file)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(err.contains(expected), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // A trust file that is not a certificate.
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "verify", "--trust", &certs("sub-ca.crl")])
        .arg(&unsigned)
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}

/// An OCSP response for `stem` from the test responder (delegated `ocsp` certificate) as made
/// at `made` (nextUpdate a week later).
fn ocsp_response_at(stem: &str, made: DateTime<Utc>) -> Vec<u8> {
    use vanthu::pki::ca_index::CaIndex;
    use vanthu::pki::ocsp::{self, OcspAuthority};
    let load = |name: &str| {
        pades::load_certificates(&std::fs::read(certs(name)).expect("cert"))
            .expect("parse")
            .remove(0)
    };
    let (cert, ca, responder) = (load(&format!("{stem}.pem")), load("sub-ca.pem"), load("ocsp.pem"));
    let key = SigningKey::from_bytes(&std::fs::read(certs("ocsp.key.pem")).expect("key"), None, &responder)
        .expect("responder key");
    let index = CaIndex::parse(&std::fs::read_to_string(certs("ca/sub-ca.index")).expect("index"));
    let authority = OcspAuthority {
        ca: ca.clone(),
        index,
        signer_cert: responder,
        signer_key: key,
    };
    let request = ocsp::request(&cert, &ca, None).expect("request");
    ocsp::respond(&[authority], &request, made)
}

#[test]
fn ocsp_responses_count_only_while_fresh() {
    let signed = sign_as(&sample_pdf(), "leader-rsa", "sub-ca.pem", "2026-12-01T09:00:00+07:00");
    let made = DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let extra = pades::ltv::ValidationData {
        ocsps: vec![ocsp_response_at("leader-rsa", made)],
        ..Default::default()
    };
    // The sub-CA's status comes from the root's CRL; the leader's only from the OCSP response.
    let root_crl = pades::load_crls(&std::fs::read(certs("root-ca.crl")).expect("crl")).expect("parse crl");
    let opts_at = |at: &str| pades::VerifyOptions {
        trust: pades::load_certificates(&std::fs::read(certs("root-ca.pem")).expect("root")).expect("root"),
        crls: root_crl.clone(),
        at: DateTime::parse_from_rfc3339(at).expect("time").with_timezone(&Utc),
        allow_unknown_revocation: false,
    };
    let check = |at: &str| {
        let report = pades::verify::verify_pdf_with(&signed, &opts_at(at), &extra).expect("verify");
        report.signatures[0].clone()
    };
    // thisUpdate ≤ validation time ≤ nextUpdate: good.
    let s = check("2026-12-03T00:00:00Z");
    assert_eq!(s.verdict, pades::Verdict::Valid, "{s:?}");
    assert_eq!(s.revocation, "good (OCSP and CRL)", "{s:?}");
    // A few minutes of clock skew on either side is tolerated.
    let s = check("2026-12-01T01:57:00Z");
    assert_eq!(s.verdict, pades::Verdict::Valid, "{s:?}");
    let s = check("2026-12-08T02:04:00Z");
    assert_eq!(s.verdict, pades::Verdict::Valid, "{s:?}");
    // After nextUpdate the response is stale: revocation unknown, and the report says why.
    let s = check("2026-12-09T00:00:00Z");
    assert_eq!(s.verdict, pades::Verdict::Indeterminate, "{s:?}");
    assert!(s.revocation.contains("OCSP response is stale"), "{s:?}");
    assert!(s.revocation.contains("nextUpdate 2026-12-08T02:00:00+00:00"), "{s:?}");
    // Issued after the verifier's clock (from the future): not relied on either.
    let s = check("2026-12-01T01:00:00Z");
    assert_eq!(s.verdict, pades::Verdict::Indeterminate, "{s:?}");
    assert!(s.revocation.contains("is after the verification time"), "{s:?}");
}
