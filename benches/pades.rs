//! PAdES B-B signing speed and memory, with pyHanko measured side by side in the same run.
//!
//! `cargo bench --bench pades` (options after `--`: `--iterations N`, `--big-mb N`, `--no-peer`).
//!
//! 1. Signs a 1 MB PDF at B-B with the RSA-2048 test key `--iterations` times in-process
//!    (parse + incremental update + CMS + patch), on one thread: median and p95.
//! 2. pyHanko 0.38 signs the same file with the same key and chain in-process (its own Python
//!    loop, so process start-up is not counted): median. The ratio is the figure of record.
//! 3. Verifies the signed 1 MB file `--iterations` times (byte range, digest, CMS, path to the
//!    test root, CRLs): median and p95.
//! 4. Peak memory: `vanthu pdf sign` on a `--big-mb` PDF (default 200), VmHWM of the process
//!    polled from /proc, against the file size.
//!
//! pyHanko comes from `VANTHU_TEST_PYTHON` (the venv `.ci/run` makes) or `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::DateTime;
use lopdf::{dictionary, Document, Object, Stream};
use vanthu::pades::{self, SignOptions, SigningKey};

fn certs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-test").join(name)
}

/// A one-page PDF carrying `size` bytes of incompressible data in an unused stream.
fn pdf_of_size(size: usize) -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let blob: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let blob_id = doc.add_object(Stream::new(dictionary! {}, blob));
    let content_id = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "PieceInfo" => dictionary! { "Blob" => blob_id },
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

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

const PYHANKO_LOOP: &str = r#"
import sys, time, io, statistics
from pyhanko.sign import signers
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigSeedSubFilter
pdf_path, key, cert, chain, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
data = open(pdf_path, 'rb').read()
signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,), key_passphrase=None)
meta = signers.PdfSignatureMetadata(field_name='Signature1', subfilter=SigSeedSubFilter.PADES)
times = []
for i in range(n + 2):
    t = time.perf_counter()
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    out = signers.sign_pdf(w, meta, signer=signer)
    out.getvalue()
    if i >= 2:
        times.append((time.perf_counter() - t) * 1000)
print(statistics.median(times))
"#;

fn python() -> String {
    std::env::var("VANTHU_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| {
            let venv = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/vanthu-venv/bin/python");
            if venv.exists() {
                venv.display().to_string()
            } else {
                "python3".into()
            }
        })
}

