//! XML signatures on edXML packets (`edxml::dsig`): our RSA and ECDSA signatures verify in
//! vanthu and in `xmlsec1`; `xmlsec1`'s signatures verify in vanthu; tampering and bad input
//! are reported with the right reason; our canonical form equals `xmllint --c14n/--exc-c14n`.

use std::io::{BufReader, Cursor};
use std::path::Path;
use std::process::{Command, Output};

use chrono::{NaiveDate, TimeZone, Utc};
use vanthu::edxml::dsig::{self, build_signed, verify_packet, C14nMethod, DsigError, DsigReport, SignParams};
use vanthu::edxml::{self, Attachment, AttachmentSource, Code, DocumentPacket, Limits, Organization, Packet};
use vanthu::pades::{load_certificates, load_crls, SigningKey, Verdict, VerifyOptions};
use x509_cert::Certificate;

use crate::common;
use crate::edxml::FIXTURES;
use crate::pades_support::{certs, text};

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EDXML_NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

fn read(name: &str) -> Vec<u8> {
    std::fs::read(certs(name)).expect("read certs-test file")
}

fn cert(name: &str) -> Certificate {
    load_certificates(&read(name)).expect("cert").remove(0)
}

fn key(name: &str, cert: &Certificate) -> SigningKey {
    SigningKey::from_bytes(&read(name), None, cert).expect("key")
}

fn attachment_bytes() -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    v
}

fn packet() -> Packet {
    Packet::Document(Box::new(DocumentPacket {
        from: Organization {
            organ_id: Some("000.00.00.G12".into()),
            organ_name: Some("Bộ Tư pháp".into()),
            ..Default::default()
        },
        to: vec![
            Organization {
                organ_id: Some("000.00.00.H41".into()),
                ..Default::default()
            },
            Organization {
                organ_id: Some("000.00.01.H41".into()),
                ..Default::default()
            },
        ],
        document_id: Some("000.00.00.G12,2026/12/01,15/BTP-VP".into()),
        code: Code {
            number: Some("15".into()),
            notation: Some("BTP-VP".into()),
        },
        promulgation: edxml::PromulgationInfo {
            place: Some("Hà Nội".into()),
            date: NaiveDate::from_ymd_opt(2026, 12, 1),
        },
        subject: Some("V/v ký số gói tin \"edXML\" & <kiểm thử> 'liên thông'".into()),
        attachments: vec![Attachment {
            content_id: Some("att-1".into()),
            name: Some("Quyết định 15.pdf".into()),
            content_type: Some("application/pdf".into()),
            ..Default::default()
        }],
        ..Default::default()
    }))
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).single().expect("time")
}

/// Signs `packet()` with a certs-test signer (`stem`.key.pem / `stem`.pem) and the chain.
fn signed(stem: &str, chain: &[&str], c14n: C14nMethod) -> Vec<u8> {
    let c = cert(&format!("{stem}.pem"));
    let k = key(&format!("{stem}.key.pem"), &c);
    let chain: Vec<Certificate> = chain.iter().map(|n| cert(n)).collect();
    let params = SignParams {
        key: &k,
        cert: &c,
        chain: &chain,
        c14n,
        at: now(),
    };
    let data = attachment_bytes();
    let mut open = |_: usize| -> std::io::Result<AttachmentSource<'_>> { Ok(Box::new(Cursor::new(data.clone()))) };
    let mut out = Vec::new();
    build_signed(&packet(), &mut open, &params, &mut out).expect("sign");
    out
}

fn options(trust: &[&str]) -> VerifyOptions {
    let mut crls = load_crls(&read("root-ca.crl")).expect("crl");
    crls.extend(load_crls(&read("sub-ca.crl")).expect("crl"));
    VerifyOptions {
        trust: trust.iter().map(|n| cert(n)).collect(),
        crls,
        at: now(),
        allow_unknown_revocation: false,
    }
}

fn verify(bytes: &[u8], trust: &[&str]) -> DsigReport {
    verify_packet(Cursor::new(bytes), &options(trust), &Limits::default()).expect("verify")
}

