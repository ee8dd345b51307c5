//! `vanthu pdf …`: PAdES signing from the command line. Needs no database or configuration.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use zeroize::Zeroizing;

use crate::clock::{vietnam, Clock, SystemClock};
use crate::pades::{self, external, SignOptions, SigningKey, Verdict, VerifyOptions};

#[derive(Debug, Subcommand)]
pub enum PdfCommand {
    /// Sign a PDF by incremental update (earlier signatures stay valid).
    Sign(SignArgs),
    /// External signing, step 1: write the update and the data a token or remote service must
    /// sign (`to-sign.der`: the DER signed attributes; `hash_to_sign`: their SHA-256) into a
    /// handle folder.
    Prepare(PrepareArgs),
    /// External signing, step 2: check the signer's answer (a raw signature or a whole CMS)
    /// against the handle and embed it. A handle is used once and expires.
    Complete(CompleteArgs),
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
    /// Also fetch OCSP responses, CRLs and issuer certificates from the URLs the certificates
    /// name (best effort; they count for revocation, not towards B-LT).
    #[arg(long)]
    pub online: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The PDF to verify.
    pub input: PathBuf,
}

/// Signature levels this build can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Level {
    /// PAdES baseline B-B: CMS with signing-certificate-v2, no timestamp.
    #[value(name = "b-b")]
    BB,
    /// B-B plus a signature time-stamp from the --tsa service.
    #[value(name = "b-t")]
    BT,
    /// B-T plus a DSS with the certificates and OCSP responses/CRLs for offline validation.
    #[value(name = "b-lt")]
    Blt,
    /// B-LT plus a document time-stamp.
    #[value(name = "b-lta")]
    Blta,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::BB => "B-B",
            Level::BT => "B-T",
            Level::Blt => "B-LT",
            Level::Blta => "B-LTA",
        }
    }
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
    #[arg(long, value_name = "FILE", required_unless_present = "p12", conflicts_with = "p12")]
    pub key: Option<PathBuf>,
    /// PKCS#12 (.p12/.pfx) holding the key, the certificate and its chain; needs --pin-file.
    #[arg(long, value_name = "FILE", requires = "pin_file")]
    pub p12: Option<PathBuf>,
    /// File holding the first line of the PIN that unlocks an encrypted key or a PKCS#12 file.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// The signer's certificate (PEM or DER); with --p12, taken from the file unless given.
    #[arg(long, value_name = "FILE", required_unless_present = "p12")]
    pub cert: Option<PathBuf>,
    /// Intermediate (and root) certificates to embed; PEM files may hold several. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "b-b")]
    pub level: Level,
    /// RFC 3161 time-stamping service (needed for b-t, b-lt and b-lta).
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
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
    /// Certify the document (DocMDP) with permission level P: 1 = no changes, 2 = form filling
    /// and signing pre-created fields, 3 = also annotations. Only a document's first signature
    /// may certify it.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub certify: Option<u8>,
    /// Bytes reserved for the CMS in /Contents.
    #[arg(long, value_name = "BYTES", default_value_t = pades::DEFAULT_CONTENTS_SIZE)]
    pub contents_size: usize,
    /// The PDF to sign.
    pub input: PathBuf,
    /// Where to write the signed PDF (written whole, then renamed into place).
    pub output: PathBuf,
}

