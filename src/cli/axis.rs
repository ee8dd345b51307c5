//! `vanthu axis …`: the mock national document axis (`serve`) and a client of any axis (`send`,
//! `inbox`, `fetch`, `ack`, `agencies`, `sent`). Connection settings come from flags, else from
//! the configuration (`[axis]`, `VANTHU_AXIS_*`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::axis::protocol::{AckStatus, MessageType};
use crate::axis::receive;
use crate::axis::{AxisClient, ClientSettings, Faults, MockAxis, MockSettings, RetryPolicy, Tenants};
use crate::clock::SystemClock;
use crate::config::{Config, Secret};
use crate::edxml::{parse_bytes, DiscardSink, Limits, Packet};

#[derive(Debug, Subcommand)]
pub enum AxisCommand {
    /// Run the mock axis (protocol-faithful; SQLite in --data).
    Serve(ServeArgs),
    /// Send an edXML packet (document or status); prints the axis DocId.
    Send {
        file: PathBuf,
        /// The `from` header (default: the packet's From/OrganId, else the system id).
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        conn: Conn,
    },
    /// List inbox items not yet acknowledged `done` (one JSON object per line).
    Inbox {
        /// Status packets instead of documents.
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Fetch one inbox item into DIR; a packet already there (same DocumentId) is stored once.
    Fetch {
        doc_id: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    /// Acknowledge an inbox item: `done` takes it off the list, `fail` flags it.
    Ack {
        doc_id: String,
        status: AckArg,
        #[command(flatten)]
        conn: Conn,
    },
    /// The axis's agency directory (one JSON object per line).
    Agencies {
        /// The QĐ 20/2020 list (`getAgenciesListQD20`).
        #[arg(long)]
        qd20: bool,
        #[command(flatten)]
        conn: Conn,
    },
    /// Per-receiver delivery of what we sent (one JSON object per line).
    Sent {
        /// Only this DocId.
        #[arg(long)]
        doc_id: Option<String>,
        /// Status packets instead of documents.
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AckArg {
    Done,
    Fail,
}

#[derive(Debug, Args)]
pub struct Conn {
    /// Axis endpoint with its base path (else VANTHU_AXIS_URL).
    #[arg(long)]
    url: Option<String>,
    /// Our system id at the axis (else VANTHU_AXIS_SYSTEM_ID).
    #[arg(long)]
    system_id: Option<String>,
    /// The shared HMAC secret (prefer --secret-file or VANTHU_AXIS_SECRET).
    #[arg(long, conflicts_with = "secret_file")]
    secret: Option<String>,
    /// A file holding the secret (one line).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Attempts per call (network errors and 5xx are retried with backoff).
    #[arg(long, default_value_t = 10)]
    attempts: u32,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Data dir: axis.sqlite and the packet files.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Tenants file (TOML: [[tenant]] system_id, secret, organs).
    #[arg(long, value_name = "FILE")]
    tenants: PathBuf,
    /// Path prefix of the endpoints, e.g. /XrdAdapter/adapter.
    #[arg(long, default_value = "")]
    base_path: String,
    /// OrganId of the TraceHeader the axis appends to documents.
    #[arg(long, default_value = "000.00.00.AXIS")]
    organ_id: String,
    /// Share of requests whose connection is cut, before or after processing (0–1).
    #[arg(long)]
    fault_drop: Option<f64>,
    /// Share of requests answered 503 (0–1).
    #[arg(long = "fault-5xx")]
    fault_5xx: Option<f64>,
    /// Delay each request by up to this many milliseconds.
    #[arg(long)]
    fault_delay_ms: Option<u64>,
    /// Share of deliveries put in the inbox twice (0–1).
    #[arg(long)]
    fault_duplicate: Option<f64>,
    /// Largest packet accepted by sendEdoc, in bytes.
    #[arg(long, default_value_t = 32 << 20)]
    max_body_bytes: usize,
    /// sendEdoc bodies held in memory at once (bounds memory to this × --max-body-bytes).
    #[arg(long, default_value_t = 32)]
    max_concurrent_sends: usize,
}

pub async fn run(config: Config, cmd: AxisCommand) -> Result<ExitCode> {
    match cmd {
        AxisCommand::Serve(args) => serve(config, args).await,
        AxisCommand::Send { file, from, conn } => {
            let client = client(&config, &conn)?;
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let parsed = parse_bytes(&bytes, &mut DiscardSink, &Limits::default())
                .with_context(|| format!("{} is not a usable edXML packet", file.display()))?;
            let (mt, organ) = match &parsed.packet {
                Packet::Document(d) => (MessageType::Edoc, d.from.organ_id.clone()),
                Packet::Status(s) => (MessageType::Status, s.from.organ_id.clone()),
            };
            let from = from
                .or(organ.filter(|o| !o.trim().is_empty() && o != "null"))
                .unwrap_or_else(|| client.system_id().to_owned());
            let doc_id = client.send_edoc(&bytes, mt, &from).await?;
            println!("{doc_id}");
            Ok(ExitCode::SUCCESS)
        }
        AxisCommand::Inbox { status, conn } => {
            let client = client(&config, &conn)?;
            let items = client.get_received_edoc_list(message_type(status)).await?;
            print_lines(&items)
        }
        AxisCommand::Fetch { doc_id, out, conn } => {
            let client = client(&config, &conn)?;
            let r = receive::fetch(&client, &doc_id, &out).await?;
            println!(
                "{} {}",
                if r.new { "stored" } else { "already stored" },
                r.path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AxisCommand::Ack { doc_id, status, conn } => {
            let client = client(&config, &conn)?;
            let s = match status {
                AckArg::Done => AckStatus::Done,
                AckArg::Fail => AckStatus::Fail,
            };
            client.update_status(&doc_id, s).await?;
            println!("{doc_id} {}", s.as_str());
            Ok(ExitCode::SUCCESS)
        }
        AxisCommand::Agencies { qd20, conn } => {
            let client = client(&config, &conn)?;
            let list = if qd20 {
                client.get_agencies_list_qd20(None).await?
            } else {
                client.get_agencies_list().await?
            };
            print_lines(&list)
        }
        AxisCommand::Sent { doc_id, status, conn } => {
            let client = client(&config, &conn)?;
            let rows = client
                .get_sent_edoc_list(message_type(status), doc_id.as_deref())
                .await?;
            print_lines(&rows)
        }
    }
}

fn message_type(status: bool) -> MessageType {
    if status {
        MessageType::Status
    } else {
        MessageType::Edoc
    }
}

fn print_lines<T: serde::Serialize>(rows: &[T]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for r in rows {
        serde_json::to_writer(&mut out, r)?;
        out.write_all(b"\n")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn client(config: &Config, conn: &Conn) -> Result<AxisClient> {
    let url = conn
        .url
        .clone()
        .or_else(|| config.axis.url.clone())
        .ok_or_else(|| anyhow!("no axis URL: give --url or set VANTHU_AXIS_URL"))?;
    let system_id = conn
        .system_id
        .clone()
        .or_else(|| config.axis.system_id.clone())
        .ok_or_else(|| anyhow!("no system id: give --system-id or set VANTHU_AXIS_SYSTEM_ID"))?;
    let secret = match (&conn.secret, &conn.secret_file) {
        (Some(s), _) => Secret::new(s.clone()),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            Secret::new(text.trim_end_matches(['\r', '\n']).to_owned())
        }
        (None, None) => config
            .axis
            .secret
            .clone()
            .ok_or_else(|| anyhow!("no secret: give --secret-file or set VANTHU_AXIS_SECRET"))?,
    };
    if secret.expose().is_empty() {
        bail!("the axis secret is empty");
    }
    let settings = ClientSettings {
        url,
        system_id,
        secret,
        retry: RetryPolicy {
            max_attempts: conn.attempts.max(1),
            ..RetryPolicy::default()
        },
        timeout: Duration::from_secs(60),
    };
    Ok(AxisClient::new(settings, Arc::new(SystemClock))?)
}

fn share(flag: Option<f64>, config: f64, name: &str) -> Result<f64> {
    let v = flag.unwrap_or(config);
    if !(0.0..=1.0).contains(&v) {
        bail!("--{name} must be between 0 and 1, got {v}");
    }
    Ok(v)
}

async fn serve(config: Config, args: ServeArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.tenants)
        .with_context(|| format!("cannot read the tenants file {}", args.tenants.display()))?;
    let tenants = Tenants::parse(&text).with_context(|| args.tenants.display().to_string())?;
    let faults = Faults {
        drop: share(args.fault_drop, config.axis.fault_drop, "fault-drop")?,
        fail_5xx: share(args.fault_5xx, config.axis.fault_5xx, "fault-5xx")?,
        max_delay: Duration::from_millis(args.fault_delay_ms.unwrap_or(config.axis.fault_delay_ms)),
        duplicate: share(args.fault_duplicate, config.axis.fault_duplicate, "fault-duplicate")?,
    };
    let mut settings = MockSettings::new(args.data.clone(), tenants);
    settings.base_path = args.base_path.clone();
    settings.organ_id = args.organ_id.clone();
    settings.faults = faults;
    settings.max_body_bytes = args.max_body_bytes;
    let axis = Arc::new(
        MockAxis::open(settings, Arc::new(SystemClock))
            .await
            .with_context(|| format!("cannot open the axis data dir {}", args.data.display()))?,
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, base_path = %args.base_path, ?faults, "mock axis listening");
    println!(
        "vanthu axis listening on http://{addr}{}",
        args.base_path.trim_end_matches('/')
    );
    std::io::stdout().flush()?;
    crate::http::axis_mock::serve(
        listener,
        axis.clone(),
        args.max_concurrent_sends,
        super::commands::shutdown_signal(),
    )
    .await
    .context("mock axis failed")?;
    axis.close().await;
    Ok(ExitCode::SUCCESS)
}