fn assert_valid(bytes: &[u8], what: &str) -> DsigReport {
    let r = verify(bytes, &["root-ca.pem"]);
    assert_eq!(r.verdict, Verdict::Valid, "{what}: {r:#?}");
    assert_eq!(r.digest_matches, Some(true), "{what}");
    assert_eq!(r.signature_matches, Some(true), "{what}");
    assert!(r.reasons.is_empty(), "{what}: {:?}", r.reasons);
    r
}

fn assert_invalid(bytes: &[u8], reason: &str, what: &str) -> DsigReport {
    let r = verify(bytes, &["root-ca.pem"]);
    assert_eq!(r.verdict, Verdict::Invalid, "{what}: {r:#?}");
    assert!(
        r.reasons.iter().any(|x| x.contains(reason)),
        "{what}: expected a reason containing {reason:?}, got {:?}",
        r.reasons
    );
    r
}

fn replace_once(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let s = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert!(s.contains(from), "{from:?} not in the packet");
    s.replacen(from, to, 1).into_bytes()
}

/// The text between `<tag>` and `</tag>` (first occurrence).
fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let start = s.find(open).expect("open tag") + open.len();
    let end = s[start..].find(close).expect("close tag") + start;
    &s[start..end]
}

// ------------------------------------------------------------------------------------------
// external validators

fn tool(name: &str) -> Option<()> {
    match Command::new(name).arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => common::skip(&format!("{name} is not installed (.ci/run installs it)")),
    }
}

fn xmlsec1_verify(dir: &Path, bytes: &[u8], trust: &str) -> Output {
    let path = dir.join("to-verify.edxml");
    std::fs::write(&path, bytes).expect("write");
    Command::new("xmlsec1")
        .args(["--verify", "--enabled-reference-uris", "empty", "--trusted-pem"])
        .arg(certs(trust))
        .arg(&path)
        .output()
        .expect("run xmlsec1")
}

// ------------------------------------------------------------------------------------------
// our signatures

