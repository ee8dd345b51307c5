//! PAdES B-B signing (`vanthu pdf sign`) checked by independent validators: pyHanko
//! (`sign validate`), poppler's `pdfsig` with an NSS database holding the test root,
//! `qpdf --check`, and `openssl cms -verify` over the ByteRange bytes. Plus the bad inputs
//! the CLI must refuse with one line and a non-zero exit.
//!
//! Needs pyHanko (`VANTHU_TEST_PYHANKO`, set by `.ci/run`), pdfsig, certutil, qpdf and openssl;
//! a missing one skips, or fails under `VANTHU_TEST_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common;
use crate::pades_support::{certs, pyhanko, pyhanko_validate, sample_pdf, text};

fn tool(cmd: &str, version_arg: &str) -> Option<()> {
    match Command::new(cmd).arg(version_arg).output() {
        Ok(_) => Some(()),
        Err(_) => common::skip(&format!("{cmd} is not installed (PAdES interoperability)")),
    }
}

crate::scratch_work!();

impl Work {
    /// `vanthu pdf sign` with `args` before IN OUT.
    fn sign(&self, args: &[&str], input: &Path, output: &Path) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vanthu"))
            .args(["pdf", "sign"])
            .args(args)
            .arg(input)
            .arg(output)
            .output()
            .expect("run vanthu")
    }

    fn sign_ok(&self, args: &[&str], input: &Path, output: &Path) {
        let o = self.sign(args, input, output);
        assert!(o.status.success(), "vanthu pdf sign {args:?}: {}", text(&o));
    }
}

const RSA: [&str; 6] = [
    "--key",
    "certs-test/leader-rsa-noaia.key.pem",
    "--cert",
    "certs-test/leader-rsa-noaia.pem",
    "--chain",
    "certs-test/sub-ca.pem",
];

/// Signer arguments with paths made absolute.
fn signer(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| match a.strip_prefix("certs-test/") {
            Some(name) => certs(name),
            None => a.to_string(),
        })
        .collect()
}

