//! The command line. Every failure ends with one line on stderr and a non-zero exit code.

pub mod archive;
pub mod axis;
mod commands;
mod pdf;
mod pdf_appearance;
mod pdf_ltv;
pub mod pki;

pub use pdf::PdfCommand;
mod edxml;
mod search;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vanthu",
    version,
    about = "Document-management and digital-signature workflow server (văn thư)"
)]
pub struct Cli {
    /// Configuration file (default: ./vanthu.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log output format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage agencies and their units.
    #[command(subcommand)]
    Agency(AgencyCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Audit-log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Sign PDF files (PAdES); needs no database.
    #[command(subcommand)]
    Pdf(PdfCommand),
    /// Test PKI services (OCSP, time-stamping, CRLs); needs no database.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// The archive: fixity checks.
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
    /// Full-text search of documents (Vietnamese, with or without diacritics).
    Search(search::SearchArgs),
    /// Rebuild this data dir's search index from the database and the stored files (the server
    /// must be stopped).
    Reindex(ReindexArgs),
    /// edXML packets (QCVN 102:2016): parse, build, check.
    #[command(subcommand)]
    Edxml(edxml::EdxmlCommand),
    /// The national document axis: a protocol-faithful mock (`serve`) and a client.
    #[command(subcommand)]
    Axis(axis::AxisCommand),
}

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Forget the cached text of every file and extract it again from object storage.
    #[arg(long)]
    pub re_extract: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seed a fictional agency with one user per role when the database is empty.
    #[arg(long)]
    pub demo: bool,
    /// Listen address (overrides VANTHU_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (one line).
    Add {
        username: String,
        /// Full name, e.g. "Nguyễn Thị Thu".
        #[arg(long)]
        name: String,
        /// Role codes (repeat): van_thu, lanh_dao, truong_don_vi, chuyen_vien, luu_tru, quan_tri.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Agency identifier code; default: the only agency.
        #[arg(long)]
        agency: Option<String>,
        /// Unit abbreviation within the agency, e.g. VP.
        #[arg(long)]
        unit: Option<String>,
        /// Position (chức vụ).
        #[arg(long)]
        position: Option<String>,
    },
    /// Set a user's password (read from standard input) and end their sessions.
    Passwd { username: String },
    /// Lock an account and end its sessions.
    Lock { username: String },
    /// Unlock an account and reset its failed-login count.
    Unlock { username: String },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AgencyCommand {
    /// Register an agency.
    Add {
        /// Identifier code (mã định danh), e.g. 000.00.00.G12.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// Abbreviation used in document symbols, e.g. BTP.
        #[arg(long)]
        abbreviation: String,
        /// Governing body (cơ quan chủ quản).
        #[arg(long)]
        parent_name: Option<String>,
        /// Place name for date lines, e.g. "Hà Nội".
        #[arg(long)]
        place: Option<String>,
    },
    /// List agencies.
    List,
    /// Add a unit to an agency.
    AddUnit {
        /// Agency identifier code.
        agency: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        abbreviation: String,
        /// Parent unit abbreviation.
        #[arg(long)]
        parent: Option<String>,
    },
    /// List an agency's units.
    Units { agency: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example vanthu.toml.
    Example,
    /// Print the configuration in force (secrets redacted).
    Show,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Re-compute the hash chain; exit 1 when an entry was edited or deleted.
    Verify {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vanthu: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text its parent already shows.
fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.replace('\n', " ")
}