#[test]
fn rsa_and_ecdsa_signatures_verify_in_vanthu() {
    for (stem, c14n) in [
        ("leader-rsa", C14nMethod::Inclusive),
        ("leader-ec", C14nMethod::Exclusive),
        ("seal-rsa", C14nMethod::Exclusive),
        ("seal-ec", C14nMethod::Inclusive),
    ] {
        let bytes = signed(stem, &["sub-ca.pem"], c14n);
        let r = assert_valid(&bytes, stem);
        assert_eq!(r.signature_namespace.as_deref(), Some(DSIG_NS));
        assert_eq!(r.certificate_path.len(), 2, "{stem}: signer and sub-ca");
        assert_eq!(r.revocation, "good (CRL)");
        assert!(r.signer.as_deref().unwrap_or_default().contains("TEST ONLY"));
        // The Signature sits in edXMLHeader after TraceHeaderList, before the body.
        let s = String::from_utf8(bytes.clone()).expect("utf8");
        let sig = s
            .find("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">")
            .expect("sig");
        assert!(s.find("</edXML:TraceHeaderList>").expect("thl") < sig);
        assert!(sig < s.find("</edXML:edXMLHeader>").expect("header end"));
        // The packet still parses to the same model, and says it is signed.
        let parsed = edxml::parse_bytes(&bytes, &mut edxml::DiscardSink, &Limits::default()).expect("parse");
        assert!(parsed.signature_present);
        let Packet::Document(d) = parsed.packet else {
            panic!("document")
        };
        assert_eq!(
            d.subject.as_deref(),
            Some("V/v ký số gói tin \"edXML\" & <kiểm thử> 'liên thông'")
        );
        assert_eq!(d.attachments[0].size, Some(attachment_bytes().len() as u64));
    }
}

#[test]
fn xmlsec1_verifies_our_rsa_and_ecdsa_signatures() {
    if tool("xmlsec1").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    for (stem, c14n) in [
        ("leader-rsa", C14nMethod::Inclusive),
        ("leader-rsa", C14nMethod::Exclusive),
        ("leader-ec", C14nMethod::Inclusive),
        ("seal-ec", C14nMethod::Exclusive),
    ] {
        let bytes = signed(stem, &["sub-ca.pem"], c14n);
        let out = xmlsec1_verify(dir.path(), &bytes, "root-ca.pem");
        assert!(out.status.success(), "xmlsec1 refuses {stem} {c14n:?}:\n{}", text(&out));
        assert!(text(&out).contains("OK"), "{}", text(&out));
        // And it refuses a tampered one and an untrusted root.
        let tampered = replace_once(&bytes, "Bộ Tư pháp", "Bộ Tư Pháp");
        let out = xmlsec1_verify(dir.path(), &tampered, "root-ca.pem");
        assert!(!out.status.success(), "xmlsec1 accepts a tampered packet");
        let out = xmlsec1_verify(dir.path(), &bytes, "untrusted-root.pem");
        assert!(!out.status.success(), "xmlsec1 accepts an untrusted root");
    }
}

#[test]
fn signed_packets_validate_against_our_xsd() {
    if tool("xmllint").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("signed.edxml");
    std::fs::write(&path, signed("leader-rsa", &["sub-ca.pem"], C14nMethod::Inclusive)).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/edxml.xsd"))
        .arg(&path)
        .output()
        .expect("xmllint");
    assert!(out.status.success(), "{}", text(&out));
}

// ------------------------------------------------------------------------------------------
// xmlsec1's signatures

/// The unsigned packet with a signature template inserted at `at` (after the first match of
/// `anchor`).
fn template(anchor: &str, c14n: &str, method: &str, x509: bool) -> Vec<u8> {
    let data = attachment_bytes();
    let unsigned = edxml::build_to_vec(&packet(), vec![Box::new(Cursor::new(data))]).expect("build");
    let key_info = if x509 { "<KeyInfo><X509Data/></KeyInfo>" } else { "" };
    let tmpl = format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{c14n}\"/>\
         <ds:SignatureMethod Algorithm=\"{method}\"/><ds:Reference URI=\"\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"{c14n}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/></ds:Reference>\
         </ds:SignedInfo><ds:SignatureValue/>{}</ds:Signature>",
        key_info.replace('<', "<ds:").replace("<ds:/", "</ds:")
    );
    let s = String::from_utf8(unsigned).expect("utf8");
    let at = s.find(anchor).expect("anchor") + anchor.len();
    format!("{}{}{}", &s[..at], tmpl, &s[at..]).into_bytes()
}

fn xmlsec1_sign(dir: &Path, tmpl: &[u8], stem: &str) -> Vec<u8> {
    let input = dir.join("template.edxml");
    let output = dir.join("signed-by-xmlsec1.edxml");
    std::fs::write(&input, tmpl).expect("write");
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(format!(
            "{},{},{}",
            certs(&format!("{stem}.key.pem")),
            certs(&format!("{stem}.pem")),
            certs("sub-ca.pem")
        ))
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .output()
        .expect("run xmlsec1");
    assert!(out.status.success(), "xmlsec1 --sign: {}", text(&out));
    std::fs::read(&output).expect("signed")
}

#[test]
fn vanthu_verifies_xmlsec1_signatures() {
    if tool("xmlsec1").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        // In edXMLHeader after TraceHeaderList, exclusive c14n, RSA.
        (
            "</edXML:TraceHeaderList>",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "leader-rsa",
        ),
        // Same place, inclusive c14n, ECDSA.
        (
            "</edXML:TraceHeaderList>",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "leader-ec",
        ),
        // As the root's last child (xmlsec1's usual place), inclusive, RSA seal.
        (
            "</AttachmentEncoded>",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "seal-rsa",
        ),
    ];
    for (anchor, c14n, method, stem) in cases {
        let signed = xmlsec1_sign(dir.path(), &template(anchor, c14n, method, true), stem);
        let r = assert_valid(&signed, &format!("xmlsec1 {stem} {c14n}"));
        assert_eq!(r.signature_method.as_deref(), Some(method));
        assert_eq!(r.canonicalization.as_deref(), Some(c14n));
        // xmlsec1 agrees with itself (sanity of the fixture).
        let out = xmlsec1_verify(dir.path(), &signed, "root-ca.pem");
        assert!(out.status.success(), "{}", text(&out));
        // Tampering with an xmlsec1-signed packet is caught too.
        assert_invalid(
            &replace_once(&signed, "BTP-VP</edXML:CodeNotation>", "BTP-TCCB</edXML:CodeNotation>"),
            "integrity",
            "xmlsec1-signed, tampered",
        );
    }
}

