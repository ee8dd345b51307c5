//! PAdES B-T, B-LT and B-LTA with the test PKI's services run by `vanthu pki serve-test` as a
//! real process (on the fixed loopback ports the test certificates name, so the tests here take
//! one lock and never run a server at the same time).
//!
//! vanthu-signed files at every level, RSA and ECDSA, one and two signatures: pyHanko
//! `sign validate` (online) and, with the services stopped, `sign adesverify` (only the DSS)
//! say INTACT:TRUSTED; pdfsig says valid and trusted; `qpdf --check` is clean; `vanthu pdf
//! verify` says valid at the right level. pyHanko-signed B-T/B-LT/B-LTA files (using our TSA and
//! OCSP responder) verify in vanthu. A tampered or misdirected time-stamp token and a signer
//! revoked through OCSP are invalid. OpenSSL checks the OCSP responder and the TSA directly.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use der::{Decode, Encode};
use serde_json::Value;

use crate::pades_support::{certs, pyhanko, text, tool, validators};

pub(crate) const TSA: &str = "http://127.0.0.1:18882/";
const PORTS: [u16; 3] = [18880, 18881, 18882];

/// The services use fixed ports: one test at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// `vanthu pki serve-test --certs certs-test`, killed on drop.
pub(crate) struct Server {
    child: Option<Child>,
    ports: [u16; 3],
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

impl Server {
    /// On the ports the test certificates name (take [`lock`] first).
    pub(crate) fn start() -> Self {
        Self::start_at(PORTS[0])
    }

