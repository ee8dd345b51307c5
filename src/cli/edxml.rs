//! `vanthu edxml parse|build|check`: the edXML codec on files. No configuration, no database.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use crate::clock::{Clock, SystemClock};
use crate::edxml::{self, dsig, Attachment, AttachmentSink, AttachmentSource, DiscardSink, Limits, Packet, Transfer};
use crate::model::agency_code::AgencyCode;
use crate::pades;

#[derive(Debug, Subcommand)]
pub enum EdxmlCommand {
    /// Parse a packet: JSON of the model to stdout; attachments written under --out.
    Parse {
        file: PathBuf,
        /// Folder for the decoded attachments (created if missing; safe file names only).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Largest decoded attachment accepted, in MiB.
        #[arg(long, value_name = "MIB", default_value_t = 512)]
        max_attachment_mib: u64,
        /// Skip an attachment whose base64 or zip is broken (it is listed without a size, and
        /// a warning goes to stderr) instead of failing.
        #[arg(long)]
        skip_undecodable: bool,
    },
    /// Build a packet from the JSON that `parse` prints; edXML to stdout.
    Build {
        spec: PathBuf,
        /// Attachment files, in the order of the spec's `attachments` (or, when the spec has
        /// none, each file becomes one attachment).
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
        #[command(flatten)]
        sign: SignArgs,
    },
    /// Say what is wrong or unusual in a packet, one line each; exit 0 when it is usable.
    Check { file: PathBuf },
    /// Verify a packet's XML signature; exit 0 when valid and trusted (1: invalid,
    /// 2: indeterminate, no signature or unreadable).
    Verify(VerifyArgs),
}

/// Signing a packet while building it (enveloped XMLDSig over the whole packet).
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The signer's private key (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1; PEM or DER).
    #[arg(long, value_name = "KEY", requires = "sign_cert")]
    sign_key: Option<PathBuf>,
    /// The signer's certificate (PEM or DER).
    #[arg(long, value_name = "CERT", requires = "sign_key")]
    sign_cert: Option<PathBuf>,
    /// Intermediate certificates to put in KeyInfo after the signer's. Repeatable.
    #[arg(long, value_name = "FILE", requires = "sign_key")]
    sign_chain: Vec<PathBuf>,
    /// File holding the first line of the PIN that unlocks an encrypted key.
    #[arg(long, value_name = "FILE", requires = "sign_key")]
    pin_file: Option<PathBuf>,
    /// Canonicalization of the signature.
    #[arg(long, value_enum, default_value = "inclusive", requires = "sign_key")]
    sign_c14n: C14nArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum C14nArg {
    /// Canonical XML 1.0 (what EdXML102 names).
    Inclusive,
    /// Exclusive XML Canonicalization 1.0.
    Exclusive,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    file: PathBuf,
    /// Trust anchors (PEM or DER certificates). Repeatable; at least one.
    #[arg(long, value_name = "FILE", required = true)]
    trust: Vec<PathBuf>,
    /// CRLs to check revocation against (PEM or DER). Repeatable.
    #[arg(long, value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// Accept an unknown revocation status (the report still says it is unknown).
    #[arg(long)]
    no_revocation_check: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: EdxmlCommand) -> Result<ExitCode> {
    match cmd {
        EdxmlCommand::Parse {
            file,
            out,
            max_attachment_mib,
            skip_undecodable,
        } => {
            let limits = Limits {
                max_attachment_bytes: max_attachment_mib << 20,
                skip_undecodable,
                ..Limits::default()
            };
            parse(&file, out.as_deref(), &limits)
        }
        EdxmlCommand::Build { spec, attach, sign } => build(&spec, &attach, &sign),
        EdxmlCommand::Check { file } => check(&file),
        EdxmlCommand::Verify(args) => verify(&args),
    }
}

fn open(path: &Path) -> Result<BufReader<File>> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(256 * 1024, f))
}

/// Writes each attachment to `dir/<safe name>`; a name used twice gets its index in front.
/// A failed attachment's file is removed.
struct DirSink {
    dir: PathBuf,
    written: Vec<(usize, PathBuf)>,
}

impl AttachmentSink for DirSink {
    fn open(&mut self, index: usize, meta: &Attachment) -> io::Result<Box<dyn Write + '_>> {
        let base = meta
            .name
            .as_deref()
            .and_then(|n| edxml::safe_file_name(n).ok())
            .unwrap_or_else(|| format!("attachment-{index}"));
        let mut path = self.dir.join(&base);
        if self.written.iter().any(|(_, p)| p == &path) {
            path = self.dir.join(format!("{index}-{base}"));
        }
        let file = File::create(&path)?;
        self.written.push((index, path));
        Ok(Box::new(BufWriter::with_capacity(256 * 1024, file)))
    }

    fn discard(&mut self, index: usize) -> io::Result<()> {
        if let Some(pos) = self.written.iter().position(|(i, _)| *i == index) {
            let (_, path) = self.written.remove(pos);
            std::fs::remove_file(path)?;
        }
        Ok(())
    }
}