// ------------------------------------------------------------------------------------------
// tampering

#[test]
fn tampering_is_reported_invalid_with_the_reason() {
    let bytes = signed("leader-rsa", &["sub-ca.pem"], C14nMethod::Inclusive);
    assert_valid(&bytes, "untouched");

    // A changed subject.
    let r = assert_invalid(
        &replace_once(&bytes, "V/v ký số", "V/v không ký số"),
        "integrity",
        "subject",
    );
    assert_eq!(r.digest_matches, Some(false));
    assert_eq!(r.signature_matches, Some(true));

    // One changed attachment byte (one base64 character of the content).
    let s = String::from_utf8(bytes.clone()).expect("utf8");
    let content = between(
        &s,
        "<edXML:ContentTransferEncoded xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">",
        "<",
    );
    let mid = content.len() / 2;
    let flipped: String = content
        .char_indices()
        .map(|(i, c)| {
            if i == mid {
                if c == 'A' {
                    'B'
                } else {
                    'A'
                }
            } else {
                c
            }
        })
        .collect();
    let r = assert_invalid(&replace_once(&bytes, content, &flipped), "integrity", "attachment byte");
    assert_eq!(r.digest_matches, Some(false));

    // A swapped certificate: the seal's certificate instead of the leader's.
    let leader = between(&s, "<X509Certificate>", "</X509Certificate>");
    let seal = std::fs::read_to_string(certs("seal-rsa.pem")).expect("pem");
    let seal_b64: String = seal
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let r = assert_invalid(
        &replace_once(&bytes, leader, &seal_b64),
        "does not verify with the KeyInfo certificate",
        "swapped certificate",
    );
    assert_eq!(r.signature_matches, Some(false));

    // A changed SignedInfo (its DigestValue).
    let digest = between(&s, "<DigestValue>", "</DigestValue>");
    let first = if digest.starts_with('A') { "B" } else { "A" };
    let other = format!("{first}{}", &digest[1..]);
    let r = assert_invalid(
        &replace_once(&bytes, digest, &other),
        "does not verify with the KeyInfo certificate",
        "SignedInfo",
    );
    assert_eq!(r.signature_matches, Some(false));

    // An untrusted root: our packet checked against another anchor…
    let r = verify(&bytes, &["untrusted-root.pem"]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(r.reasons.iter().any(|x| x.contains("trust anchor")), "{:?}", r.reasons);
    // …and a packet signed under the untrusted chain, checked against ours.
    let untrusted = signed("untrusted-leader", &["untrusted-root.pem"], C14nMethod::Inclusive);
    let r = assert_invalid(&untrusted, "trust anchor", "untrusted chain");
    assert_eq!(r.digest_matches, Some(true));
    assert_eq!(r.signature_matches, Some(true));

    // A revoked signer (sub-ca.crl lists it).
    let revoked = signed("revoked", &["sub-ca.pem"], C14nMethod::Inclusive);
    let r = assert_invalid(&revoked, "revoked", "revoked signer");
    assert_eq!(r.revocation, "revoked");

    // No CRL: indeterminate, unless asked to accept an unknown status.
    let mut opts = options(&["root-ca.pem"]);
    opts.crls.clear();
    let r = verify_packet(Cursor::new(&bytes), &opts, &Limits::default()).expect("verify");
    assert_eq!(r.verdict, Verdict::Indeterminate, "{r:#?}");
    opts.allow_unknown_revocation = true;
    let r = verify_packet(Cursor::new(&bytes), &opts, &Limits::default()).expect("verify");
    assert_eq!(r.verdict, Verdict::Valid, "{r:#?}");
}

// ------------------------------------------------------------------------------------------
// bad input

#[test]
fn bad_signatures_give_clear_reasons() {
    let bytes = signed("leader-ec", &["sub-ca.pem"], C14nMethod::Inclusive);
    let s = String::from_utf8(bytes.clone()).expect("utf8");
    let value = between(&s, "<SignatureValue>", "</SignatureValue>");

    let r = assert_invalid(
        &replace_once(&bytes, value, "@@not base64@@"),
        "SignatureValue is not valid base64",
        "garbage",
    );
    assert_eq!(r.signature_matches, None);
    assert_invalid(&replace_once(&bytes, value, "AAAA"), "does not verify", "short value");

    // Wrong algorithms.
    let r = verify(
        &replace_once(
            &bytes,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        ),
        &["root-ca.pem"],
    );
    assert_eq!(r.verdict, Verdict::Indeterminate, "{r:#?}");
    assert!(r.reasons[0].contains("rsa-sha1 is refused"), "{:?}", r.reasons);
    let r = verify(
        &replace_once(&bytes, "http://www.w3.org/2001/04/xmlenc#sha256", "urn:example:md5"),
        &["root-ca.pem"],
    );
    assert_eq!(r.verdict, Verdict::Indeterminate);
    assert!(r.reasons[0].contains("unsupported digest method"), "{:?}", r.reasons);
    let r = verify(
        &replace_once(
            &bytes,
            "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
            "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/xml-exc-c14n#\"/>",
        ),
        &["root-ca.pem"],
    );
    assert_eq!(r.verdict, Verdict::Indeterminate);
    assert!(r.reasons[0].contains("unsupported canonicalization"), "{:?}", r.reasons);
    // An ECDSA value declared as RSA: no certificate verifies it.
    assert_invalid(
        &replace_once(
            &bytes,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        ),
        "does not verify",
        "algorithm swapped",
    );

    // Missing KeyInfo.
    let key_info = format!("<KeyInfo>{}</KeyInfo>", between(&s, "<KeyInfo>", "</KeyInfo>"));
    let r = verify(&replace_once(&bytes, &key_info, ""), &["root-ca.pem"]);
    assert_eq!(r.verdict, Verdict::Indeterminate, "{r:#?}");
    assert!(r.reasons[0].contains("no KeyInfo"), "{:?}", r.reasons);
    // A certificate that is not one.
    let cert_text = between(&s, "<X509Certificate>", "</X509Certificate>");
    assert_invalid(
        &replace_once(&bytes, cert_text, "AAAA"),
        "is not an X.509 certificate",
        "bad cert",
    );

    // A reference to part of the document only, and one without the enveloped transform.
    assert_invalid(
        &replace_once(&bytes, "<Reference URI=\"\">", "<Reference URI=\"#body\">"),
        "URI=\"\"",
        "partial",
    );
    assert_invalid(
        &replace_once(
            &bytes,
            "<Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
            "",
        ),
        "enveloped-signature",
        "not enveloped",
    );
    // Two references.
    let reference = format!(
        "<Reference URI=\"\">{}</Reference>",
        between(&s, "<Reference URI=\"\">", "</Reference>")
    );
    assert_invalid(
        &replace_once(&bytes, &reference, &format!("{reference}{reference}")),
        "exactly one Reference",
        "two references",
    );

    // A Signature that is the whole document signs nothing.
    let whole = format!(
        "<Signature xmlns=\"{DSIG_NS}\">{}</Signature>",
        between(
            &s,
            "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">",
            "</Signature>"
        )
    );
    assert_invalid(whole.as_bytes(), "root element", "signature as root");

    // No signature at all, and not XML.
    let unsigned = edxml::build_to_vec(&packet(), vec![Box::new(Cursor::new(attachment_bytes()))]).expect("build");
    let e =
        verify_packet(Cursor::new(&unsigned), &options(&["root-ca.pem"]), &Limits::default()).expect_err("unsigned");
    assert!(matches!(e, DsigError::NoSignature), "{e}");
    for garbage in [
        &b"not xml at all"[..],
        b"<edXML><Signature>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><edXML/>",
    ] {
        let e = verify_packet(Cursor::new(garbage), &options(&["root-ca.pem"]), &Limits::default());
        assert!(e.is_err(), "{}", String::from_utf8_lossy(garbage));
    }
}

#[test]
fn signing_refuses_wrong_keys_and_status_packets() {
    let c = cert("leader-rsa.pem");
    let other = cert("seal-rsa.pem");
    let k = key("leader-rsa.key.pem", &c);
    let mut open =
        |_: usize| -> std::io::Result<AttachmentSource<'static>> { Ok(Box::new(Cursor::new(vec![1u8, 2, 3]))) };
    let params = SignParams {
        key: &k,
        cert: &other,
        chain: &[],
        c14n: C14nMethod::Inclusive,
        at: now(),
    };
    let e = build_signed(&packet(), &mut open, &params, Vec::new()).expect_err("mismatch");
    assert!(e.to_string().contains("does not belong"), "{e}");
    let wrong_ku = cert("wrong-ku.pem");
    let k2 = key("wrong-ku.key.pem", &wrong_ku);
    let params = SignParams {
        key: &k2,
        cert: &wrong_ku,
        chain: &[],
        c14n: C14nMethod::Inclusive,
        at: now(),
    };
    let e = build_signed(&packet(), &mut open, &params, Vec::new()).expect_err("key usage");
    assert!(e.to_string().contains("key usage"), "{e}");
    let status = edxml::parse_bytes(
        &crate::edxml::fixture("status_finish_06.edxml"),
        &mut edxml::DiscardSink,
        &Limits::default(),
    )
    .expect("status")
    .packet;
    let params = SignParams {
        key: &k,
        cert: &c,
        chain: &[],
        c14n: C14nMethod::Inclusive,
        at: now(),
    };
    let e = build_signed(&status, &mut open, &params, Vec::new()).expect_err("status");
    assert!(matches!(e, DsigError::StatusPacket), "{e}");
}

// ------------------------------------------------------------------------------------------
// fixtures

#[test]
fn fixture_signatures_are_seen_and_reported_not_verified() {
    // edoc_new: EdXML102 style, unqualified (edXML default namespace); edoc: xmldsig namespace.
    for name in ["edoc_new.edxml", "edoc.edxml"] {
        let bytes = crate::edxml::fixture(name);
        let limits = Limits {
            skip_undecodable: true,
            ..Limits::default()
        };
        let parsed = edxml::parse_bytes(&bytes, &mut edxml::DiscardSink, &limits).expect("parse");
        assert!(parsed.signature_present, "{name}");
    }
    // edoc.edxml: dummy values signed with rsa-sha1 (brief edxml.md §5): indeterminate, named.
    let r = verify(&crate::edxml::fixture("edoc.edxml"), &["root-ca.pem"]);
    assert_eq!(r.signature_namespace.as_deref(), Some(DSIG_NS));
    assert_eq!(r.verdict, Verdict::Indeterminate, "{r:#?}");
    assert!(r.reasons[0].contains("rsa-sha1"), "{:?}", r.reasons);
    // edoc_new.edxml starts with stray text before the XML declaration: the lenient parser
    // tolerates it, the verifier does not (it is not well-formed, so it cannot be signed).
    let e = verify_packet(
        Cursor::new(crate::edxml::fixture("edoc_new.edxml")),
        &options(&["root-ca.pem"]),
        &Limits::default(),
    )
    .expect_err("not well-formed");
    assert!(e.to_string().contains("outside the root element"), "{e}");
    // The same packet without the stray text: its unqualified Signature is found and refused.
    let bytes = crate::edxml::fixture("edoc_new.edxml");
    let start = bytes.iter().position(|&b| b == b'<').expect("xml");
    let r = verify(&bytes[start..], &["root-ca.pem"]);
    assert_eq!(r.signature_namespace.as_deref(), Some(EDXML_NS));
    assert_eq!(r.verdict, Verdict::Indeterminate, "{r:#?}");
    assert!(r.reasons[0].contains("rsa-sha1"), "{:?}", r.reasons);

    let bytes = crate::edxml::fixture("status.edxml");
    let parsed = edxml::parse_bytes(&bytes, &mut edxml::DiscardSink, &Limits::default()).expect("parse");
    assert!(!parsed.signature_present);
}

// ------------------------------------------------------------------------------------------
// the CLI

fn vanthu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(args)
        .env_remove("VANTHU_LOG")
        .output()
        .expect("run vanthu")
}

