//! HTTP load benchmark: the real `vanthu serve --demo` binary under 64 concurrent clients.
//!
//! `cargo bench --bench load [-- --db sqlite|postgres|both] [--clients 64] [--seconds 15 | --requests N] [--warmup 2]
//!  [--open-rate R] [--phases A,A2,B,B2] [--server-env KEY=VALUE]…`
//!
//! Per backend it starts the release binary on a free loopback port with a fresh data dir (and a
//! fresh PostgreSQL database), then measures four phases: the `/healthz` no-op ceiling (the peer
//! the other phases are expressed against), registering incoming documents (closed loop: each
//! client sends its next request when its last one is answered), registering them open loop at
//! the backend's target rate (`--open-rate R`, 0 skips it; latency counted from the scheduled
//! send time), and reading them back twice: at once, while the archive jobs the registrations
//! queued still run, and again once the job queue is empty.
//! At the end it checks that the arrival numbers are exactly 1..=N (after the read phase, so that
//! exporting the whole register does not count in the RSS measured under load). The Markdown
//! report goes to stdout and to `bench-out/load-<backend>.md`. PostgreSQL comes from
//! `VANTHU_BENCH_POSTGRES_URL`, else `VANTHU_TEST_POSTGRES_URL`, else a local server on :5432.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

const USER: &str = "vanthu";
const PASSWORD: &str = "vanthu-demo";
const LOCAL_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Hard caps so every loop ends even if a limit is mis-set.
const MAX_REQUESTS_PER_PHASE: u64 = 5_000_000;
const MAX_PHASE: Duration = Duration::from_secs(600);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
    /// (registrations/s target, label)
    fn register_target(self) -> f64 {
        match self {
            Backend::Sqlite => 1500.0,
            Backend::Postgres => 800.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Limit {
    For(Duration),
    Count(u64),
}

struct Opts {
    db: Option<String>,
    clients: usize,
    limit: Limit,
    warmup: Duration,
    /// Extra environment for the server (experiments, e.g. `VANTHU_DATABASE_MAX_CONNECTIONS=4`).
    server_env: Vec<(String, String)>,
    /// Rate of the open-loop registration phase (default: the backend's target; 0 skips it).
    open_rate: Option<f64>,
    /// Which phases to run after the `/healthz` baseline: A, A2 (A′), B, B2 (B′); default all.
    /// Without B2 the bench does not wait for the job queue to drain.
    phases: Vec<String>,
    command: String,
}

fn parse_args() -> Result<Opts> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut o = Opts {
        db: None,
        clients: 64,
        limit: Limit::For(Duration::from_secs(15)),
        warmup: Duration::from_secs(2),
        server_env: Vec::new(),
        open_rate: None,
        phases: ["A", "A2", "B", "B2"].iter().map(|p| p.to_string()).collect(),
        command: String::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--db" => o.db = Some(val()?),
            "--clients" => o.clients = val()?.parse().context("--clients")?,
            "--seconds" => o.limit = Limit::For(Duration::from_secs_f64(val()?.parse().context("--seconds")?)),
            "--requests" => o.limit = Limit::Count(val()?.parse().context("--requests")?),
            "--open-rate" => o.open_rate = Some(val()?.parse().context("--open-rate")?),
            "--phases" => {
                o.phases = val()?.split(',').map(|p| p.trim().to_uppercase()).collect();
                if let Some(bad) = o.phases.iter().find(|p| !["A", "A2", "B", "B2"].contains(&p.as_str())) {
                    bail!("--phases: unknown phase {bad:?} (use A, A2, B, B2, comma-separated)");
                }
                if !o.phases.iter().any(|p| p.starts_with('A')) {
                    bail!("--phases needs A or A2: the read phases read the documents they create");
                }
            }
            "--warmup" => o.warmup = Duration::from_secs_f64(val()?.parse().context("--warmup")?),
            "--server-env" => {
                let kv = val()?;
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--server-env {kv:?}: expected KEY=VALUE"))?;
                o.server_env.push((k.to_string(), v.to_string()));
            }
            other => {
                bail!("unknown argument {other:?} (use --db, --clients, --seconds, --requests, --warmup, --open-rate, --phases, --server-env)")
            }
        }
    }
    if !(1..=1024).contains(&o.clients) {
        bail!("--clients must be 1..=1024");
    }
    o.command = if args.is_empty() {
        "cargo bench --bench load".into()
    } else {
        format!("cargo bench --bench load -- {}", args.join(" "))
    };
    Ok(o)
}

