//! `vanthu pdf …`: PAdES signing from the command line. Needs no database or configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::clock::{vietnam, Clock, SystemClock};
use crate::pades::{self, SignOptions, SigningKey, Verdict, VerifyOptions};

#[derive(Debug, Subcommand)]
pub enum PdfCommand {
    /// Sign a PDF by incremental update (earlier signatures stay valid).
    Sign(SignArgs),
    /// Verify every signature; exit 0 only when all are valid and trusted (1: invalid,
    /// 2: indeterminate, e.g. revocation unknown).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trust anchors (PEM or DER certificates). Repeatable; at least one.
    #[arg(long, value_name = "FILE", required = true)]
    pub trust: Vec<PathBuf>,
    /// CRLs to check revocation against (PEM or DER), besides those in the document's DSS.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// Accept an unknown revocation status (the report still says it is unknown).
    #[arg(long)]
    pub no_revocation_check: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The PDF to verify.
    pub input: PathBuf,
}

/// Signature levels this build can produce.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Level {
    /// PAdES baseline B-B: CMS with signing-certificate-v2, no timestamp.
    #[value(name = "b-b")]
    BB,
}

/// Visible appearances this build can draw.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Appearance {
    /// An invisible signature (a field with an empty rectangle).
    None,
    /// The leader's signature: --image between --position and --name (NĐ 30 box 7).
    Leader,
    /// The organisation's seal (--image, --seal-size-mm) over the left third of the leader's
    /// signature image (NĐ 30 box 8).
    Seal,
    /// The organisation's signature on an attachment: --agency, --number-symbol and the signing
    /// time as text at the top right of page 1.
    Attachment,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// Private key: PEM PKCS#8, encrypted PKCS#8, PKCS#1 RSA or SEC1 EC; or DER PKCS#8.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// File holding the first line of the PIN that unlocks an encrypted key.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// The signer's certificate (PEM or DER).
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Intermediate (and root) certificates to embed; PEM files may hold several. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "b-b")]
    pub level: Level,
    #[arg(long, value_enum, default_value = "none")]
    pub appearance: Appearance,
    #[command(flatten)]
    pub look: Box<super::pdf_appearance::AppearanceArgs>,
    /// Name of the new signature field (default: the first free SignatureN).
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
    /// /Reason of the signature dictionary (any Unicode text).
    #[arg(long)]
    pub reason: Option<String>,
    /// /Location of the signature dictionary.
    #[arg(long)]
    pub location: Option<String>,
    /// Bytes reserved for the CMS in /Contents.
    #[arg(long, value_name = "BYTES", default_value_t = pades::DEFAULT_CONTENTS_SIZE)]
    pub contents_size: usize,
    /// The PDF to sign.
    pub input: PathBuf,
    /// Where to write the signed PDF (written whole, then renamed into place).
    pub output: PathBuf,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub fn run(cmd: PdfCommand) -> Result<ExitCode> {
    match cmd {
        PdfCommand::Sign(args) => sign(args),
        PdfCommand::Verify(args) => verify(args),
    }
}

fn sign(args: SignArgs) -> Result<ExitCode> {
    let Level::BB = args.level;
    let certs = pades::load_certificates(&read(&args.cert, "certificate")?)
        .with_context(|| format!("{}", args.cert.display()))?;
    let Some(cert) = certs.first() else {
        bail!("{}: no certificate", args.cert.display());
    };
    let mut chain = Vec::new();
    for path in &args.chain {
        chain.extend(pades::load_certificates(&read(path, "chain")?).with_context(|| format!("{}", path.display()))?);
    }
    let pin = match &args.pin_file {
        Some(path) => {
            let text = String::from_utf8(read(path, "PIN file")?).context("the PIN file is not UTF-8")?;
            Some(text.lines().next().unwrap_or_default().to_string())
        }
        None => None,
    };
    let key = SigningKey::from_bytes(&read(&args.key, "key")?, pin.as_deref(), cert)
        .with_context(|| format!("{}", args.key.display()))?;
    let pdf = read(&args.input, "PDF")?;
    let opts = SignOptions {
        signing_time: SystemClock.now().with_timezone(&vietnam()),
        field_name: args.field,
        reason: args.reason,
        location: args.location,
        contents_size: args.contents_size,
        appearance: super::pdf_appearance::build(args.appearance, &args.look, cert)?,
    };
    let signed =
        pades::sign_pdf(&pdf, &key, cert, &chain, &opts).with_context(|| format!("{}", args.input.display()))?;
    let tmp = args.output.with_extension("vanthu-partial");
    std::fs::write(&tmp, &signed).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &args.output).with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "signed {} → {} (PAdES B-B, {} bytes)",
        args.input.display(),
        args.output.display(),
        signed.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let mut trust = Vec::new();
    for path in &args.trust {
        trust.extend(
            pades::load_certificates(&read(path, "trust anchor")?).with_context(|| format!("{}", path.display()))?,
        );
    }
    let mut crls = Vec::new();
    for path in &args.crl {
        crls.extend(pades::load_crls(&read(path, "CRL")?).with_context(|| format!("{}", path.display()))?);
    }
    let opts = VerifyOptions {
        trust,
        crls,
        at: SystemClock.now(),
        allow_unknown_revocation: args.no_revocation_check,
    };
    let report =
        pades::verify_pdf(&read(&args.input, "PDF")?, &opts).with_context(|| format!("{}", args.input.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for (i, s) in report.signatures.iter().enumerate() {
            println!(
                "signature {} [{}]: {:?} - signer {}; covers whole file: {}; revocation: {}",
                i + 1,
                s.field.as_deref().unwrap_or("?"),
                s.verdict,
                s.signer.as_deref().unwrap_or("?"),
                s.covers_whole_file,
                s.revocation
            );
            for r in &s.reasons {
                println!("  - {r}");
            }
        }
        println!("verdict: {:?}", report.verdict);
    }
    Ok(match report.verdict {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(1),
        Verdict::Indeterminate => ExitCode::from(2),
    })
}
