//! `vanthu archive …`: operator commands for the archive.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;

use crate::archive::fixity::{self, Finding, FixityReport};
use crate::clock::SystemClock;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Fixity check: re-read archive objects, recompute SHA-256 and compare with the database;
    /// report missing, corrupt and orphaned objects. Exit 1 when any is found.
    Verify {
        /// Re-read only a random sample of N objects (the orphan scan still covers the store).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        sample: Option<u64>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the record list (danh mục hồ sơ) of a year, with deposit warnings.
    Records {
        /// Year of the list; default this year.
        #[arg(long)]
        year: Option<i64>,
        /// Agency identifier code; default: the only agency.
        #[arg(long)]
        agency: Option<String>,
    },
    /// Export a closed record as a deposit package (nộp lưu): BagIt folder, or ZIP when OUT ends in .zip.
    Export {
        /// Record id, or its full code, e.g. 000.00.99.H99.2026.01.VP.
        record: String,
        /// Package path (must not exist): a folder, or FILE.zip.
        #[arg(long, value_name = "DIR|FILE.zip")]
        out: std::path::PathBuf,
    },
    /// Verify a deposit package's checksums; exit 1 naming every file that does not match.
    CheckPackage {
        path: std::path::PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: Config, cmd: ArchiveCommand) -> Result<ExitCode> {
    if let ArchiveCommand::CheckPackage { path, json } = &cmd {
        return check_package(path, *json);
    }
    let s = crate::app::services(config, Arc::new(SystemClock)).await?;
    match cmd {
        ArchiveCommand::Verify { sample, json } => verify(&s, sample, json).await,
        ArchiveCommand::Records { year, agency } => records(&s, year, agency.as_deref()).await,
        ArchiveCommand::Export { record, out } => {
            let id = find_record(&s, &record).await?;
            let summary = crate::archive::deposit::export(&s, id, &out).await?;
            println!(
                "deposit package of {} written to {}: {} documents, {} files, {} payload bytes",
                summary.file_code, summary.path, summary.documents, summary.files, summary.payload_bytes
            );
            Ok(ExitCode::SUCCESS)
        }
        ArchiveCommand::CheckPackage { .. } => unreachable!("handled above"),
    }
}

async fn agency_of(s: &crate::services::Services, code: Option<&str>) -> Result<crate::storage::Agency> {
    match code {
        Some(c) => {
            s.db.agency_by_code(c)
                .await
                .map_err(|_| anyhow!("no agency with code {c}"))
        }
        None => {
            let mut all = s.db.agencies().await?;
            match all.len() {
                1 => all.pop().ok_or_else(|| anyhow!("no agency")),
                0 => bail!("no agency exists yet"),
                _ => bail!("several agencies exist; name one with --agency CODE"),
            }
        }
    }
}

/// A record by id, or by its full code `[agency code (13)].[year].[notation]`.
async fn find_record(s: &crate::services::Services, r: &str) -> Result<i64> {
    if let Ok(id) = r.parse::<i64>() {
        return Ok(id);
    }
    let bad = || anyhow!("{r:?} is neither a record id nor a record code like 000.00.99.H99.2026.01.VP");
    let agency_code = r.get(..13).ok_or_else(bad)?;
    let rest = r.get(13..).and_then(|x| x.strip_prefix('.')).ok_or_else(bad)?;
    let (year, notation) = rest.split_once('.').ok_or_else(bad)?;
    let year: i64 = year.parse().map_err(|_| bad())?;
    let agency =
        s.db.agency_by_code(agency_code)
            .await
            .map_err(|_| anyhow!("no agency with code {agency_code}"))?;
    s.db.records(agency.id, year)
        .await?
        .into_iter()
        .find(|x| x.notation == notation)
        .map(|x| x.id)
        .ok_or_else(|| anyhow!("no record {r}"))
}

async fn records(s: &crate::services::Services, year: Option<i64>, agency: Option<&str>) -> Result<ExitCode> {
    let agency = agency_of(s, agency).await?;
    let today = crate::clock::Clock::today(s.clock.as_ref());
    let year = year.unwrap_or_else(|| i64::from(chrono::Datelike::year(&today)));
    let table = crate::archive::retention::RetentionTable::embedded();
    println!("DANH MỤC HỒ SƠ năm {year} — {}", agency.name);
    for r in s.db.records(agency.id, year).await? {
        let v = crate::archive::records::view(&table, &agency.code, r, today);
        println!(
            "{}\t{}\t{}\t{}\t{}",
            v.record.id,
            v.record.notation,
            v.record.title,
            v.retention
                .as_ref()
                .map_or(v.record.retention_code.as_str(), |p| p.label.as_str()),
            v.record.status
        );
        for w in &v.warnings {
            println!("\t! {w}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_package(path: &std::path::Path, json: bool) -> Result<ExitCode> {
    let report = crate::archive::deposit::check(path)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for p in &report.problems {
            println!("{p}");
        }
        println!(
            "package {}: {} files checked, {} problems",
            if report.ok() { "intact" } else { "DAMAGED" },
            report.files_checked,
            report.problems.len()
        );
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn verify(s: &crate::services::Services, sample: Option<u64>, json: bool) -> Result<ExitCode> {
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("verifying archive {bar:40} {pos}/{len} objects ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let report = fixity::verify(s, sample, |done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    })
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The human-readable report.
fn render(r: &FixityReport) -> String {
    let mut out = String::new();
    for f in &r.findings {
        let line = match f {
            Finding::Missing { key } => format!("MISSING   {key}: recorded in the database, not in the store"),
            Finding::Corrupt {
                key,
                expected_sha256,
                actual_sha256,
                expected_size,
                actual_size,
            } => format!(
                "CORRUPT   {key}: expected sha256 {expected_sha256} ({expected_size} bytes), read {actual_sha256} ({actual_size} bytes)"
            ),
            Finding::Orphaned { key, size } => {
                format!("ORPHANED  {key}: {size} bytes in the store, unknown to the database")
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    let listed = r.missing + r.corrupt + r.orphaned;
    if listed > r.findings.len() as u64 {
        out.push_str(&format!("… {} more not listed\n", listed - r.findings.len() as u64));
    }
    out.push_str(&format!(
        "archive {}: {} objects checked{}, {} missing, {} corrupt, {} orphaned\n",
        if r.ok() { "intact" } else { "DAMAGED" },
        r.checked,
        if r.sampled { " (random sample)" } else { "" },
        r.missing,
        r.corrupt,
        r.orphaned
    ));
    out
}