fn postgres_server() -> Option<String> {
    ["VANTHU_BENCH_POSTGRES_URL", "VANTHU_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

fn local_postgres_answers() -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// The server binary: cargo builds it with the bench, with the same profile and features
/// (`CARGO_BIN_EXE_vanthu`), so a second `cargo build --release` with other features is not needed.
fn build_server() -> Result<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vanthu"));
    bin.exists().then_some(bin.clone()).with_context(|| {
        format!(
            "{} not found: run this through `cargo bench --bench load`",
            bin.display()
        )
    })
}

// ---------------------------------------------------------------- /proc probes

fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// (comm, utime + stime in clock ticks) of a process.
fn proc_cpu(pid: &str) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (open, close) = (s.find('(')?, s.rfind(')')?);
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    Some((
        s[open + 1..close].to_string(),
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

/// Busy CPU ticks of the whole machine (all of /proc/stat's `cpu` line but idle and iowait).
fn machine_busy() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().take(8).sum::<u64>() - f.get(3).copied().unwrap_or(0) - f.get(4).copied().unwrap_or(0)
}

/// CPU ticks of the server, of this bench, of all `postgres` processes, and of the machine.
fn cpu_snapshot(server: u32) -> [u64; 4] {
    let mut pg = 0;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten().take(100_000) {
            let name = e.file_name();
            let Some(n) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
                continue;
            };
            if let Some((_, t)) = proc_cpu(n).filter(|(c, _)| c == "postgres") {
                pg += t;
            }
        }
    }
    let get = |p: &str| proc_cpu(p).map_or(0, |(_, t)| t);
    [get(&server.to_string()), get("self"), pg, machine_busy()]
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

// ---------------------------------------------------------------- server process

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    async fn start(bin: &Path, dir: &Path, db_url: Option<&str>, extra_env: &[(String, String)]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .context("free port")?
            .local_addr()?
            .port();
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log).context("server log")?;
        let mut cmd = Command::new(bin);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("VANTHU_")) {
            cmd.env_remove(k);
        }
        cmd.args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .env("VANTHU_DATA_DIR", dir.join("data"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().context("log handle")?)
            .stderr(out);
        if let Some(u) = db_url {
            cmd.env("VANTHU_DATABASE_URL", u);
        }
        cmd.envs(extra_env.iter().map(|(k, v)| (k, v)));
        let child = cmd.spawn().with_context(|| format!("spawning {}", bin.display()))?;
        let mut s = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(st) = s.child.try_wait()? {
                bail!("server exited early ({st}); log:\n{}", s.log_tail());
            }
            if let Ok(r) = http.get(format!("{}/readyz", s.base)).send().await {
                if r.status().is_success() {
                    return Ok(s);
                }
            }
            if Instant::now() > deadline {
                bail!("server not ready after 90 s; log:\n{}", s.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then up to 30 s for a graceful exit, then SIGKILL.
    fn stop(&mut self) -> Result<String> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .context("kill -TERM")?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(st) = self.child.try_wait()? {
                return Ok(format!(
                    "exited after SIGTERM in {:.1} s ({st})",
                    start.elapsed().as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().context("SIGKILL")?;
        self.child.wait()?;
        Ok("did not stop within 30 s of SIGTERM; killed".into())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------- load phases

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Health,
    Register,
    /// Registrations sent at a fixed rate (open loop), latency from the scheduled send time.
    OpenRegister,
    Read,
    /// Reads again once the durable job queue is empty (archive jobs of the registrations done).
    ReadQuiet,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Health => "baseline `GET /healthz`",
            Kind::Register => "A register `POST /api/v1/documents`",
            Kind::OpenRegister => "A′ register, open loop at the target rate",
            Kind::Read => "B read `GET /api/v1/documents/{id}` (archive jobs of A still running)",
            Kind::ReadQuiet => "B′ read, after the job queue drained",
        }
    }
}

struct Ctx {
    http: reqwest::Client,
    base: String,
    token: String,
    ids: Vec<i64>,
    /// Document numbers given to registered documents (unique per run).
    next_number: AtomicU64,
}

/// A request slower than this is listed with its send time.
const SLOW_MS: u32 = 50;

#[derive(Default)]
struct Phase {
    requests: u64,
    errors: u64,
    elapsed: f64,
    lat_us: Vec<u32>,
    error_samples: Vec<String>,
    /// (id, arrival_number) of created documents.
    created: Vec<(i64, Option<i64>)>,
    /// % of one core: server, bench, PostgreSQL, everything else on the machine.
    cpu: [f64; 4],
    peak_rss_kb: u64,
    /// Wall-clock time the measured run started (UTC), to line stalls up with server and
    /// PostgreSQL logs.
    started_at: chrono::DateTime<chrono::Utc>,
    /// Requests slower than [`SLOW_MS`]: (send time in ms after the start, latency µs).
    slow: Vec<(u32, u32)>,
    /// Group commit during the measured run, per writer: (batches, entries, seconds).
    group_commit: Vec<(String, f64, f64, f64)>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.max(1e-9)
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_us.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * self.lat_us.len() as f64).ceil() as usize;
        f64::from(self.lat_us[i.clamp(1, self.lat_us.len()) - 1]) / 1000.0
    }
}

/// One request; `Ok(Some(created))` for a registration, `Err(text)` for anything but the expected status.
async fn one(ctx: &Ctx, kind: Kind, ticket: u64) -> Result<Option<(i64, Option<i64>)>, String> {
    let (req, want) = match kind {
        Kind::Health => (ctx.http.get(format!("{}/healthz", ctx.base)), 200),
        Kind::Read | Kind::ReadQuiet => {
            let id = ctx.ids[(ticket % ctx.ids.len() as u64) as usize];
            (
                ctx.http
                    .get(format!("{}/api/v1/documents/{id}", ctx.base))
                    .bearer_auth(&ctx.token),
                200,
            )
        }
        Kind::Register | Kind::OpenRegister => {
            let n = ctx.next_number.fetch_add(1, Ordering::Relaxed);
            let body = json!({"direction": "incoming", "document_type": "cong_van", "subject": format!("Về việc kiểm tra tải hệ thống, văn bản {n}"),
                "number": n, "symbol": "BTP-VP", "issuer_name": "Bộ Tư pháp", "issued_on": "2026-01-05"});
            (
                ctx.http
                    .post(format!("{}/api/v1/documents", ctx.base))
                    .bearer_auth(&ctx.token)
                    .json(&body),
                201,
            )
        }
    };
    let resp = req.send().await.map_err(|e| format!("transport: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
    if status != want {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    if !matches!(kind, Kind::Register | Kind::OpenRegister) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| format!("201 body is not JSON: {e}"))?;
    let id = v["id"].as_i64().ok_or("201 without id")?;
    Ok(Some((id, v["arrival_number"].as_i64())))
}

/// Runs `clients` tasks until the limit; also samples the server's VmRSS and CPU use.
///
/// With `rate` (requests/s, open loop, like wrk2) request `i` of the whole phase is scheduled at
/// `start + i / rate`, client `c` sending requests `c, c + clients, …`; a client that falls
/// behind sends at once, and latency is measured from the scheduled time, so a slow server
/// shows as latency instead of as fewer requests (no coordinated omission).
async fn drive(
    ctx: &Arc<Ctx>,
    kind: Kind,
    clients: usize,
    limit: Limit,
    server: u32,
    rate: Option<f64>,
) -> Result<Phase> {
    let (max, dur) = match limit {
        Limit::For(d) => (MAX_REQUESTS_PER_PHASE, d.min(MAX_PHASE)),
        Limit::Count(n) => (n.min(MAX_REQUESTS_PER_PHASE), MAX_PHASE),
    };
    let ticket = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(proc_status_kb(server, "VmRSS:").unwrap_or(0)));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            for _ in 0..(MAX_PHASE.as_millis() / 200) {
                if done.load(Ordering::Relaxed) {
                    break;
                }
                peak.fetch_max(proc_status_kb(server, "VmRSS:").unwrap_or(0), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let commits0 = group_commit(ctx).await;
    let cpu0 = cpu_snapshot(server);
    let started_at = chrono::Utc::now();
    let start = Instant::now();
    let deadline = start + dur;
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (ctx, ticket, samples) = (ctx.clone(), ticket.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut created, mut errors) = (Vec::with_capacity(4096), Vec::new(), 0u64);
            let mut slow: Vec<(u32, u32)> = Vec::new();
            let mut own = 0u64;
            while Instant::now() < deadline {
                let (t, t0) = match rate {
                    Some(r) => {
                        let t = own * clients as u64 + client as u64;
                        own += 1;
                        let at = start + Duration::from_secs_f64(t as f64 / r);
                        if t >= max || at >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(at.into()).await;
                        (t, at)
                    }
                    None => {
                        let t = ticket.fetch_add(1, Ordering::Relaxed);
                        if t >= max {
                            break;
                        }
                        (t, Instant::now())
                    }
                };
                match one(&ctx, kind, t).await {
                    Ok(c) => created.extend(c),
                    Err(e) => {
                        errors += 1;
                        let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
                        if s.len() < 5 {
                            s.push(e);
                        }
                    }
                }
                let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                if us > SLOW_MS * 1000 && slow.len() < 10_000 {
                    let at = u32::try_from(t0.saturating_duration_since(start).as_millis()).unwrap_or(u32::MAX);
                    slow.push((at, us));
                }
                lat.push(us);
            }
            (lat, created, errors, slow)
        }));
    }
    let mut p = Phase {
        started_at,
        ..Phase::default()
    };
    for t in tasks {
        let (lat, created, errors, slow) = t.await.context("client task panicked")?;
        p.lat_us.extend(lat);
        p.created.extend(created);
        p.errors += errors;
        p.slow.extend(slow);
    }
    p.elapsed = start.elapsed().as_secs_f64();
    let cpu1 = cpu_snapshot(server);
    let commits1 = group_commit(ctx).await;
    for (writer, (b1, e1, s1)) in &commits1 {
        let (b0, e0, s0) = commits0.get(writer).copied().unwrap_or_default();
        if b1 > &b0 {
            p.group_commit.push((writer.clone(), b1 - b0, e1 - e0, s1 - s0));
        }
    }
    p.group_commit.sort_by(|a, b| a.0.cmp(&b.0));
    p.slow.sort_unstable();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let hz = clock_ticks();
    for i in 0..4 {
        p.cpu[i] = cpu1[i].saturating_sub(cpu0[i]) as f64 / hz / p.elapsed * 100.0;
    }
    p.cpu[3] = (p.cpu[3] - p.cpu[0] - p.cpu[1] - p.cpu[2]).max(0.0);
    p.peak_rss_kb = peak
        .load(Ordering::Relaxed)
        .max(proc_status_kb(server, "VmRSS:").unwrap_or(0));
    p.requests = p.lat_us.len() as u64;
    p.lat_us.sort_unstable();
    p.error_samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(p)
}