    fn start_at(base: u16) -> Self {
        let ports = [base, base + 1, base + 2];
        assert!(
            !ports.iter().any(|&p| port_open(p)),
            "a test PKI service port ({base}-{}) is already in use",
            base + 2
        );
        let child = Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args([
                "pki",
                "serve-test",
                "--certs",
                &certs(""),
                "--port-base",
                &base.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vanthu pki serve-test");
        let server = Self {
            child: Some(child),
            ports,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ports.iter().all(|&p| port_open(p)) {
            assert!(
                Instant::now() < deadline,
                "vanthu pki serve-test did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.ports.iter().any(|&p| port_open(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A one-page PDF (the shared test document).
fn sample_pdf() -> Vec<u8> {
    crate::pades_support::sample_pdf(1)
}

crate::scratch_work!();

impl Work {
    /// `vanthu pdf sign` as `stem` (leader-rsa, leader-ec, revoked…) at `level`.
    fn sign(&self, stem: &str, level: &str, input: &Path, output: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args(["pdf", "sign", "--key", &certs(&format!("{stem}.key.pem"))])
            .args([
                "--cert",
                &certs(&format!("{stem}.pem")),
                "--chain",
                &certs("sub-ca.pem"),
            ])
            .args(["--level", level, "--tsa", TSA])
            .arg(input)
            .arg(output)
            .output()
            .expect("run vanthu pdf sign")
    }

    fn sign_ok(&self, stem: &str, level: &str, input: &Path, output: &Path) {
        let o = self.sign(stem, level, input, output);
        assert!(o.status.success(), "vanthu pdf sign {stem} {level}: {}", text(&o));
    }
}

/// `vanthu pdf verify --json` (with `extra` arguments): exit code and report.
fn vanthu_verify(file: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "verify", "--trust", &certs("root-ca.pem"), "--json"])
        .args(extra)
        .arg(file)
        .output()
        .expect("run vanthu pdf verify");
    let json = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), json, text(&o))
}

fn pyhanko_run(pyhanko: &str, mode: &str, file: &Path) -> Output {
    Command::new(pyhanko)
        .args(["sign", mode, "--trust", &certs("root-ca.pem"), "--trust-replace"])
        .arg(file)
        .output()
        .expect("run pyhanko")
}

/// Every validator on one vanthu-signed file with `sigs` CAdES signatures at `level`
/// (`b-t`, `b-lt`, `b-lta`). Stops the services before pyHanko's offline AdES validation.
fn check_all(w: &Work, pyhanko: &str, server: &mut Server, file: &Path, sigs: usize, level: &str) {
    let bytes = std::fs::read(file).expect("read");
    // pdfsig (its OCSP checks need the responder up).
    let o = Command::new("pdfsig")
        .args(["-nssdir", &w.nss()])
        .arg(file)
        .output()
        .expect("pdfsig");
    let out = text(&o);
    assert_eq!(
        out.matches("Signature is Valid.").count(),
        sigs,
        "pdfsig {level}: {out}"
    );
    assert_eq!(
        out.matches("Certificate is Trusted.").count(),
        sigs,
        "pdfsig {level}: {out}"
    );

    let o = Command::new("qpdf").arg("--check").arg(file).output().expect("qpdf");
    assert!(
        o.status.success() && text(&o).contains("No syntax or stream encoding errors"),
        "qpdf {level}: {}",
        text(&o)
    );

    // pyHanko, online revocation checks against our OCSP responder and CRLs.
    let o = pyhanko_run(pyhanko, "validate", file);
    let out = text(&o);
    assert!(o.status.success(), "pyHanko validate {level}: {out}");
    assert_eq!(
        out.matches(":INTACT:TRUSTED").count(),
        sigs,
        "pyHanko validate {level}: {out}"
    );
    assert!(
        out.contains("TIMESTAMP_TOKEN<INTACT:TRUSTED>"),
        "pyHanko validate {level}: {out}"
    );
    assert!(!out.contains("ILLEGAL"), "pyHanko validate {level}: {out}");

    // vanthu, with CRLs for B-T (no DSS), from the DSS alone for B-LT and B-LTA.
    let crls = ["--crl", &certs("root-ca.crl"), "--crl", &certs("sub-ca.crl")];
    let (code, json, out) = vanthu_verify(file, if level == "b-t" { &crls } else { &[] });
    assert_eq!(code, Some(0), "vanthu verify {level}: {out}");
    let reports = json["signatures"].as_array().expect("signatures");
    let signatures: Vec<&Value> = reports.iter().filter(|s| s["kind"] == "signature").collect();
    assert_eq!(signatures.len(), sigs, "{out}");
    let want = level.to_uppercase();
    // The last signature reaches the level asked for; earlier ones at least B-T.
    assert_eq!(signatures[sigs - 1]["level"], want.as_str(), "{out}");
    for s in &signatures {
        assert!(s["timestamp"]["time"].is_string(), "{out}");
        assert!(
            s["timestamp"]["tsa"].as_str().is_some_and(|t| t.contains("TSA")),
            "{out}"
        );
    }
    let doc_ts = reports.iter().filter(|s| s["kind"] == "document_timestamp").count();
    assert_eq!(doc_ts, usize::from(level == "b-lta"), "{out}");
    if level != "b-t" {
        let dss = String::from_utf8_lossy(&bytes);
        assert!(
            dss.contains("/DSS") && dss.contains("/OCSPs") && dss.contains("/CRLs"),
            "no DSS"
        );
    }

    // With the services down, only the embedded validation data can make the file trusted.
    server.stop();
    if level != "b-t" {
        let o = pyhanko_run(pyhanko, "adesverify", file);
        let out = text(&o);
        assert!(
            o.status.success(),
            "pyHanko adesverify {level} (services stopped): {out}"
        );
        assert_eq!(
            out.matches(":INTACT:TRUSTED").count(),
            sigs,
            "pyHanko adesverify {level}: {out}"
        );
        let (code, _, out) = vanthu_verify(file, &[]);
        assert_eq!(code, Some(0), "vanthu verify {level} offline: {out}");
    }
}

pub(crate) fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn one_signature_at_bt_blt_blta_rsa_and_ecdsa_passes_every_validator() {
    let Some(pyhanko) = validators() else { return };
    let _guard = lock();
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf());
    for stem in ["leader-rsa", "leader-ec"] {
        for level in ["b-t", "b-lt", "b-lta"] {
            let mut server = Server::start();
            let out = w.path(&format!("{stem}-{level}.pdf"));
            w.sign_ok(stem, level, &input, &out);
            let signed = std::fs::read(&out).expect("read");
            assert!(
                signed.starts_with(&sample_pdf()),
                "incremental: the input is the prefix"
            );
            let eofs = signed.windows(5).filter(|w| w == b"%%EOF").count();
            let want = match level {
                "b-t" => 2,
                "b-lt" => 3,
                _ => 4,
            };
            assert_eq!(eofs, want, "{stem} {level}: revisions");
            check_all(&w, &pyhanko, &mut server, &out, 1, level);
        }
    }
}

#[test]
fn two_signatures_at_blt_then_blta_pass_every_validator() {
    let Some(pyhanko) = validators() else { return };
    let _guard = lock();
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf());
    let mut server = Server::start();
    let (one, two) = (w.path("one.pdf"), w.path("two.pdf"));
    w.sign_ok("leader-rsa", "b-lt", &input, &one);
    w.sign_ok("seal-ec", "b-lta", &one, &two);
    check_all(&w, &pyhanko, &mut server, &two, 2, "b-lta");
    // The earlier signature reached B-LT in its own right.
    let (code, json, out) = vanthu_verify(&two, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(json["signatures"][0]["level"], "B-LTA", "{out}");
}

/// Rewrites the `/Contents` of the `index`-th signature (hex, zero-padded to its hole).
fn replace_contents(pdf: &mut [u8], index: usize, der: &[u8]) {
    let holes = contents_holes(pdf);
    let (start, end) = holes[index];
    let hex = hex::encode_upper(der);
    assert!(hex.len() <= end - start - 2, "the new CMS does not fit");
    let hole = &mut pdf[start + 1..end - 1];
    hole.fill(b'0');
    hole[..hex.len()].copy_from_slice(hex.as_bytes());
}

/// (offset of `<`, offset after `>`) of every signature's `/Contents`, from its ByteRange.
fn contents_holes(pdf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    let needle = b"/ByteRange";
    while let Some(p) = pdf[at..].windows(needle.len()).position(|w| w == needle) {
        let open = at + p + pdf[at + p..].iter().position(|&b| b == b'[').expect("[");
        let close = open + pdf[open..].iter().position(|&b| b == b']').expect("]");
        let nums: Vec<usize> = std::str::from_utf8(&pdf[open + 1..close])
            .expect("ascii")
            .split_whitespace()
            .map(|n| n.parse().expect("number"))
            .collect();
        out.push((nums[1], nums[2]));
        at = close;
    }
    out
}

fn cms_of(pdf: &[u8], index: usize) -> Vec<u8> {
    let (start, end) = contents_holes(pdf)[index];
    let bytes = hex::decode(&pdf[start + 1..end - 1]).expect("hex");
    let info = cms::content_info::ContentInfo::from_der(&bytes[..der_len(&bytes)]).expect("CMS");
    info.to_der().expect("der")
}

fn der_len(bytes: &[u8]) -> usize {
    match bytes[1] {
        l if l < 0x80 => 2 + l as usize,
        0x81 => 3 + bytes[2] as usize,
        0x82 => 4 + ((bytes[2] as usize) << 8 | bytes[3] as usize),
        0x83 => 5 + ((bytes[2] as usize) << 16 | (bytes[3] as usize) << 8 | bytes[4] as usize),
        other => panic!("unexpected DER length byte {other:#x}"),
    }
}

/// The signature time-stamp token of a CMS, and the CMS without it.
fn split_token(cms_der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use cms::signed_data::SignedData;
    let info = cms::content_info::ContentInfo::from_der(cms_der).expect("CMS");
    let mut sd: SignedData = info.content.decode_as().expect("SignedData");
    let mut infos = sd.signer_infos.0.into_vec();
    let attrs = infos[0].unsigned_attrs.take().expect("unsigned attributes");
    let token = attrs
        .iter()
        .next()
        .expect("token")
        .values
        .iter()
        .next()
        .expect("value")
        .to_der()
        .expect("der");
    sd.signer_infos = cms::signed_data::SignerInfos(der::asn1::SetOfVec::try_from(infos).expect("set"));
    let bare = cms::content_info::ContentInfo {
        content_type: info.content_type,
        content: der::Any::encode_from(&sd).expect("encode"),
    };
    (token, bare.to_der().expect("der"))
}

#[test]
fn tampered_or_misdirected_tokens_and_an_ocsp_revoked_signer_are_invalid() {
    let Some(()) = tool("openssl", "version") else { return };
    let _guard = lock();
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf());
    let mut server = Server::start();
    let bt = w.path("bt.pdf");
    w.sign_ok("leader-rsa", "b-t", &input, &bt);
    let revoked = w.path("revoked.pdf");
    w.sign_ok("revoked", "b-lt", &input, &revoked);

    // OpenSSL asks our responder directly: good, revoked, and a nonce echoed.
    let ocsp = |cert: &str| {
        Command::new("openssl")
            .args(["ocsp", "-issuer", &certs("sub-ca.pem"), "-cert", &certs(cert)])
            .args(["-url", "http://127.0.0.1:18881/", "-CAfile", &certs("root-ca.pem")])
            .output()
            .expect("openssl ocsp")
    };
    let out = text(&ocsp("leader-ec.pem"));
    assert!(out.contains("Response verify OK") && out.contains(": good"), "{out}");
    let out = text(&ocsp("revoked.pem"));
    assert!(out.contains("Response verify OK") && out.contains(": revoked"), "{out}");
    assert!(out.contains("Reason: keyCompromise"), "{out}");

    // OpenSSL checks a token from our TSA.
    let data = w.write("data.txt", "Công văn số 15/BTP-VP".as_bytes());
    let tsq = w.path("q.tsq");
    let o = Command::new("openssl")
        .args(["ts", "-query", "-data"])
        .arg(&data)
        .args(["-sha256", "-cert", "-out"])
        .arg(&tsq)
        .output()
        .expect("openssl ts -query");
    assert!(o.status.success(), "{}", text(&o));
    let client = vanthu::pki::client::HttpClient::new().expect("client");
    let tsr = client
        .post(TSA, "application/timestamp-query", std::fs::read(&tsq).expect("tsq"))
        .expect("TSA answers");
    let tsr_path = w.write("r.tsr", &tsr);
    let o = Command::new("openssl")
        .args(["ts", "-verify", "-in"])
        .arg(&tsr_path)
        .arg("-queryfile")
        .arg(&tsq)
        .args(["-CAfile", &certs("root-ca.pem"), "-untrusted", &certs("sub-ca.pem")])
        .output()
        .expect("openssl ts -verify");
    assert!(
        o.status.success() && text(&o).contains("Verification: OK"),
        "{}",
        text(&o)
    );

    // --online: revocation fetched now (OCSP for the signer) instead of given as --crl.
    let (code, json, out) = vanthu_verify(&bt, &["--online"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        json["signatures"][0]["revocation"]
            .as_str()
            .is_some_and(|r| r.contains("OCSP")),
        "{out}"
    );
    assert_eq!(json["signatures"][0]["level"], "B-T", "fetched data is not B-LT: {out}");
    server.stop();
    let (code, _, out) = vanthu_verify(&bt, &["--online"]);
    assert_eq!(code, Some(2), "services down: revocation unknown: {out}");

    let crls = ["--crl", &certs("root-ca.crl"), "--crl", &certs("sub-ca.crl")];
    let (code, json, out) = vanthu_verify(&bt, &crls);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(json["signatures"][0]["level"], "B-T", "{out}");

    // A byte of the token's signature flipped: the TSA's signature fails.
    let signed = std::fs::read(&bt).expect("read");
    let cms_der = cms_of(&signed, 0);
    let (token, bare) = split_token(&cms_der);
    let mut bad_token = token.clone();
    let last = bad_token.len() - 3;
    bad_token[last] ^= 0x01;
    let mut tampered = signed.clone();
    let cms_bad = vanthu::pades::timestamp::add_signature_timestamp(&bare, &bad_token).expect("re-add");
    replace_contents(&mut tampered, 0, &cms_bad);
    let file = w.write("tampered.pdf", &tampered);
    let (code, json, out) = vanthu_verify(&file, &crls);
    assert_eq!(code, Some(1), "a tampered token must be invalid: {out}");
    assert!(
        json["signatures"][0]["reasons"].to_string().contains("time-stamp"),
        "{out}"
    );

    // A genuine token from our TSA, but over another imprint.
    let tsa_cert = vanthu::pades::load_certificates(&std::fs::read(certs("tsa.pem")).expect("tsa"))
        .expect("tsa cert")
        .remove(0);
    let tsa = vanthu::pki::tsp::Tsa {
        key: vanthu::pades::SigningKey::from_bytes(&std::fs::read(certs("tsa.key.pem")).expect("key"), None, &tsa_cert)
            .expect("tsa key"),
        cert: tsa_cert,
        chain: vanthu::pades::load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("sub-ca")).expect("sub-ca"),
        policy: vanthu::pki::tsp::TEST_POLICY,
    };
    let nonce = [7u8; 8];
    let req = vanthu::pki::tsp::request(&[0x42; 32], &nonce).expect("request");
    let resp = tsa.respond(&req, chrono::Utc::now(), &[1, 2, 3]);
    let wrong = vanthu::pki::tsp::token_from_response(&resp, &[0x42; 32], &nonce).expect("token");
    let mut misdirected = signed.clone();
    let cms_wrong = vanthu::pades::timestamp::add_signature_timestamp(&bare, &wrong).expect("re-add");
    replace_contents(&mut misdirected, 0, &cms_wrong);
    let file = w.write("misdirected.pdf", &misdirected);
    let (code, json, out) = vanthu_verify(&file, &crls);
    assert_eq!(code, Some(1), "a token over another imprint must be invalid: {out}");
    assert!(
        json["signatures"][0]["reasons"].to_string().contains("imprint"),
        "{out}"
    );

    // The revoked signer: its B-LT DSS carries our responder's "revoked" answer.
    let (code, json, out) = vanthu_verify(&revoked, &[]);
    assert_eq!(code, Some(1), "a signer revoked through OCSP must be invalid: {out}");
    let reasons = json["signatures"][0]["reasons"].to_string();
    assert!(reasons.contains("revoked") && reasons.contains("OCSP"), "{out}");
}

#[test]
fn pyhanko_ltv_files_using_our_services_verify_in_vanthu() {
    let Some(pyhanko) = pyhanko() else { return };
    let _guard = lock();
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf());
    let mut server = Server::start();
    let cases: [(&str, &str, &[&str]); 4] = [
        ("leader-rsa", "B-T", &[]),
        ("leader-ec", "B-LT", &["--with-validation-info"]),
        ("leader-rsa", "B-LTA", &["--with-validation-info", "--use-pades-lta"]),
        ("seal-ec", "B-LTA", &["--with-validation-info", "--use-pades-lta"]),
    ];
    let mut files = Vec::new();
    for (i, (stem, level, extra)) in cases.iter().enumerate() {
        let out = w.path(&format!("ph{i}.pdf"));
        let o = Command::new(&pyhanko)
            .args([
                "sign",
                "addsig",
                "--field",
                &format!("Sig{i}"),
                "--use-pades",
                "--timestamp-url",
                TSA,
            ])
            .args(*extra)
            .args(["--trust", &certs("root-ca.pem"), "--trust-replace"])
            .args(["pemder", "--key", &certs(&format!("{stem}.key.pem"))])
            .args([
                "--cert",
                &certs(&format!("{stem}.pem")),
                "--chain",
                &certs("sub-ca.pem"),
                "--no-pass",
            ])
            .arg(&input)
            .arg(&out)
            .output()
            .expect("pyhanko addsig");
        assert!(o.status.success(), "pyHanko {stem} {level}: {}", text(&o));
        files.push((out, *level));
    }
    // Two signatures by pyHanko: an LTA signature over an LT file.
    let both = w.path("ph-both.pdf");
    let o = Command::new(&pyhanko)
        .args([
            "sign",
            "addsig",
            "--field",
            "Second",
            "--use-pades",
            "--timestamp-url",
            TSA,
        ])
        .args(["--with-validation-info", "--use-pades-lta"])
        .args(["--trust", &certs("root-ca.pem"), "--trust-replace"])
        .args([
            "pemder",
            "--key",
            &certs("seal-rsa.key.pem"),
            "--cert",
            &certs("seal-rsa.pem"),
        ])
        .args(["--chain", &certs("sub-ca.pem"), "--no-pass"])
        .arg(&files[1].0)
        .arg(&both)
        .output()
        .expect("pyhanko addsig");
    assert!(o.status.success(), "pyHanko second signature: {}", text(&o));
    server.stop();

