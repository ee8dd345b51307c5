//! `vanthu pki serve-test`: runs a test PKI's services (CRL and CA-certificate download, OCSP,
//! RFC 3161 time-stamping) on loopback, for tests and the demo. Needs no database.
//!
//! The folder holds, by the test PKI's conventions: `*.crl` and `*.cer` (served by name),
//! `ca/<ca>.index` (OpenSSL CA databases) with `<ca>.pem` beside them (the CA certificates the
//! OCSP responder answers for), `ocsp.pem` + `ocsp.key.pem` (the delegated responder; a CA it did
//! not issue signs its own answers with `<ca>.key.pem`), and `tsa.pem` + `tsa.key.pem`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::clock::SystemClock;
use crate::http::pki_test::{serve_pki_test, PkiTestState};
use crate::pades::{load_certificates, SigningKey};
use crate::pki::ca_index::CaIndex;
use crate::pki::ocsp::OcspAuthority;
use crate::pki::tsp::{Tsa, TEST_POLICY};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Serve a test PKI folder: CRLs and CA certificates (port base), OCSP (base+1), RFC 3161
    /// time-stamping (base+2). Runs until interrupted.
    ServeTest(ServeTestArgs),
}

#[derive(Debug, Args)]
pub struct ServeTestArgs {
    /// The test PKI folder.
    #[arg(long, value_name = "DIR")]
    pub certs: PathBuf,
    /// Address to listen on (loopback by default; the test certificates name 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_host: IpAddr,
    /// First of the three ports (files, OCSP, TSA). The test certificates name 18880–18882.
    #[arg(long, default_value_t = 18880)]
    pub port_base: u16,
}

pub fn run(cmd: PkiCommand) -> Result<ExitCode> {
    match cmd {
        PkiCommand::ServeTest(args) => serve_test(args),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn cert_at(path: &Path) -> Result<x509_cert::Certificate> {
    load_certificates(&read(path)?)
        .with_context(|| path.display().to_string())?
        .into_iter()
        .next()
        .with_context(|| format!("{}: no certificate", path.display()))
}

fn key_for(path: &Path, cert: &x509_cert::Certificate) -> Result<SigningKey> {
    SigningKey::from_bytes(&read(path)?, None, cert).with_context(|| path.display().to_string())
}

/// Loads the folder into the server's state.
pub fn load_state(dir: &Path) -> Result<PkiTestState> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if path.is_file() && (name.ends_with(".crl") || name.ends_with(".cer")) {
            files.insert(name, read(&path)?);
        }
    }
    let responder_path = dir.join("ocsp.pem");
    let mut responder = if responder_path.exists() {
        let cert = cert_at(&responder_path)?;
        let key = key_for(&dir.join("ocsp.key.pem"), &cert)?;
        Some((cert, key))
    } else {
        None
    };
    let mut ocsp = Vec::new();
    let mut ca_certs = Vec::new();
    let ca_dir = dir.join("ca");
    let mut indexes: Vec<PathBuf> = match std::fs::read_dir(&ca_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "index"))
            .collect(),
        Err(_) => Vec::new(),
    };
    indexes.sort();
    for index_path in indexes {
        let Some(stem) = index_path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let ca_path = dir.join(format!("{stem}.pem"));
        if !ca_path.exists() {
            continue;
        }
        let ca = cert_at(&ca_path)?;
        ca_certs.push(ca.clone());
        let index = CaIndex::parse(&String::from_utf8_lossy(&read(&index_path)?));
        let delegated = responder
            .as_ref()
            .is_some_and(|(cert, _)| cert.tbs_certificate.issuer == ca.tbs_certificate.subject);
        let (signer_cert, signer_key) = if delegated {
            match responder.take() {
                Some(pair) => pair,
                None => continue,
            }
        } else {
            let key_path = dir.join(format!("{stem}.key.pem"));
            if !key_path.exists() {
                continue;
            }
            (ca.clone(), key_for(&key_path, &ca)?)
        };
        ocsp.push(OcspAuthority {
            ca,
            index,
            signer_cert,
            signer_key,
        });
    }
    let tsa_path = dir.join("tsa.pem");
    let tsa = if tsa_path.exists() {
        let cert = cert_at(&tsa_path)?;
        let key = key_for(&dir.join("tsa.key.pem"), &cert)?;
        // The chain sent with tokens: the TSA's issuer and up, from the CA certificates.
        let mut chain = Vec::new();
        let mut current = cert.clone();
        while let Some(issuer) = ca_certs
            .iter()
            .find(|c| c.tbs_certificate.subject == current.tbs_certificate.issuer && **c != current)
        {
            chain.push(issuer.clone());
            if chain.len() > 8 || issuer.tbs_certificate.subject == issuer.tbs_certificate.issuer {
                break;
            }
            current = issuer.clone();
        }
        Some(Tsa {
            key,
            cert,
            chain,
            policy: TEST_POLICY,
        })
    } else {
        None
    };
    if files.is_empty() && ocsp.is_empty() && tsa.is_none() {
        bail!("{}: no CRLs, CA databases or TSA found", dir.display());
    }
    Ok(PkiTestState {
        files,
        ocsp,
        tsa,
        clock: Arc::new(SystemClock),
    })
}

fn serve_test(args: ServeTestArgs) -> Result<ExitCode> {
    let state = load_state(&args.certs)?;
    let ports = [
        args.port_base,
        args.port_base.wrapping_add(1),
        args.port_base.wrapping_add(2),
    ];
    if ports[0] > u16::MAX - 2 {
        bail!("--port-base must leave room for three ports");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for port in ports {
            let addr = SocketAddr::new(args.listen_host, port);
            listeners.push(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?,
            );
        }
        let [files, ocsp, tsa] =
            <[tokio::net::TcpListener; 3]>::try_from(listeners).map_err(|_| anyhow::anyhow!("listeners"))?;
        let host = args.listen_host;
        println!(
            "test PKI: files http://{host}:{}/ · OCSP http://{host}:{}/ ({} CAs) · TSA http://{host}:{}/{}",
            ports[0],
            ports[1],
            state.ocsp.len(),
            ports[2],
            if state.tsa.is_some() { "" } else { " (none)" }
        );
        serve_pki_test(state, files, ocsp, tsa, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })
}