fn pyhanko_median_ms(pdf: &Path, iterations: usize) -> Result<f64> {
    let out = Command::new(python())
        .arg("-c")
        .arg(PYHANKO_LOOP)
        .arg(pdf)
        .arg(certs("leader-rsa.key.pem"))
        .arg(certs("leader-rsa.pem"))
        .arg(certs("sub-ca.pem"))
        .arg(iterations.to_string())
        .output()
        .context("running pyHanko")?;
    if !out.status.success() {
        bail!("pyHanko failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("pyHanko's median")
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak RSS of `vanthu pdf sign` on a file of `mb` MB.
fn big_file_peak(dir: &Path, mb: usize) -> Result<(u64, u64, Duration)> {
    let input = dir.join("big.pdf");
    let bytes = pdf_of_size(mb * 1024 * 1024);
    std::fs::write(&input, &bytes)?;
    let size = bytes.len() as u64;
    drop(bytes);
    let output = dir.join("big-signed.pdf");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["pdf", "sign", "--key"])
        .arg(certs("leader-rsa.key.pem"))
        .arg("--cert")
        .arg(certs("leader-rsa.pem"))
        .arg("--chain")
        .arg(certs("sub-ca.pem"))
        .arg(&input)
        .arg(&output)
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("starting vanthu pdf sign")?;
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("vanthu pdf sign failed on the big file: {status}");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok((size, peak * 1024, started.elapsed()))
}

/// A 300×120 RGBA PNG: a blue stroke on a transparent background.
fn signature_png() -> Result<Vec<u8>> {
    let (w, h) = (300u32, 120u32);
    let mut px = vec![0u8; (w * h * 4) as usize];
    for x in 10..290 {
        let yc = 60.0 + 35.0 * ((x as f32) / 30.0).sin();
        for y in 0..h {
            if ((y as f32) - yc).abs() < 7.0 {
                let i = ((y * w + x) * 4) as usize;
                px[i..i + 4].copy_from_slice(&[10, 40, 200, 255]);
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header()?;
    writer.write_image_data(&px)?;
    writer.finish()?;
    Ok(out)
}

/// The same signature with the leader's visible appearance (PNG decode, font subset, form).
fn visible_signature(
    pdf: &[u8],
    key: &SigningKey,
    cert: &x509_cert::Certificate,
    chain: &[x509_cert::Certificate],
    opts: &SignOptions,
    iterations: usize,
) -> Result<()> {
    let mut opts = opts.clone();
    opts.appearance = Some(pades::Appearance {
        kind: pades::AppearanceKind::Leader {
            image: signature_png()?,
            position: vec!["KT. BỘ TRƯỞNG".into(), "THỨ TRƯỞNG".into()],
            name: "Nguyễn Văn An".into(),
        },
        page: None,
        rect: None,
    });
    let mut ms = Vec::with_capacity(iterations);
    let mut size = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        let signed = pades::sign_pdf(pdf, key, cert, chain, &opts)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        size = signed.len() - pdf.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "vanthu sign_pdf with the leader's visible appearance (300x120 PNG, Vietnamese text): median {:.2} ms, p95 {:.2} ms, update {size} bytes",
        percentile(&ms, 0.5),
        percentile(&ms, 0.95)
    );
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, and
    // then it only checks that the benchmark works (a few iterations, no peer, no big file).
    let smoke = !std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (mut iterations, mut big_mb, mut peer) = if smoke { (3, 0, false) } else { (200, 200, true) };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--iterations" => iterations = it.next().context("--iterations N")?.parse()?,
            "--big-mb" => big_mb = it.next().context("--big-mb N")?.parse()?,
            "--no-peer" => peer = false,
            other => bail!("unknown argument {other}"),
        }
    }
    let dir = tempfile::tempdir()?;
    let pdf = pdf_of_size(1_000_000);
    let pdf_path = dir.path().join("1mb.pdf");
    std::fs::write(&pdf_path, &pdf)?;

    let cert = pades::load_certificates(&std::fs::read(certs("leader-rsa.pem"))?)?.remove(0);
    let chain = pades::load_certificates(&std::fs::read(certs("sub-ca.pem"))?)?;
    let key = SigningKey::from_bytes(&std::fs::read(certs("leader-rsa.key.pem"))?, None, &cert)?;
    let opts = SignOptions::at(DateTime::parse_from_rfc3339("2026-12-01T09:00:00+07:00")?);

    for _ in 0..5 {
        pades::sign_pdf(&pdf, &key, &cert, &chain, &opts)?;
    }
    let mut ms = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let signed = pades::sign_pdf(&pdf, &key, &cert, &chain, &opts)?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(signed);
    }
    ms.sort_by(f64::total_cmp);
    let median = percentile(&ms, 0.5);
    println!(
        "# PAdES B-B signing, RSA-2048, {} byte PDF, {iterations} iterations",
        pdf.len()
    );
    println!(
        "vanthu sign_pdf: median {median:.2} ms, p95 {:.2} ms",
        percentile(&ms, 0.95)
    );
    // Verification of the same signed file: byte range, digest, CMS, path to the root, CRLs.
    let signed = pades::sign_pdf(&pdf, &key, &cert, &chain, &opts)?;
    let mut crls = pades::load_crls(&std::fs::read(certs("sub-ca.crl"))?)?;
    crls.extend(pades::load_crls(&std::fs::read(certs("root-ca.crl"))?)?);
    let verify_opts = pades::VerifyOptions {
        trust: pades::load_certificates(&std::fs::read(certs("root-ca.pem"))?)?,
        crls,
        at: DateTime::parse_from_rfc3339("2026-12-01T09:00:00+07:00")?.to_utc(),
        allow_unknown_revocation: false,
    };
    let report = pades::verify_pdf(&signed, &verify_opts)?;
    if report.verdict != pades::Verdict::Valid {
        bail!("the benchmark's signed file does not verify: {report:?}");
    }
    let mut vms = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let report = pades::verify_pdf(&signed, &verify_opts)?;
        vms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(report);
    }
    vms.sort_by(f64::total_cmp);
    println!(
        "vanthu verify_pdf (path + CRL checks): median {:.2} ms, p95 {:.2} ms (target <= 5 ms)",
        percentile(&vms, 0.5),
        percentile(&vms, 0.95)
    );
    visible_signature(&pdf, &key, &cert, &chain, &opts, iterations)?;
    if peer {
        let py_iter = (iterations / 10).clamp(10, 30);
        let py = pyhanko_median_ms(&pdf_path, py_iter)?;
        println!("pyHanko 0.38 sign_pdf ({py_iter} iterations): median {py:.2} ms");
        println!(
            "ratio: vanthu is {:.1}x pyHanko's throughput (target >= 25x)",
            py / median
        );
    }
    if big_mb > 0 {
        let (size, peak, took) = big_file_peak(dir.path(), big_mb)?;
        println!(
            "big file: {:.0} MB signed by `vanthu pdf sign` in {:.2} s, peak RSS {:.0} MB = {:.2}x the file (target < 3x)",
            size as f64 / 1e6,
            took.as_secs_f64(),
            peak as f64 / 1e6,
            peak as f64 / size as f64
        );
    }
    Ok(())
}
