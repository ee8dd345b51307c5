//! External signing (`vanthu pdf prepare` / `vanthu pdf complete`) and PKCS#12 keys
//! (`vanthu pdf sign --p12`): the signatures a token or remote service returns are made here by
//! OpenSSL's CLI (RSA PKCS#1 v1.5, RSA-PSS, ECDSA) or with ring (ECDSA in the fixed r‖s form a
//! PKCS#11 token returns), and the results are checked by vanthu's verifier and pyHanko.
//! Library-level cases cover expiry and tampering without a clock.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Duration, TimeZone, Utc};
use vanthu::pades::external::{self, ExternalSignature};
use vanthu::pades::{self, SignOptions, Verdict, VerifyOptions};

use crate::common;
use crate::pades_support::{certs, pyhanko, pyhanko_validate, sample_pdf, text};

fn vanthu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(args)
        .output()
        .expect("run vanthu")
}

fn openssl() -> Option<()> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => common::skip("openssl is not installed (external-signing tests)"),
    }
}

fn trust() -> Vec<x509_cert::Certificate> {
    pades::load_certificates(&std::fs::read(certs("root-ca.pem")).expect("root")).expect("root cert")
}

/// vanthu's verdict, trusting the test root and its CRLs.
fn vanthu_verdict(pdf: &[u8]) -> (Verdict, String) {
    let mut crls = pades::load_crls(&std::fs::read(certs("sub-ca.crl")).expect("crl")).expect("crl");
    crls.extend(pades::load_crls(&std::fs::read(certs("root-ca.crl")).expect("crl")).expect("crl"));
    let report = pades::verify_pdf(
        pdf,
        &VerifyOptions {
            trust: trust(),
            crls,
            at: Utc::now(),
            allow_unknown_revocation: false,
        },
    )
    .expect("verify");
    (report.verdict, format!("{report:?}"))
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("in.pdf"), sample_pdf(2)).expect("write pdf");
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `vanthu pdf prepare` for `cert`; returns the handle folder.
    fn prepare(&self, cert: &str) -> PathBuf {
        self.prepare_with(cert, &[])
    }

    /// `vanthu pdf prepare` for `cert` with `extra` arguments; returns the handle folder.
    fn prepare_with(&self, cert: &str, extra: &[&str]) -> PathBuf {
        let mut args = vec![
            "pdf".to_string(),
            "prepare".into(),
            "--cert".into(),
            certs(cert),
            "--chain".into(),
            certs("sub-ca.pem"),
            "--handle".into(),
            self.s("handle"),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        args.push(self.s("in.pdf"));
        let o = vanthu(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "prepare: {}", text(&o));
        let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("prepare prints JSON");
        let to_sign = std::fs::read(self.path("handle/to-sign.der")).expect("to-sign.der");
        let hash = ring::digest::digest(&ring::digest::SHA256, &to_sign);
        assert_eq!(
            printed["hash_to_sign"],
            hex::encode(hash),
            "hash_to_sign is SHA-256 of to-sign.der"
        );
        self.path("handle")
    }

    fn complete(&self, flag: &str, answer: &Path) -> Output {
        vanthu(&[
            "pdf",
            "complete",
            "--handle",
            &self.s("handle"),
            flag,
            &answer.display().to_string(),
            &self.s("out.pdf"),
        ])
    }

    /// `openssl dgst -sha256 -sign KEY [opts] to-sign.der` into `sig.bin`.
    fn openssl_sign(&self, key: &str, opts: &[&str]) -> PathBuf {
        let sig = self.path("sig.bin");
        let o = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign", &certs(key)])
            .args(opts)
            .arg("-out")
            .arg(&sig)
            .arg(self.path("handle/to-sign.der"))
            .output()
            .expect("openssl dgst");
        assert!(o.status.success(), "openssl dgst: {}", text(&o));
        sig
    }

    fn assert_valid(&self) {
        let pdf = std::fs::read(self.path("out.pdf")).expect("signed pdf");
        let (verdict, report) = vanthu_verdict(&pdf);
        assert_eq!(verdict, Verdict::Valid, "{report}");
        assert!(!self.path("handle/handle.json").exists(), "a handle is used once");
        if let Some(py) = pyhanko() {
            let o = pyhanko_validate(&py, &self.path("out.pdf"));
            assert!(
                o.status.success() && text(&o).contains("INTACT:TRUSTED"),
                "pyHanko: {}",
                text(&o)
            );
        }
    }
}

#[test]
fn rsa_pkcs1_and_pss_signatures_from_outside_are_embedded() {
    if openssl().is_none() {
        return;
    }
    for opts in [
        &[][..],
        &[
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ][..],
    ] {
        let case = Case::new();
        case.prepare("leader-rsa-noaia.pem");
        let sig = case.openssl_sign("leader-rsa-noaia.key.pem", opts);
        let o = case.complete("--signature", &sig);
        assert!(o.status.success(), "complete {opts:?}: {}", text(&o));
        case.assert_valid();
    }
}

