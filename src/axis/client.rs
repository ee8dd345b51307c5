//! `AxisClient`: the operator SDK's calls over HTTP, signed per brief §6.3, with retries
//! (exponential backoff with jitter) on network errors and 5xx answers. Sends are therefore
//! at-least-once; receivers recognise duplicates (see [`super::receive`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use rand::Rng;
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::protocol::{
    self, codes, AckStatus, Agency, AgencyRegistration, Envelope, MessageType, ReceivedItem, SentRow, SERVICE_TYPE,
    USER_AGENT,
};
use crate::clock::{vietnam, Clock};
use crate::config::Secret;

/// How hard the client tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, with full jitter in its upper half.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (0-based): `base · 2^retry`, capped, jittered into
    /// `[d/2, d]`.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let full = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// The axis endpoint including its base path.
    pub url: String,
    pub system_id: String,
    pub secret: Secret,
    pub retry: RetryPolicy,
    /// Per attempt.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The axis answered with a failure envelope.
    #[error("the axis refused {endpoint}: ErrorCode {code}: {desc}")]
    Refused {
        endpoint: String,
        code: String,
        desc: String,
    },
    /// Every attempt failed on the network or with a 5xx.
    #[error("{endpoint} failed after {attempts} attempts: {last}")]
    Unavailable {
        endpoint: String,
        attempts: u32,
        last: String,
    },
    /// The answer was not what the protocol promises.
    #[error("unexpected answer from {endpoint}: {message}")]
    Protocol { endpoint: String, message: String },
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A client of the national document axis (or of the mock).
#[derive(Clone, Debug)]
pub struct AxisClient {
    http: reqwest::Client,
    url: String,
    system_id: String,
    secret: Secret,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

enum Attempt {
    Done(Envelope),
    Retry(String),
}

impl AxisClient {
    pub fn new(settings: ClientSettings, clock: Arc<dyn Clock>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        if settings.system_id.trim().is_empty() {
            return Err(ClientError::Invalid("the system id is empty".into()));
        }
        Ok(Self {
            http,
            url: settings.url.trim_end_matches('/').to_owned(),
            system_id: settings.system_id.trim().to_owned(),
            secret: settings.secret,
            retry: settings.retry,
            clock,
        })
    }

    pub fn system_id(&self) -> &str {
        &self.system_id
    }

    /// `sendEdoc`: uploads a packet; returns the axis DocId. The body is the file plus CRLF and
    /// `hash-file` its SHA-256 in the SDK's encoding, as the operator's SDK sends them.
    pub async fn send_edoc(&self, packet: &[u8], message_type: MessageType, from: &str) -> Result<String, ClientError> {
        let mut body = Vec::with_capacity(packet.len() + 2);
        body.extend_from_slice(packet);
        body.extend_from_slice(b"\r\n");
        let params = vec![
            ("servicetype", SERVICE_TYPE.to_owned()),
            ("messagetype", message_type.as_str().to_owned()),
            ("from", from.to_owned()),
            ("hash-file", protocol::java_hex_sha256(packet)),
        ];
        let env = self
            .call(
                Method::POST,
                "sendEdoc",
                params,
                "application/octet-stream",
                Bytes::from(body),
            )
            .await?;
        string_field(&env, "DocId", "sendEdoc")
    }

    /// `getReceivedEdocList`: inbox items not yet acknowledged `done`.
    pub async fn get_received_edoc_list(&self, message_type: MessageType) -> Result<Vec<ReceivedItem>, ClientError> {
        let params = vec![
            ("servicetype", SERVICE_TYPE.to_owned()),
            ("messagetype", message_type.as_str().to_owned()),
        ];
        let env = self
            .call(
                Method::POST,
                "getReceivedEdocList",
                params,
                "application/json",
                Bytes::new(),
            )
            .await?;
        data(&env, "getReceivedEdocList")
    }