fn parse(file: &Path, out: Option<&Path>, limits: &Limits) -> Result<ExitCode> {
    let input = open(file)?;
    let parsed = match out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut sink = DirSink {
                dir: dir.to_path_buf(),
                written: Vec::new(),
            };
            let result = edxml::parse(input, &mut sink, limits);
            if result.is_err() {
                for (_, path) in sink.written.drain(..) {
                    let _ = std::fs::remove_file(path);
                }
            }
            result
        }
        None => edxml::parse(input, &mut DiscardSink, limits),
    }
    .with_context(|| format!("cannot parse {}", file.display()))?;
    if limits.skip_undecodable {
        for w in parsed.warnings.iter().filter(|w| w.0.ends_with("attachment skipped")) {
            eprintln!("vanthu: warning: {w}");
        }
    }
    // The model, plus whether a Signature element (xmldsig or edXML namespace) is present;
    // `build` ignores that key, so the output still builds.
    let json = ParseOutput {
        packet: &parsed.packet,
        signature_present: parsed.signature_present,
    };
    let stdout = io::stdout();
    let mut w = stdout.lock();
    serde_json::to_writer_pretty(&mut w, &json)?;
    writeln!(w)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct ParseOutput<'a> {
    #[serde(flatten)]
    packet: &'a Packet,
    /// A `Signature` element is present (not verified; `vanthu edxml verify` does that).
    signature_present: bool,
}

/// The content type EdXML102 gives a file by its extension, else `application/octet-stream`.
fn content_type_for(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let t = match lower.rsplit_once('.').map(|(_, e)| e) {
        Some("pdf") => "application/pdf",
        Some("doc") => "application/doc",
        Some("docx") => "application/docx",
        Some("xsl") => "application/xsl",
        Some("xslx") => "application/xslx",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    };
    t.to_string()
}

fn build(spec: &Path, attach: &[PathBuf], sign: &SignArgs) -> Result<ExitCode> {
    let mut packet: Packet =
        serde_json::from_reader(open(spec)?).with_context(|| format!("{} is not a packet spec", spec.display()))?;
    let mut sources: Vec<AttachmentSource<'_>> = Vec::new();
    match &mut packet {
        Packet::Document(d) => {
            if d.attachments.is_empty() {
                for path in attach {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .with_context(|| format!("{} has no file name", path.display()))?;
                    d.attachments.push(Attachment {
                        content_id: Some(uuid::Uuid::new_v4().to_string()),
                        content_type: Some(content_type_for(&name)),
                        name: Some(name),
                        transfer: Transfer::Raw,
                        ..Attachment::default()
                    });
                }
            } else if d.attachments.len() != attach.len() {
                bail!(
                    "the spec describes {} attachment(s) but {} --attach file(s) were given",
                    d.attachments.len(),
                    attach.len()
                );
            }
        }
        Packet::Status(_) => {
            if !attach.is_empty() {
                bail!("a status packet carries no attachments");
            }
        }
    }
    if let (Some(key), Some(cert)) = (&sign.sign_key, &sign.sign_cert) {
        return build_signed(&packet, attach, key, cert, sign);
    }
    for path in attach {
        sources.push(Box::new(open(path)?));
    }
    let stdout = io::stdout();
    let w = BufWriter::with_capacity(256 * 1024, stdout.lock());
    edxml::build(&packet, sources, w).context("cannot build the packet")?;
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

fn build_signed(packet: &Packet, attach: &[PathBuf], key: &Path, cert: &Path, sign: &SignArgs) -> Result<ExitCode> {
    let certs = pades::load_certificates(&read(cert, "certificate")?).with_context(|| format!("{}", cert.display()))?;
    let cert = certs.first().context("no certificate")?;
    let mut chain = Vec::new();
    for path in &sign.sign_chain {
        chain.extend(pades::load_certificates(&read(path, "chain")?).with_context(|| format!("{}", path.display()))?);
    }
    let pin = match &sign.pin_file {
        Some(path) => {
            let text = String::from_utf8(read(path, "PIN file")?).context("the PIN file is not UTF-8")?;
            Some(text.lines().next().unwrap_or_default().to_string())
        }
        None => None,
    };
    let key = pades::SigningKey::from_bytes(&read(key, "key")?, pin.as_deref(), cert)
        .with_context(|| format!("{}", key.display()))?;
    let params = dsig::SignParams {
        key: &key,
        cert,
        chain: &chain,
        c14n: match sign.sign_c14n {
            C14nArg::Inclusive => dsig::C14nMethod::Inclusive,
            C14nArg::Exclusive => dsig::C14nMethod::Exclusive,
        },
        at: SystemClock.now(),
    };
    let mut open_source = |i: usize| -> io::Result<AttachmentSource<'static>> {
        let path = attach
            .get(i)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no --attach file for attachment {i}")))?;
        let f = File::open(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Box::new(BufReader::with_capacity(256 * 1024, f)))
    };
    let stdout = io::stdout();
    let w = BufWriter::with_capacity(256 * 1024, stdout.lock());
    dsig::build_signed(packet, &mut open_source, &params, w).context("cannot build the signed packet")?;
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> Result<ExitCode> {
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
    let opts = pades::VerifyOptions {
        trust,
        crls,
        at: SystemClock.now(),
        allow_unknown_revocation: args.no_revocation_check,
    };
    let report = match dsig::verify_packet(open(&args.file)?, &opts, &Limits::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vanthu: error: {}: {e}", args.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let yes_no = |b: Option<bool>| match b {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not checked",
        };
        println!(
            "signature: namespace {}; {}; {}",
            report.signature_namespace.as_deref().unwrap_or("(none)"),
            report.signature_method.as_deref().unwrap_or("?"),
            report.canonicalization.as_deref().unwrap_or("?")
        );
        println!(
            "digest matches: {}; signature value verifies: {}",
            yes_no(report.digest_matches),
            yes_no(report.signature_matches)
        );
        println!("signer: {}", report.signer.as_deref().unwrap_or("?"));
        if !report.certificate_path.is_empty() {
            println!("path: {}", report.certificate_path.join(" <- "));
        }
        println!("revocation: {}", report.revocation);
        for r in &report.reasons {
            println!("  - {r}");
        }
        println!("verdict: {:?}", report.verdict);
    }
    Ok(match report.verdict {
        pades::Verdict::Valid => ExitCode::SUCCESS,
        pades::Verdict::Invalid => ExitCode::from(1),
        pades::Verdict::Indeterminate => ExitCode::from(2),
    })
}