#[test]
fn a_token_signature_can_carry_the_leaders_visible_appearance() {
    if openssl().is_none() {
        return;
    }
    let case = Case::new();
    std::fs::write(case.path("chu-ky.png"), crate::pades_appearance::signature_png()).expect("png");
    case.prepare_with(
        "leader-ec.pem",
        &[
            "--appearance",
            "leader",
            "--image",
            &case.s("chu-ky.png"),
            "--position",
            "KT. BỘ TRƯỞNG\\nTHỨ TRƯỞNG",
            "--name",
            "Phạm Thị Hoa",
        ],
    );
    let sig = case.openssl_sign("leader-ec.key.pem", &[]);
    let o = case.complete("--signature", &sig);
    assert!(o.status.success(), "complete: {}", text(&o));
    case.assert_valid();
    // The appearance was drawn at prepare time and is covered by the token's signature.
    let page = crate::pades_appearance::pdftotext(&case.path("out.pdf"), 2);
    assert!(page.contains("Phạm Thị Hoa"), "{page}");
    assert!(page.contains("KT. BỘ TRƯỞNG"), "{page}");
    let doc = lopdf::Document::load(case.path("out.pdf")).expect("load");
    let widget = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .find(|d| d.get(b"FT").and_then(lopdf::Object::as_name).ok() == Some(b"Sig".as_slice()))
        .expect("the signature widget");
    assert!(widget.has(b"AP"), "a visible widget");
}

#[test]
fn ecdsa_signatures_in_der_and_fixed_form_are_embedded() {
    if openssl().is_none() {
        return;
    }
    // DER, as OpenSSL and most libraries return it.
    let case = Case::new();
    case.prepare("leader-ec.pem");
    let sig = case.openssl_sign("leader-ec.key.pem", &[]);
    let o = case.complete("--signature", &sig);
    assert!(o.status.success(), "complete: {}", text(&o));
    case.assert_valid();

    // r‖s, as a PKCS#11 token returns it; given base64-encoded, as a web client would send it.
    let case = Case::new();
    case.prepare("leader-ec.pem");
    let pkcs8 = std::fs::read(certs("leader-ec.key.der")).expect("key");
    let rng = ring::rand::SystemRandom::new();
    let key =
        ring::signature::EcdsaKeyPair::from_pkcs8(&ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .expect("ec key");
    let to_sign = std::fs::read(case.path("handle/to-sign.der")).expect("to-sign");
    let fixed = key.sign(&rng, &to_sign).expect("sign");
    assert_eq!(fixed.as_ref().len(), 64);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, fixed.as_ref());
    std::fs::write(case.path("sig.b64"), b64).expect("write");
    let o = case.complete("--signature", &case.path("sig.b64"));
    assert!(o.status.success(), "complete: {}", text(&o));
    case.assert_valid();
}

#[test]
fn a_whole_cms_from_a_remote_service_is_checked_then_embedded() {
    // The remote service signs the byte-range digest into its own CMS (here: vanthu's builder
    // with the leader's key, as a service would).
    let case = Case::new();
    case.prepare("leader-ec.pem");
    let handle: external::Handle =
        serde_json::from_slice(&std::fs::read(case.path("handle/handle.json")).expect("handle")).expect("json");
    let cert = pades::load_certificates(&std::fs::read(certs("leader-ec.pem")).expect("cert")).expect("cert");
    let chain = pades::load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("chain")).expect("chain");
    let key = pades::SigningKey::from_bytes(&std::fs::read(certs("leader-ec.key.pem")).expect("key"), None, &cert[0])
        .expect("key");
    let digest = hex::decode(&handle.document_digest).expect("hex");
    let cms = pades::cms::signed_data(&key, &cert[0], &chain, &digest).expect("cms");
    std::fs::write(case.path("remote.p7s"), &cms).expect("write");
    let o = case.complete("--cms", &case.path("remote.p7s"));
    assert!(o.status.success(), "complete --cms: {}", text(&o));
    case.assert_valid();

    // A CMS over another digest is refused and the handle stays usable.
    let case = Case::new();
    case.prepare("leader-ec.pem");
    let other = pades::cms::signed_data(&key, &cert[0], &chain, &[7u8; 32]).expect("cms");
    std::fs::write(case.path("other.p7s"), &other).expect("write");
    let o = case.complete("--cms", &case.path("other.p7s"));
    assert!(!o.status.success());
    assert!(text(&o).contains("message-digest"), "{}", text(&o));
    assert!(!case.path("out.pdf").exists(), "nothing is written on refusal");
    assert!(
        case.path("handle/handle.json").exists(),
        "a refused answer does not use up the handle"
    );
}

