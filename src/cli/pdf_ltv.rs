//! The network side of `vanthu pdf sign --level b-t|b-lt|b-lta`: the RFC 3161 request to
//! `--tsa`, and the OCSP/CRL/caIssuers fetches for the DSS. The PDF work is `pades::ltv` (pure).

use anyhow::{Context, Result};
use x509_cert::Certificate;

use crate::pades::ltv::{self, Fetch};
use crate::pades::{PadesError, PadesResult, SignOptions, SigningKey};
use crate::pki::client::HttpClient;
use crate::pki::tsp;

use super::pdf::Level;

struct ClientFetch<'a>(&'a HttpClient);

impl Fetch for ClientFetch<'_> {
    fn get(&mut self, url: &str) -> Result<Vec<u8>, String> {
        self.0.get(url).map_err(|e| e.to_string())
    }
    fn post(&mut self, url: &str, content_type: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
        self.0.post(url, content_type, body).map_err(|e| e.to_string())
    }
}

fn nonce() -> Vec<u8> {
    rand::random::<[u8; 16]>().to_vec()
}

/// Signs at B-T, B-LT or B-LTA with the TSA at `tsa_url`.
pub(super) fn sign_at_level(
    pdf: Vec<u8>,
    key: &SigningKey,
    cert: &Certificate,
    chain: &[Certificate],
    opts: &SignOptions,
    level: Level,
    tsa_url: Option<&str>,
) -> Result<Vec<u8>> {
    let url = tsa_url.context("--level b-t, b-lt and b-lta need --tsa URL (an RFC 3161 time-stamping service)")?;
    let client = HttpClient::new()?;
    let mut stamper = |imprint: &[u8]| -> PadesResult<Vec<u8>> {
        let nonce = nonce();
        let req = tsp::request(imprint, &nonce).map_err(|e| PadesError::Timestamp(e.to_string()))?;
        let resp = client
            .post(url, "application/timestamp-query", req)
            .map_err(|e| PadesError::Timestamp(e.to_string()))?;
        tsp::token_from_response(&resp, imprint, &nonce).map_err(|e| PadesError::Timestamp(e.to_string()))
    };
    let signed = ltv::sign_pdf_timestamped(pdf, key, cert, chain, opts, &mut stamper)?;
    if level == Level::BT {
        return Ok(signed);
    }
    let data = ltv::gather_validation_data(&signed, chain, &mut ClientFetch(&client), &mut nonce)?;
    let signed = ltv::add_dss(signed, &data)?;
    if level == Level::Blt {
        return Ok(signed);
    }
    let mut ts_opts = SignOptions::at(opts.signing_time);
    ts_opts.contents_size = opts.contents_size;
    Ok(ltv::add_document_timestamp(signed, &ts_opts, &mut stamper)?)
}

/// `vanthu pdf verify --online`: the OCSP responses, CRLs and issuer certificates the file's
/// certificates point to, fetched now (best effort), and what could not be had.
pub(super) fn fetch_online(pdf: &[u8]) -> Result<(ltv::ValidationData, Vec<String>)> {
    let client = HttpClient::new()?;
    Ok(ltv::fetch_validation_data(pdf, &mut ClientFetch(&client), &mut nonce)?)
}