fn ec() -> Vec<String> {
    signer(&[
        "--key",
        "certs-test/leader-ec.key.pem",
        "--cert",
        "certs-test/leader-ec.pem",
        "--chain",
        "certs-test/sub-ca.pem",
    ])
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// (ByteRange, DER CMS trimmed of padding) of every signature, in file order.
fn signatures(pdf: &[u8]) -> Vec<([usize; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    let needle = b"/ByteRange";
    while let Some(p) = pdf[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + p + needle.len();
        let open = start + pdf[start..].iter().position(|&b| b == b'[').expect("[");
        let close = open + pdf[open..].iter().position(|&b| b == b']').expect("]");
        let nums: Vec<usize> = std::str::from_utf8(&pdf[open + 1..close])
            .expect("ascii")
            .split_whitespace()
            .map(|n| n.parse().expect("number"))
            .collect();
        let br = [nums[0], nums[1], nums[2], nums[3]];
        let hex = &pdf[br[1] + 1..br[2] - 1];
        let bytes = hex::decode(hex).expect("hex contents");
        // DER: the outer SEQUENCE's length says where the CMS ends; the rest is zero padding.
        let len = match bytes[1] {
            l if l < 0x80 => 2 + l as usize,
            0x81 => 3 + bytes[2] as usize,
            0x82 => 4 + ((bytes[2] as usize) << 8 | bytes[3] as usize),
            0x83 => 5 + ((bytes[2] as usize) << 16 | (bytes[3] as usize) << 8 | bytes[4] as usize),
            other => panic!("unexpected DER length byte {other:#x}"),
        };
        out.push((br, bytes[..len].to_vec()));
        at = close;
    }
    out
}

#[test]
fn signed_files_pass_pyhanko_pdfsig_qpdf_and_openssl() {
    let (Some(pyhanko), Some(()), Some(()), Some(()), Some(())) = (
        pyhanko(),
        tool("pdfsig", "-v"),
        tool("certutil", "-H"),
        tool("qpdf", "--version"),
        tool("openssl", "version"),
    ) else {
        return;
    };
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf(3));
    let one = w.path("one.pdf");
    let rsa = signer(&RSA);
    let mut args = refs(&rsa);
    args.extend(["--reason", "Phê duyệt ban hành", "--location", "Hà Nội"]);
    w.sign_ok(&args, &input, &one);

    let signed = std::fs::read(&one).expect("read");
    let original = std::fs::read(&input).expect("read");
    assert!(
        signed.starts_with(&original),
        "an incremental update keeps the original bytes"
    );

    let o = pyhanko_validate(&pyhanko, &one);
    assert!(
        o.status.success() && text(&o).contains("INTACT:TRUSTED,UNTOUCHED"),
        "pyHanko: {}",
        text(&o)
    );

    let o = Command::new("pdfsig")
        .args(["-nssdir", &w.nss()])
        .arg(&one)
        .output()
        .expect("pdfsig");
    let out = text(&o);
    assert!(
        out.contains("Signature Validation: Signature is Valid."),
        "pdfsig: {out}"
    );
    assert!(
        out.contains("Certificate Validation: Certificate is Trusted."),
        "pdfsig: {out}"
    );
    assert!(out.contains("Signature Type: ETSI.CAdES.detached"), "pdfsig: {out}");

    let o = Command::new("qpdf").arg("--check").arg(&one).output().expect("qpdf");
    assert!(
        o.status.success() && text(&o).contains("No syntax or stream encoding errors"),
        "qpdf: {}",
        text(&o)
    );

    // openssl over the ByteRange bytes, and the CMS's attributes: no signing-time in PAdES.
    let sigs = signatures(&signed);
    assert_eq!(sigs.len(), 1);
    let (br, cms) = &sigs[0];
    assert_eq!(br[0], 0);
    assert_eq!(br[2] + br[3], signed.len(), "the byte range covers the whole file");
    let mut content = signed[..br[1]].to_vec();
    content.extend_from_slice(&signed[br[2]..]);
    let (sig_path, content_path) = (w.write("sig.der", cms), w.write("signed.bin", &content));
    let verify = |content: &Path| {
        Command::new("openssl")
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-in"])
            .arg(&sig_path)
            .arg("-content")
            .arg(content)
            .args(["-CAfile", &certs("root-ca.pem"), "-purpose", "any", "-out", "/dev/null"])
            .output()
            .expect("openssl cms")
    };
    let o = verify(&content_path);
    assert!(
        o.status.success() && text(&o).contains("Verification successful"),
        "openssl: {}",
        text(&o)
    );
    let mut tampered = content.clone();
    tampered[200] ^= 0x01;
    let o = verify(&w.write("tampered.bin", &tampered));
    assert!(!o.status.success(), "openssl accepted tampered content: {}", text(&o));

    let o = Command::new("openssl")
        .args(["cms", "-cmsout", "-print", "-inform", "DER", "-in"])
        .arg(&sig_path)
        .output()
        .expect("openssl cms -print");
    let dump = text(&o);
    assert!(dump.contains("contentType") && dump.contains("messageDigest"), "{dump}");
    assert!(dump.contains("id-smime-aa-signingCertificateV2"), "{dump}");
    assert!(!dump.contains("signingTime"), "PAdES forbids signing-time: {dump}");
    assert!(dump.contains("eContent: <ABSENT>"), "the CMS must be detached: {dump}");

    // The dictionary: /M with +07'00', the UTF-16 reason, the PAdES subfilter.
    let update = String::from_utf8_lossy(&signed[original.len()..]).into_owned();
    assert!(update.contains("/SubFilter/ETSI.CAdES.detached"), "{update:.400}");
    assert!(update.contains("+07'00'"), "the signing time carries Vietnam's offset");
    assert!(
        update.contains("/Reason<FEFF"),
        "a Vietnamese reason is a UTF-16 text string"
    );
}

#[test]
fn sequential_signatures_keep_the_earlier_ones_valid() {
    let (Some(pyhanko), Some(()), Some(())) = (pyhanko(), tool("pdfsig", "-v"), tool("certutil", "-H")) else {
        return;
    };
    let w = Work::new();
    let input = w.write("in.pdf", &sample_pdf(2));
    let (one, two, three) = (w.path("one.pdf"), w.path("two.pdf"), w.path("three.pdf"));
    w.sign_ok(&refs(&signer(&RSA)), &input, &one);
    w.sign_ok(&refs(&ec()), &one, &two);
    let seal = signer(&[
        "--key",
        "certs-test/seal-rsa.key.enc.pem",
        "--cert",
        "certs-test/seal-rsa.pem",
        "--chain",
        "certs-test/chain.pem",
    ]);
    let pin = w.write("pin.txt", b"123456\n");
    let mut args = refs(&seal);
    let pin_path = pin.display().to_string();
    args.extend(["--pin-file", &pin_path, "--field", "Dấu cơ quan"]);
    w.sign_ok(&args, &two, &three);

    let signed = std::fs::read(&three).expect("read");
    assert_eq!(signatures(&signed).len(), 3);
    let o = pyhanko_validate(&pyhanko, &three);
    let out = text(&o);
    assert!(o.status.success(), "pyHanko: {out}");
    assert_eq!(out.matches("INTACT:TRUSTED").count(), 3, "pyHanko: {out}");
    assert!(!out.contains("ILLEGAL"), "pyHanko: {out}");

    let o = Command::new("pdfsig")
        .args(["-nssdir", &w.nss()])
        .arg(&three)
        .output()
        .expect("pdfsig");
    let out = text(&o);
    assert_eq!(
        out.matches("Signature Validation: Signature is Valid.").count(),
        3,
        "pdfsig: {out}"
    );
    assert!(
        out.contains("Signature #3") && !out.contains("Signature #4"),
        "pdfsig: {out}"
    );
}

#[test]
fn key_formats_and_xref_streams_are_accepted() {
    let (Some(pyhanko), Some(())) = (pyhanko(), tool("qpdf", "--version")) else {
        return;
    };
    let w = Work::new();
    let classic = w.write("classic.pdf", &sample_pdf(1));
    // The same file with object streams and a cross-reference stream.
    let objstm = w.path("objstm.pdf");
    let o = Command::new("qpdf")
        .args(["--object-streams=generate"])
        .arg(&classic)
        .arg(&objstm)
        .output()
        .expect("qpdf");
    assert!(o.status.success(), "{}", text(&o));
    let cases: [(&str, &str); 4] = [
        ("leader-rsa.pkcs1.pem", "leader-rsa.pem"),
        ("leader-ec.sec1.pem", "leader-ec.pem"),
        ("leader-rsa.key.der", "leader-rsa.der"),
        ("seal-ec.key.pem", "seal-ec.pem"),
    ];
    for (i, (key, cert)) in cases.iter().enumerate() {
        let out = w.path(&format!("out{i}.pdf"));
        let (key, cert, chain) = (certs(key), certs(cert), certs("sub-ca.pem"));
        w.sign_ok(&["--key", &key, "--cert", &cert, "--chain", &chain], &objstm, &out);
        let o = pyhanko_validate(&pyhanko, &out);
        assert!(
            o.status.success() && text(&o).contains("INTACT:TRUSTED,UNTOUCHED"),
            "{key}: {}",
            text(&o)
        );
    }
}

#[test]
fn bad_inputs_fail_with_one_line_and_write_nothing() {
    let Some(()) = tool("qpdf", "--version") else { return };
    let w = Work::new();
    let pdf = sample_pdf(1);
    let good = w.write("good.pdf", &pdf);
    let out = w.path("out.pdf");
    let rsa = signer(&RSA);
    let encrypted = w.path("encrypted.pdf");
    let o = Command::new("qpdf")
        .args(["--encrypt", "user", "owner", "256", "--"])
        .arg(&good)
        .arg(&encrypted)
        .output()
        .expect("qpdf --encrypt");
    assert!(o.status.success(), "{}", text(&o));
    let pin = w.write("wrong-pin.txt", b"000000\n");
    let pin = pin.display().to_string();

    let cases: Vec<(&str, Vec<String>, PathBuf, &str)> = vec![
        (
            "garbage",
            rsa.clone(),
            w.write("garbage.pdf", b"this is not a PDF at all"),
            "not a readable PDF",
        ),
        (
            "truncated",
            rsa.clone(),
            w.write("truncated.pdf", &pdf[..pdf.len() / 2]),
            "PDF",
        ),
        ("encrypted", rsa.clone(), encrypted, "encrypted"),
        (
            "key of another certificate",
            signer(&[
                "--key",
                "certs-test/leader-ec.key.pem",
                "--cert",
                "certs-test/leader-rsa.pem",
            ]),
            good.clone(),
            "does not belong",
        ),
        (
            "wrong PIN",
            {
                let mut v = signer(&[
                    "--key",
                    "certs-test/leader-rsa.key.enc.pem",
                    "--cert",
                    "certs-test/leader-rsa.pem",
                ]);
                v.extend(["--pin-file".to_string(), pin.clone()]);
                v
            },
            good.clone(),
            "wrong PIN",
        ),
        (
            "encrypted key without PIN",
            signer(&[
                "--key",
                "certs-test/leader-rsa.key.enc.pem",
                "--cert",
                "certs-test/leader-rsa.pem",
            ]),
            good.clone(),
            "PIN is needed",
        ),
        (
            "certificate without signing key usage",
            signer(&[
                "--key",
                "certs-test/wrong-ku.key.pem",
                "--cert",
                "certs-test/wrong-ku.pem",
            ]),
            good.clone(),
            "key usage",
        ),
        (
            "certificate file that is a key",
            signer(&[
                "--key",
                "certs-test/leader-rsa.key.pem",
                "--cert",
                "certs-test/leader-rsa.key.pem",
            ]),
            good.clone(),
            "no certificate",
        ),
        (
            "tiny reservation",
            {
                let mut v = rsa.clone();
                v.extend(["--contents-size".to_string(), "100".to_string()]);
                v
            },
            good.clone(),
            "reservation",
        ),
        (
            "unknown level",
            {
                let mut v = rsa.clone();
                v.extend(["--level".to_string(), "b-x".to_string()]);
                v
            },
            good.clone(),
            "b-x",
        ),
    ];
    for (what, args, input, expected) in cases {
        let o = w.sign(&refs(&args), &input, &out);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!o.status.success(), "{what}: should fail: {}", text(&o));
        assert!(err.contains(expected), "{what}: expected {expected:?} in {err}");
        if what != "unknown level" {
            let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
            assert_eq!(lines, 1, "{what}: one line on stderr, got {err}");
        }
        assert!(!out.exists(), "{what}: nothing may be written");
    }
}