#[test]
fn wrong_signatures_and_garbage_are_refused_with_one_line() {
    if openssl().is_none() {
        return;
    }
    let case = Case::new();
    case.prepare("leader-rsa-noaia.pem");
    // Signed by another key (the seal's).
    let sig = case.openssl_sign("seal-rsa.key.pem", &[]);
    let o = case.complete("--signature", &sig);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not verify"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    // Garbage.
    std::fs::write(case.path("junk"), b"\x00\x01not a signature").expect("write");
    for flag in ["--signature", "--cms"] {
        let o = case.complete(flag, &case.path("junk"));
        assert!(!o.status.success(), "{flag}");
        assert_eq!(String::from_utf8_lossy(&o.stderr).trim_end().lines().count(), 1);
    }
    // A handle folder that is not one.
    let o = vanthu(&[
        "pdf",
        "complete",
        "--handle",
        &case.s("nowhere"),
        "--signature",
        &case.s("junk"),
        &case.s("out.pdf"),
    ]);
    assert!(!o.status.success());
    assert!(!case.path("out.pdf").exists());
}

#[test]
fn expired_handles_and_altered_prepared_files_are_refused() {
    let cert = pades::load_certificates(&std::fs::read(certs("leader-rsa-noaia.pem")).expect("cert")).expect("cert");
    let key = pades::SigningKey::from_bytes(
        &std::fs::read(certs("leader-rsa-noaia.key.pem")).expect("key"),
        None,
        &cert[0],
    )
    .expect("key");
    let chain = pades::load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("chain")).expect("chain");
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).single().expect("time");
    let opts = SignOptions::at(now.with_timezone(&vanthu::clock::vietnam()));
    let prepared =
        external::prepare(sample_pdf(1), &cert[0], &chain, &opts, now, Duration::minutes(5)).expect("prepare");
    let to_sign = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &prepared.handle.signed_attributes,
    )
    .expect("b64");
    let sig = ExternalSignature::Raw(key.sign(&to_sign).expect("sign"));

    let late = external::complete(&prepared.handle, prepared.pdf.clone(), &sig, now + Duration::minutes(6));
    assert!(late.expect_err("expired").to_string().contains("expired"));

    let mut altered = prepared.pdf.clone();
    let at = prepared.handle.gap_start / 2;
    altered[at] ^= 0x20;
    let err = external::complete(&prepared.handle, altered, &sig, now).expect_err("altered");
    assert!(err.to_string().contains("not the one"), "{err}");

    assert!(
        external::prepare(sample_pdf(1), &cert[0], &[], &opts, now, Duration::hours(2)).is_err(),
        "handles live at most an hour"
    );

    let signed = external::complete(&prepared.handle, prepared.pdf, &sig, now + Duration::minutes(4)).expect("in time");
    let report = pades::verify_pdf(
        &signed,
        &VerifyOptions {
            trust: trust(),
            crls: Vec::new(),
            at: now,
            allow_unknown_revocation: true,
        },
    )
    .expect("verify");
    assert_eq!(report.verdict, Verdict::Valid, "{report:?}");
}

#[test]
fn pkcs12_files_sign_with_their_pin_and_refuse_a_wrong_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, sample_pdf(1)).expect("write");
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "123456\n").expect("pin");
    for p12 in ["leader-rsa.p12", "leader-ec.p12", "seal-rsa.p12"] {
        let out = dir.path().join(format!("{p12}.pdf"));
        let o = vanthu(&[
            "pdf",
            "sign",
            "--p12",
            &certs(p12),
            "--pin-file",
            &pin.display().to_string(),
            &input.display().to_string(),
            &out.display().to_string(),
        ]);
        assert!(o.status.success(), "{p12}: {}", text(&o));
        let (verdict, report) = vanthu_verdict(&std::fs::read(&out).expect("out"));
        assert_eq!(verdict, Verdict::Valid, "{p12}: {report}");
    }
    std::fs::write(&pin, "654321\n").expect("pin");
    let out = dir.path().join("wrong.pdf");
    let o = vanthu(&[
        "pdf",
        "sign",
        "--p12",
        &certs("leader-rsa.p12"),
        "--pin-file",
        &pin.display().to_string(),
        &input.display().to_string(),
        &out.display().to_string(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("wrong PIN"), "{err}");
    assert!(!err.contains("654321"), "the PIN is never printed: {err}");
    assert!(!out.exists());
    // --p12 without a PIN file is a usage error.
    let o = vanthu(&["pdf", "sign", "--p12", &certs("leader-rsa.p12"), "in.pdf", "out.pdf"]);
    assert!(!o.status.success());
}
