//! edXML codec benchmark: `cargo bench --bench edxml`.
//!
//! 1. Parse a packet carrying a 20 MB PDF-like attachment, base64 decoding included (the decoded
//!    bytes go to a sink that drops them). Target ≥ 400 MB/s.
//! 2. Build the same packet from an in-memory reader into a pre-sized buffer. Target ≥ 600 MB/s.
//! 3. Peak memory of `vanthu edxml parse FILE --out DIR` on a packet with a 100 MB attachment,
//!    read from the child's /proc/PID/status VmHWM while it runs. Target < 2.5 × packet size.
//! 4. Peer, side by side when installed: `xmllint --stream --noout --huge` on the same 20 MB packet
//!    (a streaming C parser that does not decode base64).
//!
//! 5. Sign the 20 MB packet while building it (`edxml::dsig::build_signed`, RSA-2048 and ECDSA
//!    P-256 from certs-test/) and verify it (`edxml::dsig::verify_packet`); peak memory of
//!    `vanthu edxml build --sign-key …` and `vanthu edxml verify` on the 100 MB packet.
//!
//! Throughput is given per packet byte and per attachment byte; the medians of 7 runs count.
//! Under `cargo test` only a smoke check runs: one small packet signed and verified.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vanthu::edxml::{
    self, dsig, Attachment, AttachmentSink, Code, DocumentPacket, Limits, Organization, Packet, PromulgationInfo,
    Transfer,
};
use vanthu::pades::{load_certificates, load_crls, SigningKey, Verdict, VerifyOptions};
use x509_cert::Certificate;

const RUNS: usize = 7;

/// PDF-like bytes: a header, then incompressible pseudo-random content (xorshift).
fn pdf_like(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn packet() -> Packet {
    Packet::Document(Box::new(DocumentPacket {
        from: Organization {
            organ_id: Some("000.00.00.G12".into()),
            organ_name: Some("Bộ Tư pháp".into()),
            ..Default::default()
        },
        to: vec![Organization {
            organ_id: Some("000.00.00.H41".into()),
            ..Default::default()
        }],
        document_id: Some("000.00.00.G12,2026/11/30,1/BTP-VP".into()),
        code: Code {
            number: Some("1".into()),
            notation: Some("BTP-VP".into()),
        },
        promulgation: PromulgationInfo {
            place: Some("Hà Nội".into()),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30),
        },
        subject: Some("V/v đo hiệu năng".into()),
        attachments: vec![Attachment {
            content_id: Some("bench-1".into()),
            name: Some("van-ban.pdf".into()),
            content_type: Some("application/pdf".into()),
            transfer: Transfer::Raw,
            ..Default::default()
        }],
        ..Default::default()
    }))
}

struct CountingSink(u64);

struct Counter<'a>(&'a mut u64);