    /// `getEdoc`: the packet of one inbox item.
    pub async fn get_edoc(&self, doc_id: &str) -> Result<Vec<u8>, ClientError> {
        let params = vec![("docId", doc_id.to_owned())];
        let env = self
            .call(
                Method::POST,
                "getEdoc",
                params,
                "application/json",
                Bytes::from_static(b"{}"),
            )
            .await?;
        let b64 = string_field(&env, "data", "getEdoc")?;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| ClientError::Protocol {
                endpoint: "getEdoc".into(),
                message: format!("data is not base64: {e}"),
            })
    }

    /// `updateStatus`: acknowledges an inbox item (`done` removes it from the list).
    pub async fn update_status(&self, doc_id: &str, status: AckStatus) -> Result<(), ClientError> {
        let params = vec![("status", status.as_str().to_owned()), ("docid", doc_id.to_owned())];
        self.call(
            Method::POST,
            "updateStatus",
            params,
            "application/json",
            Bytes::from_static(b"{}"),
        )
        .await?;
        Ok(())
    }

    /// `getSentEdocList`: per-receiver delivery of what we sent (of one DocId when given).
    pub async fn get_sent_edoc_list(
        &self,
        message_type: MessageType,
        doc_id: Option<&str>,
    ) -> Result<Vec<SentRow>, ClientError> {
        let mut params = vec![
            ("servicetype", SERVICE_TYPE.to_owned()),
            ("messagetype", message_type.as_str().to_owned()),
        ];
        if let Some(id) = doc_id {
            params.push(("docId", id.to_owned()));
        }
        let env = self
            .call(
                Method::POST,
                "getSentEdocList",
                params,
                "application/json",
                Bytes::new(),
            )
            .await?;
        data(&env, "getSentEdocList")
    }

    pub async fn get_agencies_list(&self) -> Result<Vec<Agency>, ClientError> {
        let env = self
            .call(
                Method::POST,
                "getAgenciesList",
                Vec::new(),
                "application/json",
                Bytes::new(),
            )
            .await?;
        data(&env, "getAgenciesList")
    }

    pub async fn get_agencies_list_qd20(&self, level: Option<&str>) -> Result<Vec<Agency>, ClientError> {
        let params = level.map(|l| ("level", l.to_owned())).into_iter().collect();
        let env = self
            .call(
                Method::POST,
                "getAgenciesListQD20",
                params,
                "application/json",
                Bytes::new(),
            )
            .await?;
        data(&env, "getAgenciesListQD20")
    }

    pub async fn register_agency(&self, agency: &AgencyRegistration) -> Result<(), ClientError> {
        let body = serde_json::to_vec(agency).map_err(|e| ClientError::Invalid(e.to_string()))?;
        self.call(
            Method::POST,
            "registerAgency",
            Vec::new(),
            "application/json",
            Bytes::from(body),
        )
        .await?;
        Ok(())
    }

    pub async fn delete_agency(&self, code: &str) -> Result<(), ClientError> {
        let params = vec![("AgencyCode", code.to_owned())];
        self.call(Method::POST, "deleteAgency", params, "application/json", Bytes::new())
            .await?;
        Ok(())
    }