    let crls = ["--crl", &certs("root-ca.crl"), "--crl", &certs("sub-ca.crl")];
    for (file, level) in &files {
        let extra: &[&str] = if *level == "B-T" { &crls } else { &[] };
        let (code, json, out) = vanthu_verify(file, extra);
        assert_eq!(code, Some(0), "pyHanko {level}: {out}");
        assert_eq!(json["signatures"][0]["level"], *level, "{out}");
    }
    let (code, json, out) = vanthu_verify(&both, &[]);
    assert_eq!(code, Some(0), "pyHanko two signatures: {out}");
    let levels: Vec<&str> = json["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter(|s| s["kind"] == "signature")
        .filter_map(|s| s["level"].as_str())
        .collect();
    assert_eq!(levels, ["B-LTA", "B-LTA"], "{out}");
}

#[test]
fn levels_above_bb_without_a_working_tsa_fail_with_one_line_and_write_nothing() {
    let _guard = lock();
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf());
    let out = w.path("out.pdf");
    let base = |level: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vanthu"));
        cmd.args(["pdf", "sign", "--key", &certs("leader-rsa.key.pem")]).args([
            "--cert",
            &certs("leader-rsa.pem"),
            "--level",
            level,
        ]);
        cmd
    };
    // No --tsa at all; a TSA nobody listens on (the services are not running under the lock).
    let cases: [(&str, Vec<&str>, &str); 3] = [
        ("b-t", vec![], "--tsa"),
        ("b-lt", vec!["--tsa", TSA], "time-stamp"),
        ("b-lta", vec!["--tsa", "ftp://127.0.0.1/"], "unsupported URL"),
    ];
    for (level, extra, expected) in cases {
        let o = base(level)
            .args(&extra)
            .arg(&input)
            .arg(&out)
            .output()
            .expect("run vanthu");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{level} {extra:?} should fail: {}", text(&o));
        assert!(
            err.contains(expected),
            "{level} {extra:?}: expected {expected:?} in {err}"
        );
        assert_eq!(
            err.lines().filter(|l| !l.trim().is_empty()).count(),
            1,
            "one line: {err}"
        );
        assert!(!out.exists(), "nothing may be written");
    }
}