impl Write for Counter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AttachmentSink for CountingSink {
    fn open(&mut self, _index: usize, _meta: &Attachment) -> io::Result<Box<dyn Write + '_>> {
        Ok(Box::new(Counter(&mut self.0)))
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn proc_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        let (_, verify) = sign_and_verify(&pdf_like(100_000), 1, "leader-rsa");
        assert!(verify > Duration::ZERO);
        println!("edxml benchmark: smoke check only (sign + verify a 100 KB packet); run it with `cargo bench --bench edxml`");
        return;
    }
    let p = packet();
    println!("edXML codec benchmark (medians of {RUNS} runs)");

    // 1 and 2: 20 MB attachment.
    let data = pdf_like(20_000_000);
    let built = edxml::build_to_vec(&p, vec![Box::new(data.as_slice())]).expect("build");
    let mut builds = Vec::new();
    let mut out = Vec::with_capacity(built.len() + 1024);
    for _ in 0..RUNS {
        out.clear();
        let t = Instant::now();
        edxml::build(&p, vec![Box::new(data.as_slice())], &mut out).expect("build");
        builds.push(t.elapsed());
    }
    assert_eq!(out, built);
    let mut parses = Vec::new();
    for _ in 0..RUNS {
        let mut sink = CountingSink(0);
        let t = Instant::now();
        edxml::parse_bytes(&built, &mut sink, &Limits::default()).expect("parse");
        parses.push(t.elapsed());
        assert_eq!(sink.0, data.len() as u64);
    }
    let (b, pa) = (median(builds), median(parses));
    println!(
        "parse 20 MB attachment: packet {:.1} MB in {:.1} ms = {:.0} MB/s of packet, {:.0} MB/s of attachment (target ≥ 400)",
        built.len() as f64 / 1e6,
        pa.as_secs_f64() * 1e3,
        mbps(built.len(), pa),
        mbps(data.len(), pa)
    );
    println!(
        "build 20 MB attachment: {:.1} ms = {:.0} MB/s of packet, {:.0} MB/s of attachment (target ≥ 600)",
        b.as_secs_f64() * 1e3,
        mbps(built.len(), b),
        mbps(data.len(), b)
    );

    let dir = tempfile::tempdir().expect("tmp");
    // 4: peer.
    let small = dir.path().join("20mb.edxml");
    std::fs::write(&small, &built).expect("write");
    if Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let mut peer = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let st = Command::new("xmllint")
                .args(["--stream", "--noout", "--huge"])
                .arg(&small)
                .status()
                .expect("xmllint");
            peer.push(t.elapsed());
            assert!(st.success());
        }
        let m = median(peer);
        println!(
            "peer xmllint --stream --noout --huge (no base64 decoding, process start included): {:.1} ms = {:.0} MB/s of packet; vanthu parse is {:.2}× its speed",
            m.as_secs_f64() * 1e3,
            mbps(built.len(), m),
            m.as_secs_f64() / pa.as_secs_f64()
        );
    } else {
        println!("peer xmllint: not installed, skipped");
    }
    drop(built);
    drop(out);

    // 3: peak memory for 100 MB through the real binary.
    let big_path = dir.path().join("100mb.edxml");
    {
        let big = pdf_like(100_000_000);
        let f = std::fs::File::create(&big_path).expect("create");
        edxml::build(&p, vec![Box::new(big.as_slice())], io::BufWriter::new(f)).expect("build 100 MB");
    }
    let size = std::fs::metadata(&big_path).expect("meta").len();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vanthu"));
    let out_dir = dir.path().join("out");
    let mut child = Command::new(bin)
        .args(["edxml", "parse"])
        .arg(&big_path)
        .arg("--out")
        .arg(&out_dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn vanthu");
    let pid = child.id();
    let mut hwm = 0;
    let t = Instant::now();
    loop {
        if let Some(kb) = proc_kb(pid, "VmHWM:") {
            hwm = hwm.max(kb);
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = t.elapsed();
    let written_path = out_dir.join("van-ban.pdf");
    let written = std::fs::metadata(&written_path).map(|m| m.len()).unwrap_or(0);
    assert_eq!(written, 100_000_000, "the attachment was written");
    let ratio = hwm as f64 * 1024.0 / size as f64;
    println!(
        "peak memory, `vanthu edxml parse` of a {:.1} MB packet (100 MB attachment, to disk): VmHWM {:.1} MB = {:.3}× packet size (target < 2.5×); {:.0} ms",
        size as f64 / 1e6,
        hwm as f64 / 1024.0,
        ratio,
        elapsed.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_file(&big_path);

    // 5: XML signatures.
    dsig_bench(dir.path(), &written_path);
}

fn certs(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-test").join(name)
}

fn signing_material(stem: &str) -> (SigningKey, Certificate, Vec<Certificate>) {
    let cert = load_certificates(&std::fs::read(certs(&format!("{stem}.pem"))).expect("cert"))
        .expect("cert")
        .remove(0);
    let key = SigningKey::from_bytes(
        &std::fs::read(certs(&format!("{stem}.key.pem"))).expect("key"),
        None,
        &cert,
    )
    .expect("key");
    let chain = load_certificates(&std::fs::read(certs("sub-ca.pem")).expect("chain")).expect("chain");
    (key, cert, chain)
}

fn verify_options() -> VerifyOptions {
    let mut crls = load_crls(&std::fs::read(certs("root-ca.crl")).expect("crl")).expect("crl");
    crls.extend(load_crls(&std::fs::read(certs("sub-ca.crl")).expect("crl")).expect("crl"));
    VerifyOptions {
        trust: load_certificates(&std::fs::read(certs("root-ca.pem")).expect("root")).expect("root"),
        crls,
        at: chrono::Utc::now(),
        allow_unknown_revocation: false,
    }
}

/// Signs `runs` times and verifies `runs` times; returns the median durations and checks the
/// result is valid.
fn sign_and_verify(data: &[u8], runs: usize, stem: &str) -> (Duration, Duration) {
    let (key, cert, chain) = signing_material(stem);
    let params = dsig::SignParams {
        key: &key,
        cert: &cert,
        chain: &chain,
        c14n: dsig::C14nMethod::Inclusive,
        at: chrono::Utc::now(),
    };
    let p = packet();
    let mut signed = Vec::with_capacity(data.len() * 4 / 3 + 16 * 1024);
    let mut signs = Vec::new();
    for _ in 0..runs {
        signed.clear();
        let mut open = |_: usize| -> io::Result<edxml::AttachmentSource<'_>> { Ok(Box::new(data)) };
        let t = Instant::now();
        dsig::build_signed(&p, &mut open, &params, &mut signed).expect("sign");
        signs.push(t.elapsed());
    }
    let opts = verify_options();
    let mut verifies = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let report = dsig::verify_packet(io::Cursor::new(&signed), &opts, &Limits::default()).expect("verify");
        verifies.push(t.elapsed());
        assert_eq!(report.verdict, Verdict::Valid, "{report:?}");
    }
    (median(signs), median(verifies))
}

/// Runs `cmd`, sampling its VmHWM every 2 ms; (peak KiB, elapsed, success).
fn peak(mut cmd: Command) -> (u64, Duration, bool) {
    let mut child = cmd.stdout(Stdio::null()).spawn().expect("spawn");
    let pid = child.id();
    let mut hwm = 0;
    let t = Instant::now();
    let status = loop {
        if let Some(kb) = proc_kb(pid, "VmHWM:") {
            hwm = hwm.max(kb);
        }
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    (hwm, t.elapsed(), status.success())
}

fn dsig_bench(dir: &std::path::Path, big_attachment: &std::path::Path) {
    let data = pdf_like(20_000_000);
    let packet_len = {
        let mut v = Vec::new();
        edxml::build(&packet(), vec![Box::new(data.as_slice())], &mut v).expect("build");
        v.len()
    };
    for stem in ["leader-rsa", "leader-ec"] {
        let (sign, verify) = sign_and_verify(&data, RUNS, stem);
        println!(
            "sign while building ({stem}), 20 MB attachment: {:.1} ms = {:.0} MB/s of packet; verify: {:.1} ms = {:.0} MB/s of packet",
            sign.as_secs_f64() * 1e3,
            mbps(packet_len, sign),
            verify.as_secs_f64() * 1e3,
            mbps(packet_len, verify)
        );
    }

    // Peak memory of the CLI on the 100 MB attachment: sign while building, then verify.
    let spec = dir.join("spec.json");
    let mut json = serde_json::to_value(packet()).expect("json");
    json["attachments"] = serde_json::json!([]);
    std::fs::write(&spec, json.to_string()).expect("spec");
    let signed = dir.join("signed-100mb.edxml");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vanthu"));
    let mut cmd = Command::new(&bin);
    cmd.args(["edxml", "build"])
        .arg(&spec)
        .arg("--attach")
        .arg(big_attachment)
        .arg("--sign-key")
        .arg(certs("leader-rsa.key.pem"))
        .arg("--sign-cert")
        .arg(certs("leader-rsa.pem"))
        .arg("--sign-chain")
        .arg(certs("sub-ca.pem"));
    // stdout to the file: spawn with a file handle instead of null.
    let f = std::fs::File::create(&signed).expect("create");
    let mut child = cmd.stdout(f).spawn().expect("spawn");
    let pid = child.id();
    let mut hwm = 0;
    let t = Instant::now();
    loop {
        if let Some(kb) = proc_kb(pid, "VmHWM:") {
            hwm = hwm.max(kb);
        }
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success(), "signed build failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let sign_elapsed = t.elapsed();
    let size = std::fs::metadata(&signed).expect("meta").len();
    println!(
        "peak memory, `vanthu edxml build --sign-key` of a {:.1} MB packet (100 MB attachment): VmHWM {:.1} MB = {:.3}× packet size; {:.0} ms",
        size as f64 / 1e6,
        hwm as f64 / 1024.0,
        hwm as f64 * 1024.0 / size as f64,
        sign_elapsed.as_secs_f64() * 1e3
    );
    let mut cmd = Command::new(&bin);
    cmd.args(["edxml", "verify"])
        .arg(&signed)
        .arg("--trust")
        .arg(certs("root-ca.pem"))
        .arg("--crl")
        .arg(certs("root-ca.crl"))
        .arg("--crl")
        .arg(certs("sub-ca.crl"));
    let (hwm, elapsed, ok) = peak(cmd);
    assert!(ok, "verify failed");
    println!(
        "peak memory, `vanthu edxml verify` of the same packet: VmHWM {:.1} MB = {:.3}× packet size; {:.0} ms",
        hwm as f64 / 1024.0,
        hwm as f64 * 1024.0 / size as f64,
        elapsed.as_secs_f64() * 1e3
    );
    // Peer: xmlsec1 on the 100 MB signed packet (libxml2 DOM).
    if Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        let mut cmd = Command::new("xmlsec1");
        cmd.args(["--verify", "--enabled-reference-uris", "empty", "--trusted-pem"])
            .arg(certs("root-ca.pem"))
            .arg(&signed)
            .stderr(Stdio::null());
        let (hwm, elapsed, ok) = peak(cmd);
        println!(
            "peer xmlsec1 --verify, same packet: {} in {:.0} ms, VmHWM {:.1} MB = {:.3}× packet size",
            if ok { "OK" } else { "FAILED" },
            elapsed.as_secs_f64() * 1e3,
            hwm as f64 / 1024.0,
            hwm as f64 * 1024.0 / size as f64
        );
    } else {
        println!("peer xmlsec1: not installed, skipped");
    }
}
