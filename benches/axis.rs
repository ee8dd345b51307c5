//! The mock axis's intake: concurrent clients `sendEdoc` 50 KB packets (signed, as the SDK does)
//! to a running `vanthu axis serve` (a separate process, SQLite in a temporary data dir).
//!
//! `cargo bench --bench axis -- --bench` (options: `--sends N`, `--clients N`, `--kb N`).
//! Without `--bench` (as under `cargo test --all-targets`) it only checks that the benchmark
//! works: a few sends by two clients.
//!
//! Target (issue 4): ≥ 1,000 sendEdoc/s on the 2-core box, release build.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use vanthu::axis::protocol::MessageType;
use vanthu::axis::{AxisClient, ClientSettings, RetryPolicy};
use vanthu::clock::SystemClock;
use vanthu::config::Secret;
use vanthu::edxml::{
    self, Attachment, AttachmentSource, Code, DocumentPacket, Organization, Packet, PromulgationInfo, Transfer,
};

const TENANTS: &str = r#"
[[tenant]]
system_id = "btp.vxp"
secret = "bench-secret-a"
organs = ["000.00.00.G12"]

[[tenant]]
system_id = "nghean.vxp"
secret = "bench-secret-b"
organs = ["000.00.00.H41"]
"#;

/// A document of about `kb` KB (base64 attachment included), numbered `n`.
fn packet(n: usize, kb: usize) -> Result<Vec<u8>> {
    let attachment: Vec<u8> = (0..kb * 1024 * 3 / 4 - 1800)
        .map(|i| ((i * 2_654_435_761usize + n) >> 7) as u8)
        .collect();
    let p = Packet::Document(Box::new(DocumentPacket {
        from: Organization {
            organ_id: Some("000.00.00.G12".into()),
            organ_name: Some("Bộ Tư pháp".into()),
            ..Default::default()
        },
        to: vec![Organization {
            organ_id: Some("000.00.00.H41".into()),
            organ_name: Some("UBND tỉnh Nghệ An".into()),
            ..Default::default()
        }],
        document_id: Some(format!("000.00.00.G12,2026/12/01,{n}/BTP-VP")),
        code: Code {
            number: Some(n.to_string()),
            notation: Some("BTP-VP".into()),
        },
        promulgation: PromulgationInfo {
            place: Some("Hà Nội".into()),
            date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1),
        },
        subject: Some(format!("V/v đo hiệu năng trục liên thông số {n}")),
        attachments: vec![Attachment {
            content_id: Some(format!("bench-{n}")),
            name: Some("van-ban.pdf".into()),
            content_type: Some("application/pdf".into()),
            transfer: Transfer::Raw,
            ..Default::default()
        }],
        ..Default::default()
    }));
    let sources: Vec<AttachmentSource<'_>> = vec![Box::new(std::io::Cursor::new(attachment))];
    Ok(edxml::build_to_vec(&p, sources)?)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (mut sends, mut clients, mut kb) = if smoke { (20, 2, 50) } else { (20_000, 32, 50) };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sends" => sends = it.next().context("--sends N")?.parse()?,
            "--clients" => clients = it.next().context("--clients N")?.parse()?,
            "--kb" => kb = it.next().context("--kb N")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("tenants.toml"), TENANTS)?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args([
            "axis",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--base-path",
            "/XrdAdapter/adapter",
        ])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tenants")
        .arg(dir.path().join("tenants.toml"))
        .args(["--max-concurrent-sends", "64"])
        .env("VANTHU_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("start vanthu axis serve")?;
    let stdout = child.stdout.take().context("stdout")?;
    let mut url = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        if let Some(u) = line.strip_prefix("vanthu axis listening on ") {
            url = Some(u.to_string());
            break;
        }
    }
    let result = run(url.context("the mock axis did not start")?, sends, clients, kb);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn run(url: String, sends: usize, clients: usize, kb: usize) -> Result<()> {
    let variants: Vec<Arc<Vec<u8>>> = (0..64).map(|n| packet(n, kb).map(Arc::new)).collect::<Result<_>>()?;
    let size = variants[0].len();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let make = |system: &str, secret: &str| {
            AxisClient::new(
                ClientSettings {
                    url: url.clone(),
                    system_id: system.into(),
                    secret: Secret::new(secret),
                    retry: RetryPolicy {
                        max_attempts: 1,
                        ..RetryPolicy::default()
                    },
                    timeout: Duration::from_secs(30),
                },
                Arc::new(SystemClock),
            )
        };
        let sender = make("btp.vxp", "bench-secret-a")?;
        let receiver = make("nghean.vxp", "bench-secret-b")?;
        // Warm-up: connections, page cache, SQLite.
        for v in variants.iter().take(4) {
            sender.send_edoc(v, MessageType::Edoc, "000.00.00.G12").await?;
        }
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (sender, next, variants) = (sender.clone(), next.clone(), variants.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= sends {
                        break;
                    }
                    let t = Instant::now();
                    sender
                        .send_edoc(&variants[i % variants.len()], MessageType::Edoc, "000.00.00.G12")
                        .await?;
                    latencies.push(t.elapsed());
                }
                Ok::<_, anyhow::Error>(latencies)
            }));
        }
        let mut latencies = Vec::with_capacity(sends);
        for t in tasks {
            latencies.extend(t.await??);
        }
        let elapsed = started.elapsed();
        latencies.sort();
        let delivered = receiver.count_received(MessageType::Edoc).await?;
        if delivered != (sends + 4) as u64 {
            bail!("{delivered} deliveries for {} sends", sends + 4);
        }
        println!(
            "axis sendEdoc: {sends} packets of {:.1} KB from {clients} clients in {:.2} s: {:.0} sendEdoc/s \
             (p50 {:.1} ms, p99 {:.1} ms); all {delivered} delivered",
            size as f64 / 1024.0,
            elapsed.as_secs_f64(),
            sends as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
        Ok(())
    })
}