    /// `countReceiveEdoc` / `countReceiveStatus`: inbox items not yet acknowledged `done`.
    pub async fn count_received(&self, message_type: MessageType) -> Result<u64, ClientError> {
        let endpoint = match message_type {
            MessageType::Edoc => "countReceiveEdoc",
            MessageType::Status => "countReceiveStatus",
        };
        let params = vec![
            ("servicetype", SERVICE_TYPE.to_owned()),
            ("messagetype", message_type.as_str().to_owned()),
        ];
        let env = self
            .call(Method::GET, endpoint, params, "application/json", Bytes::new())
            .await?;
        env.extra
            .get("count")
            .and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse().ok())))
            .ok_or_else(|| ClientError::Protocol {
                endpoint: endpoint.into(),
                message: "no count".into(),
            })
    }

    /// One call with retries on network errors and 5xx.
    async fn call(
        &self,
        method: Method,
        endpoint: &str,
        params: Vec<(&str, String)>,
        content_type: &str,
        body: Bytes,
    ) -> Result<Envelope, ClientError> {
        let mut last = String::new();
        let attempts = self.retry.max_attempts.max(1);
        for attempt in 0..attempts {
            if attempt > 0 {
                let jitter: f64 = rand::thread_rng().gen();
                tokio::time::sleep(self.retry.delay(attempt - 1, jitter)).await;
            }
            match self
                .attempt(&method, endpoint, &params, content_type, body.clone())
                .await?
            {
                Attempt::Done(env) => return Ok(env),
                Attempt::Retry(why) => {
                    tracing::debug!(endpoint, attempt, why = %why, "axis call failed; retrying");
                    last = why;
                }
            }
        }
        Err(ClientError::Unavailable {
            endpoint: endpoint.into(),
            attempts,
            last,
        })
    }

    async fn attempt(
        &self,
        method: &Method,
        endpoint: &str,
        params: &[(&str, String)],
        content_type: &str,
        body: Bytes,
    ) -> Result<Attempt, ClientError> {
        let now = self.clock.now().with_timezone(&vietnam()).naive_local();
        let mut all: Vec<(String, String)> = Vec::with_capacity(params.len() + 3);
        all.push(("systemid".into(), self.system_id.clone()));
        all.push(("timestamp".into(), protocol::timestamp(now)));
        all.extend(params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        all.push(("Content-Type".into(), content_type.to_owned()));
        let mut req = self.http.request(method.clone(), format!("{}/{endpoint}", self.url));
        for (k, v) in protocol::sign(&all, self.secret.expose()) {
            let value = reqwest::header::HeaderValue::from_str(&v)
                .map_err(|_| ClientError::Invalid(format!("header {k} is not visible ASCII")))?;
            req = req.header(k.as_str(), value);
        }
        let resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => return Ok(Attempt::Retry(e.to_string())),
        };
        let status = resp.status();
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Ok(Attempt::Retry(format!("reading the answer: {e}"))),
        };
        let env: Option<Envelope> = serde_json::from_slice(&bytes).ok();
        if status.is_server_error() {
            let why = env.map_or_else(
                || format!("HTTP {status}"),
                |e| format!("HTTP {status}: {}", e.error_desc),
            );
            return Ok(Attempt::Retry(why));
        }
        let Some(env) = env else {
            return Err(ClientError::Protocol {
                endpoint: endpoint.into(),
                message: format!("HTTP {status}, body is not the JSON envelope"),
            });
        };
        if env.is_ok() {
            return Ok(Attempt::Done(env));
        }
        if matches!(env.error_code.as_str(), codes::UNAVAILABLE | codes::INTERNAL) {
            return Ok(Attempt::Retry(format!(
                "ErrorCode {}: {}",
                env.error_code, env.error_desc
            )));
        }
        Err(ClientError::Refused {
            endpoint: endpoint.into(),
            code: env.error_code,
            desc: env.error_desc,
        })
    }
}

fn string_field(env: &Envelope, key: &str, endpoint: &str) -> Result<String, ClientError> {
    env.extra
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| ClientError::Protocol {
            endpoint: endpoint.into(),
            message: format!("no {key} in the answer"),
        })
}

fn data<T: DeserializeOwned>(env: &Envelope, endpoint: &str) -> Result<T, ClientError> {
    let value = env
        .extra
        .get("data")
        .cloned()
        .unwrap_or(serde_json::Value::Array(Vec::new()));
    serde_json::from_value(value).map_err(|e| ClientError::Protocol {
        endpoint: endpoint.into(),
        message: format!("data: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        assert_eq!(p.delay(0, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(0, 0.0), Duration::from_millis(50));
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(400));
        assert_eq!(p.delay(3, 1.0), Duration::from_millis(500));
        assert_eq!(p.delay(40, 1.0), Duration::from_millis(500));
    }
}