/// Warm-up (discarded except for created documents), then the measured run.
async fn phase(ctx: &Arc<Ctx>, kind: Kind, o: &Opts, server: u32) -> Result<(Phase, Vec<(i64, Option<i64>)>)> {
    let mut created = Vec::new();
    if !o.warmup.is_zero() {
        created = drive(ctx, kind, o.clients, Limit::For(o.warmup), server, None)
            .await?
            .created;
    }
    let p = drive(ctx, kind, o.clients, o.limit, server, None).await?;
    created.extend(p.created.iter().copied());
    Ok((p, created))
}

/// The server's group-commit counters from `/metrics`, per writer: (batches, entries, seconds).
/// Empty when `/metrics` cannot be read (the phase's figures then say nothing about batches).
async fn group_commit(ctx: &Ctx) -> std::collections::HashMap<String, (f64, f64, f64)> {
    let mut out: std::collections::HashMap<String, (f64, f64, f64)> = std::collections::HashMap::new();
    let Ok(resp) = ctx.http.get(format!("{}/metrics", ctx.base)).send().await else {
        return out;
    };
    let Ok(text) = resp.text().await else {
        return out;
    };
    for line in text.lines() {
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let Some((metric, labels)) = name.split_once("{writer=\"") else {
            continue;
        };
        let writer = labels.trim_end_matches("\"}").to_string();
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let slot = out.entry(writer).or_default();
        match metric {
            "vanthu_group_commit_batch_size_count" => slot.0 = v,
            "vanthu_group_commit_batch_size_sum" => slot.1 = v,
            "vanthu_group_commit_batch_duration_seconds_sum" => slot.2 = v,
            _ => {}
        }
    }
    out
}