#[test]
fn serve_test_on_another_port_base_serves_files_and_answers_bad_requests_with_protocol_errors() {
    use vanthu::pki::client::HttpClient;
    // Not the certificates' ports, so no lock: nothing here depends on them.
    let mut server = Server::start_at(28880);
    let client = HttpClient::new().expect("client");
    let crl = client.get("http://127.0.0.1:28880/sub-ca.crl").expect("CRL");
    assert_eq!(
        crl,
        std::fs::read(certs("sub-ca.crl")).expect("read"),
        "served as committed"
    );
    let cer = client
        .get("http://127.0.0.1:28880/root-ca.cer")
        .expect("CA certificate");
    assert_eq!(cer, std::fs::read(certs("root-ca.cer")).expect("read"));
    for missing in ["nope.crl", "root-ca.key.pem", "..%2Froot-ca.key.pem"] {
        let err = client
            .get(&format!("http://127.0.0.1:28880/{missing}"))
            .expect_err("only CRLs and certificates are served");
        assert!(err.to_string().contains("404"), "{missing}: {err}");
    }

    // Garbage in: a protocol-level refusal, not an HTTP error or a dropped connection.
    let resp = client
        .post(
            "http://127.0.0.1:28881/",
            "application/ocsp-request",
            b"garbage".to_vec(),
        )
        .expect("OCSP answers");
    let resp = x509_ocsp::OcspResponse::from_der(&resp).expect("an OCSPResponse");
    assert_eq!(resp.response_status, x509_ocsp::OcspResponseStatus::MalformedRequest);
    let resp = client
        .post(
            "http://127.0.0.1:28882/",
            "application/timestamp-query",
            b"garbage".to_vec(),
        )
        .expect("TSA answers");
    let resp = x509_tsp::TimeStampResp::from_der(&resp).expect("a TimeStampResp");
    assert_eq!(resp.status.status, cmpv2::status::PkiStatus::Rejection);
    assert!(resp.time_stamp_token.is_none());

    // RFC 6960 GET: the base64 request in the path; the answer echoes our nonce.
    let load = |name: &str| {
        vanthu::pades::load_certificates(&std::fs::read(certs(name)).expect("read"))
            .expect("cert")
            .remove(0)
    };
    let (leader, sub_ca) = (load("leader-ec.pem"), load("sub-ca.pem"));
    let nonce = [9u8; 16];
    let req = vanthu::pki::ocsp::request(&leader, &sub_ca, Some(&nonce)).expect("request");
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &req);
    let resp = client.get(&format!("http://127.0.0.1:28881/{b64}")).expect("OCSP GET");
    let basic = vanthu::pki::ocsp::basic_response(&resp).expect("basic response");
    assert_eq!(vanthu::pki::ocsp::response_nonce(&basic).as_deref(), Some(&nonce[..]));
    // The response's signature is OpenSSL's to check (`openssl ocsp` above says "Response verify
    // OK"); here only the CertID matching and the status are looked at.
    let verify = |_: &x509_cert::Certificate, _: &der::asn1::ObjectIdentifier, _: &[u8], _: &[u8]| true;
    let checked = vanthu::pki::ocsp::check_response(&resp, &leader, &sub_ca, &verify).expect("about the leader");
    assert_eq!(checked.status, vanthu::pki::ocsp::OcspStatus::Good);
    assert_eq!(checked.certs.len(), 1, "the delegated responder sends its certificate");
    server.stop();
}
