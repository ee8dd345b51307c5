//! Archive throughput on the local folder backend, with peers measured side by side.
//!
//! `cargo bench --bench archive [-- --mib 128] [--runs 5]`
//!
//! Per run: a fresh file of `--mib` MiB of pseudo-random bytes (so every put is new content) is
//! written to a temp folder, then
//! - **put**: streamed from that file into the archive (`ArchiveStore::put_stream`: read, SHA-256,
//!   multipart write to staging, create-only promotion to the content key);
//! - **get**: streamed back out of the archive into a new file (`ArchiveStore::get_stream`: read
//!   in 1 MiB steps, SHA-256 checked against the content key);
//! - peers on the same file in the same run: `cp` (copy, no hash) and `sha256sum` (read + hash).
//!
//! Prints the median MB/s of each and the ratios. Files are in the page cache (just written), as
//! they would be on an ingest path; the figure measures the code, not the disk.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;
use vanthu::archive::ArchiveStore;
use vanthu::objects::Objects;

const MB: f64 = 1_000_000.0;

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// CPU time of the whole process (all threads, user + system) in seconds, from
/// `/proc/self/stat` (10 ms ticks); zero where that file does not exist.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
        .unwrap_or_default();
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn timed_command(cmd: &mut Command) -> Result<f64> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(t.elapsed().as_secs_f64())
}

fn arg(name: &str, default: usize) -> Result<usize> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|v: &usize| *v > 0)
            .with_context(|| format!("{name} needs a positive number")),
        None => Ok(default),
    }
}

async fn run(dir: &Path, mib: usize, runs: usize) -> Result<()> {
    let objects = Objects::open(&dir.join("objects").display().to_string(), &[])?;
    let archive = ArchiveStore::new(objects.raw().clone());
    let size = mib * 1024 * 1024;
    let (mut put, mut get, mut cp, mut sha) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut put_cpu, mut get_cpu) = (Vec::new(), Vec::new());
    let load_before = load_average();
    for run in 0..runs {
        let src = dir.join(format!("source-{run}.bin"));
        std::fs::write(&src, pseudo_random(size, 0x5eed_0000 + 2 * run as u64 + 1))?;

        let t = Instant::now();
        let cpu = process_cpu();
        let file = tokio::fs::File::open(&src).await?;
        let stored = archive
            .put_stream(ReaderStream::with_capacity(file, 1 << 20), None, u64::MAX)
            .await?;
        put.push(size as f64 / MB / t.elapsed().as_secs_f64());
        put_cpu.push((process_cpu() - cpu) * 1000.0 / (size as f64 / MB));
        if !stored.created || stored.size != size as u64 {
            bail!("put did not store a new object: {stored:?}");
        }

        let dst = dir.join(format!("out-{run}.bin"));
        let t = Instant::now();
        let cpu = process_cpu();
        let (_, mut stream) = archive.get_stream(&stored.key).await?;
        let mut out = tokio::fs::File::create(&dst).await?;
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?).await?;
        }
        out.flush().await?;
        drop(out);
        get.push(size as f64 / MB / t.elapsed().as_secs_f64());
        get_cpu.push((process_cpu() - cpu) * 1000.0 / (size as f64 / MB));

        let copy = dir.join(format!("cp-{run}.bin"));
        cp.push(size as f64 / MB / timed_command(Command::new("cp").arg(&src).arg(&copy))?);
        sha.push(size as f64 / MB / timed_command(Command::new("sha256sum").arg(&src))?);
        for p in [&src, &dst, &copy] {
            let _ = std::fs::remove_file(p);
        }
        eprintln!(
            "run {}: put {:.0} MB/s, get {:.0} MB/s, cp {:.0} MB/s, sha256sum {:.0} MB/s",
            run + 1,
            put[run],
            get[run],
            cp[run],
            sha[run]
        );
    }
    let (put, get, cp, sha) = (median(put), median(get), median(cp), median(sha));
    let (put_cpu, get_cpu) = (median(put_cpu), median(get_cpu));
    println!("## archive put/get on the local folder ({mib} MiB per object, {runs} runs, medians)\n");
    println!(
        "Load average before / after: {load_before} / {}. CPU (all threads) per MB: put {put_cpu:.2} ms, get {get_cpu:.2} ms \
         (get hashes the bytes to check them against their content key).\n",
        load_average()
    );
    println!("| operation | MB/s | × cp | × sha256sum | target |");
    println!("|---|---:|---:|---:|---|");
    let target = |v: f64| {
        if v >= 200.0 {
            "≥ 200 MB/s: met"
        } else {
            "≥ 200 MB/s: NOT met"
        }
    };
    println!(
        "| archive put (read + SHA-256 + write once) | {put:.0} | {:.2} | {:.2} | {} |",
        put / cp,
        put / sha,
        target(put)
    );
    println!(
        "| archive get (stream out to a file) | {get:.0} | {:.2} | {:.2} | {} |",
        get / cp,
        get / sha,
        target(get)
    );
    println!("| peer: cp | {cp:.0} | 1.00 | {:.2} | |", cp / sha);
    println!("| peer: sha256sum | {sha:.0} | {:.2} | 1.00 | |", sha / cp);
    Ok(())
}

fn main() -> Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        println!("archive benchmark: not run under `cargo test`; run it with `cargo bench --bench archive`");
        return Ok(());
    }
    let mib = arg("--mib", 128)?;
    let runs = arg("--runs", 5)?;
    let dir = tempfile::tempdir().context("temp dir")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(run(dir.path(), mib, runs))
}
