//! The committed test PKI in `certs-test/`, checked with OpenSSL (an independent implementation):
//! chains verify, negative certificates fail for the right reason, extensions are what the
//! README promises, keys match certificates in every format, and every PEM says it is test-only.
//!
//! Validation runs at a fixed time (`-attime`), so the result never depends on the clock.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;

/// 2030-01-01T00:00:00Z: inside every certificate's validity but the expired signer's.
const AT_2030: &str = "1893456000";
/// 2020-06-01T00:00:00Z: inside the expired signer's validity.
const AT_2020: &str = "1590969600";

const PIN: &str = "pass:123456";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-test")
}

fn file(name: &str) -> String {
    dir().join(name).display().to_string()
}

/// `openssl`, or `None` after skipping (a failure under `VANTHU_TEST_REQUIRE_ALL=1`).
fn openssl() -> Option<()> {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => common::skip("openssl is not installed (test PKI checks)"),
    }
}

fn run(args: &[&str]) -> Output {
    Command::new("openssl").args(args).output().expect("run openssl")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `openssl verify` of `leaf` against the test root with the intermediate, at `at`.
fn verify(leaf: &str, root: &str, at: &str, extra: &[&str]) -> Output {
    let (root, chain, leaf) = (file(root), file("sub-ca.pem"), file(leaf));
    let mut args = vec!["verify", "-attime", at, "-CAfile", &root, "-untrusted", &chain];
    args.extend_from_slice(extra);
    args.push(&leaf);
    run(&args)
}

fn x509_text(cert: &str) -> String {
    let o = run(&[
        "x509",
        "-in",
        &file(cert),
        "-noout",
        "-text",
        "-nameopt",
        "utf8,sep_comma_plus",
    ]);
    assert!(o.status.success(), "{cert}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The public key of a certificate or a private key, as PEM text.
fn public_key(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SIGNERS: [&str; 5] = ["leader-rsa", "leader-ec", "leader-rsa-noaia", "seal-rsa", "seal-ec"];

#[test]
fn every_good_certificate_chains_to_the_test_root() {
    let Some(()) = openssl() else { return };
    for cert in SIGNERS.iter().chain(&["tsa", "ocsp", "sub-ca", "revoked", "wrong-ku"]) {
        let o = verify(&format!("{cert}.pem"), "root-ca.pem", AT_2030, &[]);
        assert!(o.status.success(), "{cert}: {}", text(&o));
    }
    // The same, with CRL checking through the whole chain: nothing but `revoked` is revoked.
    let (root_crl, sub_crl) = (file("root-ca.crl.pem"), file("sub-ca.crl.pem"));
    let crls = ["-crl_check_all", "-CRLfile", &root_crl, "-CRLfile", &sub_crl];
    for cert in SIGNERS {
        let o = verify(&format!("{cert}.pem"), "root-ca.pem", AT_2030, &crls);
        assert!(o.status.success(), "{cert} with CRLs: {}", text(&o));
    }
}

#[test]
fn negative_certificates_fail_for_the_right_reason() {
    let Some(()) = openssl() else { return };
    // Expired: valid in 2020, expired in 2030.
    assert!(verify("expired.pem", "root-ca.pem", AT_2020, &[]).status.success());
    let o = verify("expired.pem", "root-ca.pem", AT_2030, &[]);
    assert!(
        !o.status.success() && text(&o).contains("certificate has expired"),
        "{}",
        text(&o)
    );

    // Revoked: listed in the intermediate's CRL.
    let (root_crl, sub_crl) = (file("root-ca.crl.pem"), file("sub-ca.crl.pem"));
    let o = verify(
        "revoked.pem",
        "root-ca.pem",
        AT_2030,
        &["-crl_check_all", "-CRLfile", &root_crl, "-CRLfile", &sub_crl],
    );
    assert!(
        !o.status.success() && text(&o).contains("certificate revoked"),
        "{}",
        text(&o)
    );
    let crl = run(&["crl", "-in", &sub_crl, "-noout", "-text"]);
    let crl = text(&crl);
    assert!(
        crl.contains("Serial Number: 2009") && crl.contains("Key Compromise"),
        "{crl}"
    );
    assert!(crl.contains("Next Update: Dec 31 23:59:59 2099 GMT"), "{crl}");

    // Untrusted: its own root is not ours.
    let o = verify("untrusted-leader.pem", "root-ca.pem", AT_2030, &[]);
    assert!(
        !o.status.success() && text(&o).contains("unable to get local issuer"),
        "{}",
        text(&o)
    );
    let untrusted_root = file("untrusted-root.pem");
    let o = run(&[
        "verify",
        "-attime",
        AT_2030,
        "-CAfile",
        &untrusted_root,
        &file("untrusted-leader.pem"),
    ]);
    assert!(o.status.success(), "untrusted chain is internally valid: {}", text(&o));

    // Unknown critical extension: OpenSSL refuses it as every careful validator must.
    let o = verify("unknown-critical.pem", "root-ca.pem", AT_2030, &[]);
    assert!(
        !o.status.success() && text(&o).contains("unhandled critical extension"),
        "{}",
        text(&o)
    );

    // Wrong key usage: chains, but cannot sign documents (no digitalSignature/nonRepudiation).
    let t = x509_text("wrong-ku.pem");
    assert!(t.contains("Key Encipherment, Data Encipherment"), "{t}");
    assert!(
        !t.contains("Digital Signature") && !t.contains("Non Repudiation"),
        "{t}"
    );
    let o = verify("wrong-ku.pem", "root-ca.pem", AT_2030, &["-purpose", "smimesign"]);
    assert!(!o.status.success(), "wrong-ku must not pass as a signer: {}", text(&o));
}

#[test]
fn extensions_match_the_roles() {
    let Some(()) = openssl() else { return };
    let tsa = x509_text("tsa.pem");
    assert!(
        tsa.contains("X509v3 Extended Key Usage: critical\n                Time Stamping\n"),
        "the TSA needs exactly one critical EKU, timeStamping:\n{tsa}"
    );
    let ocsp = x509_text("ocsp.pem");
    assert!(
        ocsp.contains("X509v3 Extended Key Usage: critical\n                OCSP Signing"),
        "{ocsp}"
    );
    assert!(ocsp.contains("OCSP No Check"), "{ocsp}");
    let sub = x509_text("sub-ca.pem");
    assert!(sub.contains("CA:TRUE, pathlen:0"), "{sub}");
    assert!(sub.contains("URI:http://127.0.0.1:18880/root-ca.crl"), "{sub}");
    for signer in SIGNERS {
        let t = x509_text(&format!("{signer}.pem"));
        assert!(t.contains("Digital Signature, Non Repudiation"), "{signer}: {t}");
        assert!(
            t.contains("CA:FALSE") && t.contains("OU=TEST ONLY - DO NOT TRUST"),
            "{signer}: {t}"
        );
        let has_aia = t.contains("OCSP - URI:http://127.0.0.1:18881/");
        assert_eq!(has_aia, signer != "leader-rsa-noaia", "{signer}: {t}");
    }
    // Vietnamese names are UTF-8 in the certificate, not mangled.
    let leader = x509_text("leader-rsa.pem");
    assert!(
        leader.contains("CN=Nguyễn Văn An (TEST ONLY)") && leader.contains("title=Thứ trưởng"),
        "{leader}"
    );
    assert!(x509_text("leader-ec.pem").contains("ASN1 OID: prime256v1"));
    assert!(x509_text("expired.pem").contains("Not After : Jan  1 00:00:00 2021 GMT"));
}

#[test]
fn keys_match_their_certificates_in_every_format() {
    let Some(()) = openssl() else { return };
    for signer in SIGNERS
        .iter()
        .chain(&["tsa", "ocsp", "expired", "revoked", "root-ca", "sub-ca"])
    {
        let cert = public_key(&["x509", "-in", &file(&format!("{signer}.pem")), "-noout", "-pubkey"]);
        let (pem, der) = (file(&format!("{signer}.key.pem")), file(&format!("{signer}.key.der")));
        let enc = file(&format!("{signer}.key.enc.pem"));
        let mut forms: Vec<Vec<&str>> = vec![
            vec!["pkey", "-in", &pem, "-pubout"],
            vec!["pkey", "-inform", "DER", "-in", &der, "-pubout"],
        ];
        if SIGNERS.contains(signer) && *signer != "leader-rsa-noaia" {
            forms.push(vec!["pkey", "-in", &enc, "-passin", PIN, "-pubout"]);
        }
        for args in forms {
            assert_eq!(public_key(&args), cert, "{signer}: {args:?}");
        }
        // The DER certificate is the PEM one.
        let der = public_key(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            &file(&format!("{signer}.der")),
            "-noout",
            "-pubkey",
        ]);
        assert_eq!(der, cert, "{signer}.der");
    }
    let rsa = public_key(&["x509", "-in", &file("leader-rsa.pem"), "-noout", "-pubkey"]);
    assert_eq!(
        public_key(&["pkey", "-in", &file("leader-rsa.pkcs1.pem"), "-pubout"]),
        rsa
    );
    let ec = public_key(&["x509", "-in", &file("leader-ec.pem"), "-noout", "-pubkey"]);
    assert_eq!(public_key(&["pkey", "-in", &file("leader-ec.sec1.pem"), "-pubout"]), ec);

    // A wrong PIN is refused.
    let o = run(&[
        "pkey",
        "-in",
        &file("leader-rsa.key.enc.pem"),
        "-passin",
        "pass:000000",
        "-pubout",
    ]);
    assert!(!o.status.success(), "wrong PIN accepted");

    // PKCS#12: key + leaf + intermediate, behind the PIN.
    for signer in ["leader-rsa", "leader-ec", "seal-rsa", "seal-ec"] {
        let p12 = file(&format!("{signer}.p12"));
        let o = run(&["pkcs12", "-in", &p12, "-passin", PIN, "-nokeys"]);
        assert!(o.status.success(), "{signer}.p12: {}", text(&o));
        let certs = String::from_utf8_lossy(&o.stdout).matches("BEGIN CERTIFICATE").count();
        assert_eq!(certs, 2, "{signer}.p12 holds the leaf and the intermediate");
        let o = run(&["pkcs12", "-in", &p12, "-passin", "pass:wrong", "-nokeys"]);
        assert!(!o.status.success(), "{signer}.p12 opened with a wrong password");
    }
}

#[test]
fn ocsp_responses_say_good_and_revoked() {
    let Some(()) = openssl() else { return };
    let (root, sub, responder) = (file("root-ca.pem"), file("sub-ca.pem"), file("ocsp.pem"));
    for (cert, status) in [("leader-rsa", "good"), ("seal-ec", "good"), ("revoked", "revoked")] {
        let (resp, leaf) = (file(&format!("{cert}.ocsp")), file(&format!("{cert}.pem")));
        let o = run(&[
            "ocsp", "-respin", &resp, "-CAfile", &root, "-VAfile", &responder, "-issuer", &sub, "-cert", &leaf,
        ]);
        let out = text(&o);
        assert!(o.status.success(), "{cert}: {out}");
        assert!(
            out.contains("Response verify OK") && out.contains(&format!(": {status}")),
            "{cert}: {out}"
        );
    }
}

#[test]
fn every_pem_file_says_it_is_test_only() {
    let mut checked = 0;
    for entry in std::fs::read_dir(dir()).expect("certs-test") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "pem") {
            let body = std::fs::read_to_string(&path).expect("read pem");
            let first = body.lines().next().unwrap_or_default();
            assert!(
                first.starts_with("TEST ONLY"),
                "{} does not start with the TEST ONLY line",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 39, "expected the whole test PKI, found {checked} PEM files");
}