fn check(file: &Path) -> Result<ExitCode> {
    let limits = Limits {
        skip_undecodable: true,
        ..Limits::default()
    };
    let parsed = edxml::parse(open(file)?, &mut DiscardSink, &limits)
        .with_context(|| format!("{} is not usable", file.display()))?;
    let mut lines: Vec<String> = parsed.warnings.iter().map(|w| format!("warning: {w}")).collect();
    if parsed.signature_present {
        lines.push("note: the packet carries a Signature (not verified)".into());
    }
    if let Err(e) = edxml::check_required(&parsed.packet) {
        lines.push(format!("warning: {e}"));
    }
    let mut organ_ids = Vec::new();
    let summary = match &parsed.packet {
        Packet::Document(d) => {
            organ_ids.push(("From", d.from.organ_id.clone()));
            organ_ids.extend(d.to.iter().map(|t| ("To", t.organ_id.clone())));
            let missing = d.attachments.iter().filter(|a| a.size.is_none()).count();
            if missing > 0 {
                lines.push(format!("warning: {missing} attachment(s) without usable content"));
            }
            format!(
                "ok: document packet, business type {}, {} receiver(s), {} attachment(s)",
                i64::from(d.business_doc_type()),
                d.to.len(),
                d.attachments.len()
            )
        }
        Packet::Status(s) => {
            organ_ids.push(("From", s.from.organ_id.clone()));
            organ_ids.push(("ResponseFor", s.response_for.organ_id.clone()));
            if let edxml::StatusCode::Other(code) = &s.status_code {
                lines.push(format!("warning: unknown status code {code:?}"));
            }
            format!(
                "ok: status packet {} ({})",
                s.status_code.as_str(),
                s.status_code.meaning()
            )
        }
    };
    for (what, id) in organ_ids {
        match id {
            None => lines.push(format!("warning: {what}/OrganId is missing")),
            Some(id) => {
                if AgencyCode::parse(&id).is_err() {
                    lines.push(format!(
                        "warning: {what}/OrganId {id:?} is not a QCVN 102 or QĐ 20 identifier"
                    ));
                }
            }
        }
    }
    let stdout = io::stdout();
    let mut w = stdout.lock();
    for l in lines {
        writeln!(w, "{l}")?;
    }
    writeln!(w, "{summary}")?;
    Ok(ExitCode::SUCCESS)
}