#[test]
fn cli_builds_signed_packets_and_verifies_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("spec.json");
    let mut json = serde_json::to_value(packet()).expect("json");
    json["attachments"] = serde_json::json!([]);
    std::fs::write(&spec, json.to_string()).expect("spec");
    let file = dir.path().join("Quyết định 15.pdf");
    std::fs::write(&file, attachment_bytes()).expect("attachment");
    let p = |x: &Path| x.display().to_string();
    let (spec_s, file_s) = (p(&spec), p(&file));
    let (key_s, cert_s, chain_s, pin_s) = (
        certs("leader-ec.key.enc.pem"),
        certs("leader-ec.pem"),
        certs("sub-ca.pem"),
        p(&dir.path().join("pin")),
    );
    std::fs::write(&pin_s, "123456\n").expect("pin");
    let out = vanthu(&[
        "edxml",
        "build",
        &spec_s,
        "--attach",
        &file_s,
        "--sign-key",
        &key_s,
        "--sign-cert",
        &cert_s,
        "--sign-chain",
        &chain_s,
        "--pin-file",
        &pin_s,
        "--sign-c14n",
        "exclusive",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let signed_path = dir.path().join("signed.edxml");
    std::fs::write(&signed_path, &out.stdout).expect("write");
    let signed_s = p(&signed_path);
    let (root, root_crl, sub_crl) = (certs("root-ca.pem"), certs("root-ca.crl"), certs("sub-ca.crl"));

    let out = vanthu(&[
        "edxml", "verify", &signed_s, "--trust", &root, "--crl", &root_crl, "--crl", &sub_crl,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("verdict: Valid"), "{}", text(&out));
    let out = vanthu(&[
        "edxml",
        "verify",
        &signed_s,
        "--trust",
        &root,
        "--json",
        "--no-revocation-check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["canonicalization"], "http://www.w3.org/2001/10/xml-exc-c14n#");
    // Revocation unknown: indeterminate (2); an untrusted root: invalid (1).
    let out = vanthu(&["edxml", "verify", &signed_s, "--trust", &root]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = vanthu(&[
        "edxml",
        "verify",
        &signed_s,
        "--trust",
        &certs("untrusted-root.pem"),
        "--no-revocation-check",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("trust anchor"), "{}", text(&out));
    // Tampered: invalid (1).
    let tampered = dir.path().join("tampered.edxml");
    std::fs::write(
        &tampered,
        replace_once(
            &std::fs::read(&signed_path).expect("r"),
            "Bộ Tư pháp",
            "Bộ Tư pháp (giả)",
        ),
    )
    .expect("w");
    let out = vanthu(&[
        "edxml",
        "verify",
        &p(&tampered),
        "--trust",
        &root,
        "--no-revocation-check",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("integrity"), "{}", text(&out));
    // Unsigned: one line, exit 2.
    let unsigned = vanthu(&["edxml", "build", &spec_s, "--attach", &file_s]);
    assert!(unsigned.status.success());
    let unsigned_path = dir.path().join("unsigned.edxml");
    std::fs::write(&unsigned_path, &unsigned.stdout).expect("w");
    let out = vanthu(&["edxml", "verify", &p(&unsigned_path), "--trust", &root]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no Signature"),
        "{}",
        text(&out)
    );

    // parse says whether a signature is present; the model is the same signed or not.
    let parse = |path: &str| -> serde_json::Value {
        let out = vanthu(&["edxml", "parse", path]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let mut a = parse(&signed_s);
    let mut b = parse(&p(&unsigned_path));
    assert_eq!(a["signature_present"], true);
    assert_eq!(b["signature_present"], false);
    for v in [&mut a, &mut b] {
        v.as_object_mut().expect("obj").remove("signature_present");
        v["attachments"][0].as_object_mut().expect("att").remove("content_id");
    }
    assert_eq!(a, b);
    let fixture = format!("{FIXTURES}/edoc_new.edxml");
    assert_eq!(parse(&fixture)["signature_present"], true);

    // A wrong PIN: one line, non-zero.
    std::fs::write(&pin_s, "000000\n").expect("pin");
    let out = vanthu(&[
        "edxml",
        "build",
        &spec_s,
        "--attach",
        &file_s,
        "--sign-key",
        &key_s,
        "--sign-cert",
        &cert_s,
        "--pin-file",
        &pin_s,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PIN"), "{}", text(&out));

    // xmlsec1 verifies what the CLI signed.
    if tool("xmlsec1").is_some() {
        let out = xmlsec1_verify(dir.path(), &std::fs::read(&signed_path).expect("r"), "root-ca.pem");
        assert!(out.status.success(), "{}", text(&out));
    }
}

// ------------------------------------------------------------------------------------------
// canonicalization against xmllint

const TRICKY: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<?pi-before  data ?>\r\n<!-- before -->\r\n\
<a:root xmlns:a=\"urn:a\" xmlns=\"urn:default\" xmlns:unused=\"urn:unused\" z=\"1\" a:b=\"2\" b=\"tab\there&#9;ref\">\r\n\
  <child xmlns=\"\" attr=\"&quot;q&quot; &amp; &lt; &gt; &#xD; line\r\nbreak\"/>\r\n\
  <a:child xmlns:a=\"urn:a\" xmlns:c=\"urn:c\" c:x=\"3\" a:y=\"4\" y=\"5\">text &amp; &lt;more&gt; &#x41;&#66; \"quoted\" 'apos' \r\nCRLF\rCR</a:child>\r\n\
  <d:deep xmlns:d=\"urn:d\"><e xmlns=\"urn:e\"><f xmlns=\"urn:e\"/></e><![CDATA[cdata <&> ]]></d:deep>\r\n\
  <!-- inside -->\r\n\
  <g>Tiếng Việt có dấu: Đ đ ư ơ</g>\r\n\
</a:root>\r\n<!-- after --><?pi-after?>\r\n";

fn canonical(bytes: &[u8], exclusive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    dsig::canonicalize(BufReader::new(bytes), exclusive, true, &mut out, &Limits::default()).expect("c14n");
    out
}

fn xmllint_c14n(dir: &Path, bytes: &[u8], exclusive: bool) -> Option<Vec<u8>> {
    let path = dir.join("doc.xml");
    std::fs::write(&path, bytes).expect("write");
    let out = Command::new("xmllint")
        .arg(if exclusive { "--exc-c14n" } else { "--c14n" })
        .arg(&path)
        .output()
        .expect("xmllint");
    (out.status.success() && out.stderr.is_empty()).then_some(out.stdout)
}

#[test]
fn canonical_form_matches_xmllint() {
    if tool("xmllint").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut docs: Vec<(String, Vec<u8>)> = vec![
        ("tricky".into(), TRICKY.as_bytes().to_vec()),
        (
            "signed".into(),
            signed("leader-rsa", &["sub-ca.pem"], C14nMethod::Inclusive),
        ),
    ];
    for entry in std::fs::read_dir(FIXTURES).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "edxml") {
            docs.push((path.display().to_string(), std::fs::read(&path).expect("read")));
        }
    }
    let mut compared = 0;
    for (name, bytes) in &docs {
        for exclusive in [false, true] {
            // xmllint refuses namespace errors (edoc.edxml's undeclared prefix); we are lenient.
            let Some(expected) = xmllint_c14n(dir.path(), bytes, exclusive) else {
                continue;
            };
            let ours = canonical(bytes, exclusive);
            assert!(
                ours == expected,
                "{name} (exclusive: {exclusive}) differs from xmllint:\nours:\n{}\nxmllint:\n{}",
                String::from_utf8_lossy(&ours[..ours.len().min(3000)]),
                String::from_utf8_lossy(&expected[..expected.len().min(3000)])
            );
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} documents compared");
}