/// The first certificate in a PEM or DER file.
fn first_certificate(path: &Path) -> Result<x509_cert::Certificate> {
    let certs = pades::load_certificates(&read(path, "certificate")?).with_context(|| format!("{}", path.display()))?;
    match certs.into_iter().next() {
        Some(c) => Ok(c),
        None => bail!("{}: no certificate", path.display()),
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub fn run(cmd: PdfCommand) -> Result<ExitCode> {
    match cmd {
        PdfCommand::Sign(args) => sign(args),
        PdfCommand::Prepare(args) => prepare(args),
        PdfCommand::Complete(args) => complete(args),
        PdfCommand::Verify(args) => verify(args),
    }
}

fn sign(args: SignArgs) -> Result<ExitCode> {
    let pin = match &args.pin_file {
        Some(path) => {
            let text = Zeroizing::new(String::from_utf8(read(path, "PIN file")?).context("the PIN file is not UTF-8")?);
            Some(Zeroizing::new(text.lines().next().unwrap_or_default().to_string()))
        }
        None => None,
    };
    let mut chain = load_chain(&args.chain)?;
    let (key, cert) = match (&args.p12, &args.key) {
        (Some(p12), _) => {
            let bundle = pades::from_pkcs12(&read(p12, "PKCS#12 file")?, pin.as_deref().map_or("", |p| p.as_str()))
                .with_context(|| format!("{}", p12.display()))?;
            let cert = match &args.cert {
                Some(path) => first_certificate(path)?,
                None => bundle.cert,
            };
            chain.extend(bundle.chain);
            (bundle.key, cert)
        }
        (None, Some(key_path)) => {
            let Some(cert_path) = &args.cert else {
                bail!("--cert is needed with --key");
            };
            let cert = first_certificate(cert_path)?;
            let key = SigningKey::from_bytes(&read(key_path, "key")?, pin.as_deref().map(|p| p.as_str()), &cert)
                .with_context(|| format!("{}", key_path.display()))?;
            (key, cert)
        }
        (None, None) => bail!("give --key and --cert, or --p12"),
    };
    let cert = &cert;
    let pdf = read(&args.input, "PDF")?;
    let opts = SignOptions {
        signing_time: SystemClock.now().with_timezone(&vietnam()),
        field_name: args.field,
        reason: args.reason,
        location: args.location,
        contents_size: args.contents_size,
        appearance: super::pdf_appearance::build(args.appearance, &args.look, cert)?,
        certify: certify_level(args.certify),
    };
    let signed = match args.level {
        // By value: the file becomes the output's prefix without a second copy in memory.
        Level::BB => pades::sign_pdf_owned(pdf, &key, cert, &chain, &opts).map_err(anyhow::Error::from),
        level => super::pdf_ltv::sign_at_level(pdf, &key, cert, &chain, &opts, level, args.tsa.as_deref()),
    }
    .with_context(|| format!("{}", args.input.display()))?;
    write_atomically(&args.output, &signed)?;
    println!(
        "signed {} → {} (PAdES {}{}, {} bytes)",
        args.input.display(),
        args.output.display(),
        args.level.name(),
        args.certify.map(|p| format!(", certified P={p}")).unwrap_or_default(),
        signed.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// The signer's certificate (PEM or DER); the key stays with the external signer.
    #[arg(long, value_name = "FILE")]
    pub cert: PathBuf,
    /// Intermediate (and root) certificates to embed. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    /// Folder for the handle (`handle.json`, `prepared.pdf`, `to-sign.der`); created if missing.
    #[arg(long, value_name = "DIR")]
    pub handle: PathBuf,
    /// How long the handle stays usable, in seconds (at most 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub ttl: i64,
    /// Name of the new signature field (default: the first free SignatureN).
    #[arg(long, value_name = "NAME")]
    pub field: Option<String>,
    /// A visible signature, drawn now and signed by the external signer with the rest.
    #[arg(long, value_enum, default_value = "none")]
    pub appearance: Appearance,
    #[command(flatten)]
    pub look: Box<super::pdf_appearance::AppearanceArgs>,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub location: Option<String>,
    /// Certify the document (DocMDP) with permission level P: 1 = no changes, 2 = form filling
    /// and signing pre-created fields, 3 = also annotations. Only a document's first signature
    /// may certify it.
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u8).range(1..=3))]
    pub certify: Option<u8>,
    /// Bytes reserved for the CMS in /Contents.
    #[arg(long, value_name = "BYTES", default_value_t = pades::DEFAULT_CONTENTS_SIZE)]
    pub contents_size: usize,
    /// The PDF to sign.
    pub input: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("answer").required(true).args(["signature", "cms"])))]
pub struct CompleteArgs {
    /// The folder `vanthu pdf prepare` wrote.
    #[arg(long, value_name = "DIR")]
    pub handle: PathBuf,
    /// A raw signature over `to-sign.der` (RSA PKCS#1 v1.5 or PSS, ECDSA DER or r‖s), binary,
    /// base64 or hex.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// A complete detached CMS (DER, PEM or base64) over the document's byte range.
    #[arg(long, value_name = "FILE")]
    pub cms: Option<PathBuf>,
    /// Where to write the signed PDF.
    pub output: PathBuf,
}

const HANDLE_JSON: &str = "handle.json";
const PREPARED_PDF: &str = "prepared.pdf";
const TO_SIGN: &str = "to-sign.der";

fn certify_level(p: Option<u8>) -> Option<pades::MdpPerm> {
    p.and_then(|p| pades::MdpPerm::from_level(i64::from(p)))
}

