//! The HTTP side of OCSP, CRL, caIssuers and time-stamp requests (blocking calls on a private
//! current-thread runtime; for the CLI). Answers are bounded in size and time.

use std::time::Duration;

use super::{PkiError, PkiResult};

/// Largest answer accepted (a CRL can be large; a token or OCSP response is a few KB).
const MAX_BODY: usize = 16 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(15);

pub struct HttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

fn http(e: impl std::fmt::Display) -> PkiError {
    PkiError::Http(e.to_string())
}

impl HttpClient {
    pub fn new() -> PkiResult<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(http)?;
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()
            .map_err(http)?;
        Ok(Self { client, runtime })
    }

    fn check_url(url: &str) -> PkiResult<()> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(())
        } else {
            Err(PkiError::Http(format!("unsupported URL {url}")))
        }
    }

    async fn body(resp: reqwest::Response, url: &str) -> PkiResult<Vec<u8>> {
        if !resp.status().is_success() {
            return Err(PkiError::Http(format!("{url} answered {}", resp.status())));
        }
        if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
            return Err(PkiError::Http(format!("{url}: the answer is too large")));
        }
        let mut resp = resp;
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if out.len() + chunk.len() > MAX_BODY {
                return Err(PkiError::Http(format!("{url}: the answer is too large")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    pub fn get(&self, url: &str) -> PkiResult<Vec<u8>> {
        Self::check_url(url)?;
        self.runtime.block_on(async {
            let resp = self
                .client
                .get(url)
                .send()
                .await
                .map_err(|e| PkiError::Http(format!("{url}: {e}")))?;
            Self::body(resp, url).await
        })
    }

    pub fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> PkiResult<Vec<u8>> {
        Self::check_url(url)?;
        self.runtime.block_on(async {
            let resp = self
                .client
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .map_err(|e| PkiError::Http(format!("{url}: {e}")))?;
            Self::body(resp, url).await
        })
    }
}