/// Polls `/metrics` until `vanthu_job_queue_depth` is 0 (the gauge is refreshed every 5 s),
/// then lets the workers settle for 2 s more.
async fn wait_for_empty_queue(ctx: &Ctx, cap: Duration) -> Result<String> {
    let start = Instant::now();
    let mut first_depth = None;
    loop {
        let text = ctx
            .http
            .get(format!("{}/metrics", ctx.base))
            .send()
            .await?
            .text()
            .await?;
        let depth = text
            .lines()
            .find_map(|l| l.strip_prefix("vanthu_job_queue_depth "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .context("/metrics has no vanthu_job_queue_depth")?;
        let first = *first_depth.get_or_insert(depth);
        if depth == 0.0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            return Ok(format!(
                "job queue: {first:.0} jobs waiting after phase B, empty after {:.1} s",
                start.elapsed().as_secs_f64()
            ));
        }
        if start.elapsed() > cap {
            bail!("the job queue still holds {depth:.0} jobs after {} s", cap.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Arrival numbers must be exactly 1..=N, in the register and in the 201 responses.
async fn check_numbers(ctx: &Ctx, created: &[(i64, Option<i64>)]) -> Result<(bool, String)> {
    let resp = ctx
        .http
        .get(format!("{}/api/v1/registers/incoming", ctx.base))
        .bearer_auth(&ctx.token)
        .timeout(Duration::from_secs(120))
        .send()
        .await?;
    let status = resp.status();
    let v: Value = resp.json().await.context("register JSON")?;
    if !status.is_success() {
        bail!("GET /api/v1/registers/incoming: {status} {v}");
    }
    let rows = v["rows"].as_array().context("register without rows")?;
    let mut reg: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.get(1)?.as_str()?.trim().parse().ok())
        .collect();
    let mut api: Vec<i64> = created.iter().filter_map(|c| c.1).collect();
    let n = created.len() as i64;
    let exact = |v: &mut Vec<i64>| {
        v.sort_unstable();
        v.iter().copied().eq(1..=n)
    };
    let (reg_ok, api_ok) = (exact(&mut reg), exact(&mut api));
    let msg = format!(
        "{} documents created (201); register has {} rows, {} numeric \"Số đến\": exactly 1..={n} {}; arrival_number in the 201 responses: exactly 1..={n} {}",
        n,
        rows.len(),
        reg.len(),
        if reg_ok { "yes" } else { "NO (gap, duplicate or extra)" },
        if api_ok { "yes" } else { "NO" }
    );
    Ok((reg_ok && api_ok, msg))
}

// ---------------------------------------------------------------- one backend, report

struct Report {
    phases: Vec<(Kind, Phase)>,
    /// How long the job queue took to drain after phase B.
    drained: String,
    check: (bool, String),
    /// VmHWM after the load phases, and after the register export of the check.
    hwm_kb: u64,
    hwm_after_check_kb: u64,
    stopped: String,
}

/// Runs one backend. Its data folder goes into `keep` and is removed only when the whole bench
/// ends: deleting ~100k archive files right before the next backend's run would slow that
/// run's file creation (ext4 skips recently freed inodes while allocating new ones).
async fn run_backend(
    backend: Backend,
    bin: &Path,
    o: &Opts,
    pg: Option<&str>,
    keep: &mut Vec<tempfile::TempDir>,
) -> Result<Report> {
    let dir = tempfile::Builder::new()
        .prefix("vbench-")
        .tempdir()
        .context("temp dir")?;
    let mut db = None;
    if backend == Backend::Postgres {
        let server = pg.context("no PostgreSQL server")?;
        let name = format!("vbench_{}", uuid::Uuid::new_v4().simple());
        let url = vanthu::storage::create_postgres_database(server, &name)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        db = Some((server.to_string(), name, url));
    }
    let open_rate = match o.open_rate {
        Some(r) if r > 0.0 => Some(r),
        Some(_) => None,
        None => Some(backend.register_target()),
    };
    let result = run_on(bin, dir.path(), db.as_ref().map(|d| d.2.as_str()), o, open_rate).await;
    // The server's log beside the report, to line up slow windows with what the server did.
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-out");
    let _ = std::fs::copy(
        dir.path().join("server.log"),
        out_dir.join(format!("server-{}.log", backend.name())),
    );
    if let Some((server, name, _)) = &db {
        if let Err(e) = vanthu::storage::drop_postgres_database(server, name).await {
            eprintln!("warning: could not drop database {name}: {e}");
        }
    }
    keep.push(dir);
    result
}

async fn run_on(bin: &Path, dir: &Path, db_url: Option<&str>, o: &Opts, open_rate: Option<f64>) -> Result<Report> {
    let mut server = Server::start(bin, dir, db_url, &o.server_env).await?;
    let pid = server.pid();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients * 2)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .build()?;
    let login = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await?;
    let lv: Value = login.json().await.context("login response")?;
    let token = lv["token"]
        .as_str()
        .with_context(|| format!("login failed: {lv}"))?
        .to_string();
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        base: server.base.clone(),
        token,
        ids: Vec::new(),
        next_number: AtomicU64::new(1),
    });

    let want = |p: &str| o.phases.iter().any(|q| q == p);
    let mut phases = Vec::new();
    eprintln!("  baseline /healthz …");
    phases.push((Kind::Health, phase(&ctx, Kind::Health, o, pid).await?.0));
    let mut created = Vec::new();
    if want("A") {
        eprintln!("  phase A register …");
        let (reg, made) = phase(&ctx, Kind::Register, o, pid).await?;
        phases.push((Kind::Register, reg));
        created = made;
    }
    if let (true, Some(rate)) = (want("A2"), open_rate) {
        eprintln!("  phase A′ register, open loop at {rate:.0}/s …");
        let p = drive(&ctx, Kind::OpenRegister, o.clients, o.limit, pid, Some(rate)).await?;
        created.extend(p.created.iter().copied());
        phases.push((Kind::OpenRegister, p));
    }
    let ids: Vec<i64> = created.iter().map(|c| c.0).collect();
    if ids.is_empty() {
        bail!("no document was created; server log:\n{}", server.log_tail());
    }
    let ctx = Arc::new(Ctx {
        http,
        base: ctx.base.clone(),
        token: ctx.token.clone(),
        ids,
        next_number: AtomicU64::new(0),
    });
    if want("B") {
        eprintln!("  phase B read …");
        phases.push((Kind::Read, phase(&ctx, Kind::Read, o, pid).await?.0));
    }
    let mut drained = "not waited for (phase B′ not run)".to_string();
    if want("B2") {
        eprintln!("  waiting for the job queue to drain …");
        drained = wait_for_empty_queue(&ctx, Duration::from_secs(600)).await?;
        eprintln!("  {drained}");
        eprintln!("  phase B′ read …");
        phases.push((Kind::ReadQuiet, phase(&ctx, Kind::ReadQuiet, o, pid).await?.0));
    }
    let hwm_kb = proc_status_kb(pid, "VmHWM:").unwrap_or(0);
    let check = check_numbers(&ctx, &created).await?;
    eprintln!("  {}", check.1);
    let hwm_after_check_kb = proc_status_kb(pid, "VmHWM:").unwrap_or(0);
    let stopped = server.stop()?;
    Ok(Report {
        phases,
        drained,
        check,
        hwm_kb,
        hwm_after_check_kb,
        stopped,
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let mem = proc_status_like("/proc/meminfo", "MemTotal:")
        .map_or("?".into(), |kb| format!("{:.1} GB", kb as f64 / 1048576.0));
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{nproc} × {model}, {mem} RAM, Linux {}", kernel.trim())
}

fn proc_status_like(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn git_rev() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |s| s.trim().to_string())
}

fn markdown(backend: Backend, o: &Opts, r: &Report) -> String {
    let mut s = String::new();
    let limit = match o.limit {
        Limit::For(d) => format!("{:.0} s", d.as_secs_f64()),
        Limit::Count(n) => format!("{n} requests"),
    };
    let _ = writeln!(s, "## HTTP load, {} backend\n", backend.name());
    let _ = writeln!(s, "- Command: `{}`", o.command);
    let _ = writeln!(
        s,
        "- Machine: {} (client and server share it); commit {}",
        machine(),
        git_rev()
    );
    let _ = writeln!(
        s,
        "- Load: {} clients (tokio tasks, one reqwest client, HTTP/1.1 keep-alive) per phase, {:.0} s warm-up then {limit}; `vanthu serve --demo` release build, user `{USER}`\n",
        o.clients,
        o.warmup.as_secs_f64()
    );
    if !o.server_env.is_empty() {
        let env: Vec<String> = o.server_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(s, "- Server environment (experiment): `{}`\n", env.join(" "));
    }
    let _ = writeln!(s, "| Phase | Requests | Errors | Req/s | × /healthz | p50 ms | p90 ms | p99 ms | max ms | Server CPU | Bench CPU | PostgreSQL CPU | Other CPU | Server RSS peak |");
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let base = r
        .phases
        .iter()
        .find(|(k, _)| *k == Kind::Health)
        .map_or(0.0, |(_, p)| p.rate());
    for (k, p) in &r.phases {
        let pg = if backend == Backend::Postgres {
            format!("{:.0} %", p.cpu[2])
        } else {
            "–".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.3} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} % | {:.0} % | {pg} | {:.0} % | {:.1} MB |",
            k.label(),
            p.requests,
            p.errors,
            p.rate(),
            p.rate() / base.max(1e-9),
            p.pct(50.0),
            p.pct(90.0),
            p.pct(99.0),
            p.pct(100.0),
            p.cpu[0],
            p.cpu[1],
            p.cpu[3],
            p.peak_rss_kb as f64 / 1024.0
        );
    }
    let _ = writeln!(
        s,
        "\nCPU is % of one core over the measured run (the machine has {} cores); Other = the rest of the machine \
         (other processes, and kernel work not charged to a process): when it is high the phase was disturbed.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (k, p) in &r.phases {
        if !p.group_commit.is_empty() {
            let parts: Vec<String> = p
                .group_commit
                .iter()
                .map(|(w, b, e, secs)| {
                    format!(
                        "{w}: {b:.0} batches, {:.1} entries and {:.2} ms each",
                        e / b.max(1.0),
                        secs * 1000.0 / b.max(1.0)
                    )
                })
                .collect();
            let _ = writeln!(s, "\nGroup commit in {}: {}.", k.label(), parts.join("; "));
        }
    }
    for (k, p) in &r.phases {
        if p.slow.is_empty() {
            continue;
        }
        // 100 ms windows of send time, the slowest first.
        let mut windows: std::collections::BTreeMap<u32, (u32, u32)> = std::collections::BTreeMap::new();
        for &(at, us) in &p.slow {
            let w = windows.entry(at / 100).or_default();
            w.0 += 1;
            w.1 = w.1.max(us);
        }
        let mut worst: Vec<(u32, (u32, u32))> = windows.into_iter().collect();
        worst.sort_by_key(|w| std::cmp::Reverse(w.1 .1));
        let listed: Vec<String> = worst
            .iter()
            .take(8)
            .map(|(w, (n, max))| {
                let at = p.started_at + chrono::Duration::milliseconds(i64::from(*w) * 100);
                format!(
                    "{} ({n}, max {:.0} ms)",
                    at.format("%H:%M:%S%.3f"),
                    f64::from(*max) / 1000.0
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "\nSlow requests in {} (over {SLOW_MS} ms): {} in {} windows of 100 ms; worst windows by send time (UTC): {}.",
            k.label(),
            p.slow.len(),
            worst.len(),
            listed.join(", ")
        );
    }
    let _ = writeln!(s, "\nBetween B and B′: {}.", r.drained);
    let _ = writeln!(
        s,
        "\nArrival-number check: {} — {}",
        if r.check.0 { "PASS" } else { "FAIL" },
        r.check.1
    );
    let _ = writeln!(
        s,
        "\nServer peak RSS (VmHWM): {:.1} MB under load; {:.1} MB after the check exported the whole register; shutdown: {}",
        r.hwm_kb as f64 / 1024.0,
        r.hwm_after_check_kb as f64 / 1024.0,
        r.stopped
    );
    for (k, p) in r.phases.iter().filter(|(_, p)| !p.error_samples.is_empty()) {
        let _ = writeln!(s, "\nFirst errors in {}:\n", k.label());
        for e in &p.error_samples {
            let _ = writeln!(s, "- `{}`", e.replace('`', "'"));
        }
    }
    let get = |kind: Kind| r.phases.iter().find(|(k, _)| *k == kind).map(|(_, p)| p);
    let _ = writeln!(s, "\n| Target | Measured | Met |\n|---|---:|---|");
    let mut row = |t: String, m: String, ok: bool| {
        let _ = writeln!(s, "| {t} | {m} | {} |", if ok { "yes" } else { "**no**" });
    };
    if let Some(p) = get(Kind::Register) {
        let t = backend.register_target();
        row(
            format!("registrations ≥ {t:.0}/s ({}, {} clients)", backend.name(), o.clients),
            format!("{:.0}/s", p.rate()),
            p.rate() >= t,
        );
        row(
            "registration p99 < 50 ms (closed loop)".into(),
            format!("{:.2} ms", p.pct(99.0)),
            p.pct(99.0) < 50.0,
        );
    }
    if let Some(p) = get(Kind::OpenRegister) {
        let rate = o.open_rate.filter(|r| *r > 0.0).unwrap_or(backend.register_target());
        row(
            format!("open loop: {rate:.0}/s offered, all served"),
            format!("{:.0}/s, {} errors", p.rate(), p.errors),
            p.rate() >= rate * 0.97 && p.errors == 0,
        );
        row(
            "registration p99 < 50 ms (open loop, from the scheduled time)".into(),
            format!("{:.2} ms", p.pct(99.0)),
            p.pct(99.0) < 50.0,
        );
    }
    for (kind, when) in [
        (Kind::Read, "while the archive jobs run"),
        (Kind::ReadQuiet, "job queue empty"),
    ] {
        if let Some(p) = get(kind) {
            row(
                format!("reads ≥ 10000/s ({when})"),
                format!("{:.0}/s", p.rate()),
                p.rate() >= 10000.0,
            );
            row(
                format!("read p99 < 50 ms ({when})"),
                format!("{:.2} ms", p.pct(99.0)),
                p.pct(99.0) < 50.0,
            );
        }
    }
    row(
        "server RSS < 150 MB (under load)".into(),
        format!("{:.1} MB", r.hwm_kb as f64 / 1024.0),
        r.hwm_kb < 150 * 1024,
    );
    row(
        "arrival numbers exactly 1..N".into(),
        if r.check.0 { "yes".into() } else { "no".into() },
        r.check.0,
    );
    s
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, and
    // a several-minute load run has no place in the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load benchmark: not run under `cargo test`; run it with `cargo bench --bench load`");
        return Ok(());
    }
    let o = parse_args()?;
    let pg = postgres_server().or_else(|| local_postgres_answers().then(|| LOCAL_PG.to_string()));
    let backends = match o.db.as_deref() {
        Some("sqlite") => vec![Backend::Sqlite],
        Some("postgres") => vec![Backend::Postgres],
        Some("both") => vec![Backend::Sqlite, Backend::Postgres],
        None if pg.is_some() => vec![Backend::Sqlite, Backend::Postgres],
        None => vec![Backend::Sqlite],
        Some(other) => bail!("--db must be sqlite, postgres or both, not {other:?}"),
    };
    if backends.contains(&Backend::Postgres) && pg.is_none() {
        bail!("PostgreSQL requested but VANTHU_BENCH_POSTGRES_URL is unset and nothing answers on 127.0.0.1:5432");
    }
    let bin = build_server()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-out");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut failed = Vec::new();
    let mut keep = Vec::new();
    for b in backends {
        eprintln!("load benchmark on {} …", b.name());
        match rt.block_on(run_backend(b, &bin, &o, pg.as_deref(), &mut keep)) {
            Ok(r) => {
                let md = markdown(b, &o, &r);
                println!("{md}");
                let path = out_dir.join(format!("load-{}.md", b.name()));
                std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
            Err(e) => {
                eprintln!("{} backend failed: {e:#}", b.name());
                failed.push(b.name());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("benchmark failed on {}", failed.join(", ")))
    }
}