fn load_chain(paths: &[PathBuf]) -> Result<Vec<x509_cert::Certificate>> {
    let mut chain = Vec::new();
    for path in paths {
        chain.extend(pades::load_certificates(&read(path, "chain")?).with_context(|| format!("{}", path.display()))?);
    }
    Ok(chain)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("vanthu-partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn prepare(args: PrepareArgs) -> Result<ExitCode> {
    let cert = &first_certificate(&args.cert)?;
    let chain = load_chain(&args.chain)?;
    let now = SystemClock.now();
    let opts = SignOptions {
        signing_time: now.with_timezone(&vietnam()),
        field_name: args.field,
        reason: args.reason,
        location: args.location,
        contents_size: args.contents_size,
        appearance: super::pdf_appearance::build(args.appearance, &args.look, cert)?,
        certify: certify_level(args.certify),
    };
    let prepared = external::prepare(
        read(&args.input, "PDF")?,
        cert,
        &chain,
        &opts,
        now,
        chrono::Duration::seconds(args.ttl),
    )
    .with_context(|| format!("{}", args.input.display()))?;
    std::fs::create_dir_all(&args.handle).with_context(|| format!("cannot create {}", args.handle.display()))?;
    let to_sign = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &prepared.handle.signed_attributes,
    )
    .context("internal: signed attributes are not base64")?;
    write_atomically(&args.handle.join(PREPARED_PDF), &prepared.pdf)?;
    write_atomically(&args.handle.join(TO_SIGN), &to_sign)?;
    write_atomically(
        &args.handle.join(HANDLE_JSON),
        serde_json::to_string_pretty(&prepared.handle)?.as_bytes(),
    )?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "handle": prepared.handle.id,
            "expires_at": prepared.handle.expires_at,
            "to_sign": args.handle.join(TO_SIGN),
            "hash_to_sign": prepared.handle.hash_to_sign,
            "document_digest": prepared.handle.document_digest,
        }))?
    );
    Ok(ExitCode::SUCCESS)
}

fn certification_text(p: u8) -> &'static str {
    match p {
        1 => "no changes allowed",
        2 => "form filling and signing allowed",
        _ => "form filling, signing and annotations allowed",
    }
}

/// Binary as given, or decoded from PEM, hex or base64 text.
fn decode_answer(bytes: Vec<u8>) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bytes;
    };
    if text.contains("-----BEGIN") {
        if let Ok(blocks) = pades::keys::pem_blocks(text.as_bytes()) {
            if let Some((_, der)) = blocks.into_iter().next() {
                return der;
            }
        }
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return bytes;
    }
    if compact.len() % 2 == 0 && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        if let Ok(b) = hex::decode(&compact) {
            return b;
        }
    }
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &compact).unwrap_or(bytes)
}

fn complete(args: CompleteArgs) -> Result<ExitCode> {
    let handle_path = args.handle.join(HANDLE_JSON);
    let handle: external::Handle = serde_json::from_slice(&read(&handle_path, "handle")?)
        .with_context(|| format!("{} is not a signing handle", handle_path.display()))?;
    let pdf = read(&args.handle.join(PREPARED_PDF), "prepared PDF")?;
    let answer = match (&args.signature, &args.cms) {
        (Some(path), _) => external::ExternalSignature::Raw(decode_answer(read(path, "signature")?)),
        (None, Some(path)) => external::ExternalSignature::Cms(decode_answer(read(path, "CMS")?)),
        (None, None) => bail!("give --signature or --cms"),
    };
    let signed = external::complete(&handle, pdf, &answer, SystemClock.now())
        .with_context(|| format!("{}", args.handle.display()))?;
    write_atomically(&args.output, &signed)?;
    // A handle is used once.
    for name in [HANDLE_JSON, PREPARED_PDF, TO_SIGN] {
        let _ = std::fs::remove_file(args.handle.join(name));
    }
    let _ = std::fs::remove_dir(&args.handle);
    println!(
        "signed → {} (PAdES B-B, external signer, {} bytes)",
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
    let pdf = read(&args.input, "PDF")?;
    let (extra, unavailable) = if args.online {
        super::pdf_ltv::fetch_online(&pdf).with_context(|| format!("{}", args.input.display()))?
    } else {
        Default::default()
    };
    let report =
        pades::verify::verify_pdf_with(&pdf, &opts, &extra).with_context(|| format!("{}", args.input.display()))?;
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
            if let Some(level) = &s.level {
                println!("  level: PAdES {level}");
            }
            if let Some(p) = s.certification {
                println!("  certification: DocMDP P={p} ({})", certification_text(p));
            }
            if let Some(ts) = &s.timestamp {
                println!(
                    "  time-stamp: {} by {}; TSA revocation: {}",
                    ts.time, ts.tsa, ts.revocation
                );
            }
            for r in &s.reasons {
                println!("  - {r}");
            }
        }
        for r in &report.reasons {
            println!("document: {r}");
        }
        for problem in &unavailable {
            println!("online: {problem}");
        }
        println!("verdict: {:?}", report.verdict);
    }
    Ok(match report.verdict {
        Verdict::Valid => ExitCode::SUCCESS,
        Verdict::Invalid => ExitCode::from(1),
        Verdict::Indeterminate => ExitCode::from(2),
    })
}
