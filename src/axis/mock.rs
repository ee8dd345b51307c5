//! The mock axis's service: what each endpoint does, between the HTTP layer
//! (`http::axis_mock`, which authenticates, injects faults and maps envelopes) and the storage
//! (`storage::axis_mock`). Packet bodies are files under `DIR/packets/`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use base64::Engine;
use bytes::Bytes;

use super::faults::Faults;
use super::protocol::{
    self, codes, states, AckStatus, Agency, AgencyRegistration, AuthError, Envelope, MessageType, Params, ReceivedItem,
    SentRow, SERVICE_TYPE,
};
use super::routing::{append_trace_header, route};
use super::tenants::Tenants;
use crate::clock::{vietnam, Clock};
use crate::edxml::{parse_bytes, DiscardSink, Limits};
use crate::model::agency_code::{AgencyCode, CodeForm};
use crate::storage::axis_mock::{AxisAgencyRow, AxisStore, NewAxisDelivery, NewAxisPacket, StatusReport};
use crate::storage::StorageError;

/// How the mock runs.
#[derive(Clone, Debug)]
pub struct MockSettings {
    pub data_dir: PathBuf,
    pub tenants: Tenants,
    /// The `OrganId` of the TraceHeader the axis appends.
    pub organ_id: String,
    pub faults: Faults,
    /// Largest `sendEdoc` body.
    pub max_body_bytes: usize,
    /// Path prefix of every endpoint, e.g. `/XrdAdapter/adapter` (empty: at the root).
    pub base_path: String,
    /// Most rows one list answer holds.
    pub max_list: i64,
}

impl MockSettings {
    pub fn new(data_dir: PathBuf, tenants: Tenants) -> Self {
        Self {
            data_dir,
            tenants,
            organ_id: "000.00.00.AXIS".into(),
            faults: Faults::default(),
            max_body_bytes: 32 << 20,
            base_path: String::new(),
            max_list: 1000,
        }
    }
}

/// A refusal: HTTP status, `ErrorCode` and `ErrorDesc`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {desc}")]
pub struct MockError {
    pub http_status: u16,
    pub code: &'static str,
    pub desc: String,
}

impl MockError {
    fn new(http_status: u16, code: &'static str, desc: impl Into<String>) -> Self {
        Self {
            http_status,
            code,
            desc: desc.into(),
        }
    }
    pub fn bad_request(desc: impl Into<String>) -> Self {
        Self::new(400, codes::BAD_REQUEST, desc)
    }
    pub fn not_found(desc: impl Into<String>) -> Self {
        Self::new(404, codes::NOT_FOUND, desc)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            codes::TOO_LARGE,
            format!("the packet is larger than {limit} bytes"),
        )
    }
    pub fn unavailable(desc: impl Into<String>) -> Self {
        Self::new(503, codes::UNAVAILABLE, desc)
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "axis mock internal error");
        Self::new(500, codes::INTERNAL, "internal error")
    }

    pub fn envelope(&self) -> Envelope {
        Envelope::fail(self.code, self.desc.clone())
    }
}

impl From<AuthError> for MockError {
    fn from(e: AuthError) -> Self {
        Self::new(401, codes::UNAUTHORIZED, e.to_string())
    }
}

impl From<StorageError> for MockError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(m) => Self::unavailable(m),
            StorageError::Conflict(m) => Self::new(403, codes::FORBIDDEN, m),
            other => Self::internal(other),
        }
    }
}

/// The mock axis.
#[derive(Debug)]
pub struct MockAxis {
    settings: MockSettings,
    store: AxisStore,
    /// Receiving organ → owning system id (tenants file and `registerAgency`).
    organs: RwLock<HashMap<String, String>>,
    clock: Arc<dyn Clock>,
}

type Result<T> = std::result::Result<T, MockError>;

impl MockAxis {
    /// Opens the data dir (database `axis.sqlite`, packet files) and seeds the tenants' organs.
    pub async fn open(settings: MockSettings, clock: Arc<dyn Clock>) -> std::result::Result<Self, StorageError> {
        let packets = settings.data_dir.join("packets");
        std::fs::create_dir_all(&packets)
            .map_err(|e| StorageError::Config(format!("cannot create {}: {e}", packets.display())))?;
        let store = AxisStore::open(&settings.data_dir.join("axis.sqlite")).await?;
        let now = clock.now_ms();
        for t in settings.tenants.iter() {
            for organ in &t.organs {
                store.seed_agency(organ, &t.system_id, now).await?;
            }
        }
        let organs = store
            .agencies()
            .await?
            .into_iter()
            .filter(|a| settings.tenants.get(&a.owner_system).is_some())
            .map(|a| (a.code, a.owner_system))
            .collect();
        Ok(Self {
            settings,
            store,
            organs: RwLock::new(organs),
            clock,
        })
    }

    pub fn settings(&self) -> &MockSettings {
        &self.settings
    }

    pub async fn close(&self) {
        self.store.close().await;
    }

    /// Checks the HMAC headers; returns the caller's system id and the signed parameters.
    pub fn authenticate(&self, headers: &[(String, String)]) -> Result<(String, Params)> {
        let tenants = &self.settings.tenants;
        Ok(protocol::authenticate(headers, |id| tenants.secret_of(id))?)
    }

    fn owner_of(&self, organ: &str) -> Option<String> {
        self.organs.read().ok().and_then(|m| m.get(organ).cloned())
    }

    fn local_time(&self, ms: i64) -> String {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(&vietnam()).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    }

    /// `sendEdoc`: parses and routes the packet, appends the axis's TraceHeader to a document,
    /// stores it once and delivers it to every receiving organ under a fresh DocId each.
    /// `duplicate` says, per delivery, whether fault injection delivers it twice.
    pub async fn send_edoc(
        &self,
        system: &str,
        params: &Params,
        body: Bytes,
        mut duplicate: impl FnMut() -> bool,
    ) -> Result<Envelope> {
        if body.len() > self.settings.max_body_bytes + 2 {
            return Err(MockError::too_large(self.settings.max_body_bytes));
        }
        let message_type = params
            .get("messagetype")
            .and_then(MessageType::parse)
            .ok_or_else(|| MockError::bad_request("XroadVnpt-messagetype must be edoc or status"))?;
        if let Some(hash) = params.get("hash-file").filter(|h| !h.trim().is_empty()) {
            if !protocol::hash_file_matches(hash, &body) {
                return Err(MockError::bad_request("XroadVnpt-hash-file does not match the body"));
            }
        }
        let organ_id = self.settings.organ_id.clone();
        let at = self.clock.now().with_timezone(&vietnam()).naive_local();
        let limits = Limits {
            max_attachment_bytes: self.settings.max_body_bytes as u64,
            ..Limits::default()
        };
        let (route, stored) = tokio::task::spawn_blocking(move || {
            let packet = protocol::strip_crlf(&body).unwrap_or(&body);
            let parsed = parse_bytes(packet, &mut DiscardSink, &limits)
                .map_err(|e| MockError::bad_request(format!("not a usable edXML packet: {e}")))?;
            let route = route(&parsed.packet, message_type).map_err(|e| MockError::bad_request(e.to_string()))?;
            let stored = match message_type {
                MessageType::Edoc => {
                    append_trace_header(packet, &organ_id, at).map_err(|e| MockError::bad_request(e.to_string()))?
                }
                MessageType::Status => packet.to_vec(),
            };
            Ok::<_, MockError>((route, stored))
        })
        .await
        .map_err(MockError::internal)??;

        let mut deliveries = Vec::new();
        for organ in &route.receivers {
            match self.owner_of(organ) {
                Some(owner) => {
                    let copies = if duplicate() { 2 } else { 1 };
                    for _ in 0..copies {
                        deliveries.push(NewAxisDelivery {
                            doc_id: uuid::Uuid::new_v4().to_string(),
                            receiver_system: Some(owner.clone()),
                            to_code: organ.clone(),
                            send_status: states::DONE.into(),
                            state: states::INITIAL.into(),
                        });
                    }
                }
                None => deliveries.push(NewAxisDelivery {
                    doc_id: uuid::Uuid::new_v4().to_string(),
                    receiver_system: None,
                    to_code: organ.clone(),
                    send_status: states::FAIL.into(),
                    state: states::FAIL.into(),
                }),
            }
        }
        if deliveries.iter().all(|d| d.receiver_system.is_none()) {
            return Err(MockError::not_found(format!(
                "no receiving organ is connected to the axis: {}",
                route.receivers.join(", ")
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let rel = format!("packets/{}/{id}.edxml", &id[..2]);
        let path = self.settings.data_dir.join(&rel);
        write_file(&path, &stored).await.map_err(MockError::internal)?;
        let from = if route.from.is_empty() {
            params.get("from").unwrap_or_default().to_owned()
        } else {
            route.from.clone()
        };
        let report = match (&route.status_code, &route.document_id) {
            (Some(code), Some(doc)) if message_type == MessageType::Status => Some(StatusReport {
                reporter: from.clone(),
                document_id: doc.clone(),
                code: code.clone(),
            }),
            _ => None,
        };
        let packet = NewAxisPacket {
            id: id.clone(),
            sender_system: system.to_owned(),
            message_type: message_type.as_str().to_owned(),
            from_code: from,
            document_id: route.document_id.clone(),
            title: route.title.clone(),
            notation: route.notation.clone(),
            status_code: route.status_code.clone(),
            body_path: rel,
            body_len: i64::try_from(stored.len()).unwrap_or(i64::MAX),
            body_sha256: protocol::hex_sha256(&stored),
            created_ms: self.clock.now_ms(),
        };
        if let Err(e) = self.store.insert_send(&packet, &deliveries, report.as_ref()).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
        Ok(Envelope::ok().with("DocId", id))
    }

    fn page(&self, params: &Params) -> (i64, i64) {
        let size = params
            .first(&["pageSize"])
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(self.settings.max_list)
            .min(self.settings.max_list);
        let index = params
            .first(&["pageIndex"])
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        (size, (index - 1).saturating_mul(size))
    }

    fn message_type(params: &Params) -> Result<MessageType> {
        match params.get("messagetype") {
            None => Ok(MessageType::Edoc),
            Some(s) if s.trim().is_empty() => Ok(MessageType::Edoc),
            Some(s) => MessageType::parse(s)
                .ok_or_else(|| MockError::bad_request("XroadVnpt-messagetype must be edoc or status")),
        }
    }

    /// `getReceivedEdocList`: the caller's items not yet acknowledged `done`.
    pub async fn received_list(&self, system: &str, params: &Params) -> Result<Envelope> {
        let mt = Self::message_type(params)?;
        let (limit, offset) = self.page(params);
        let rows = self.store.inbox(system, mt.as_str(), limit, offset).await?;
        let items: Vec<ReceivedItem> = rows
            .into_iter()
            .map(|r| ReceivedItem {
                doc_id: r.doc_id,
                service_type: SERVICE_TYPE.into(),
                message_type: r.message_type,
                created_time: self.local_time(r.created_ms),
                updated_time: self.local_time(r.updated_ms),
                from: r.from_code,
                to: r.to_code,
                status_desc: states::describe(&r.state).into(),
                status: r.state,
                content_length: u64::try_from(r.body_len).unwrap_or_default(),
                content_sha256: r.body_sha256,
            })
            .collect();
        Ok(Envelope::ok().with("data", items))
    }

    /// `countReceiveEdoc` / `countReceiveStatus`.
    pub async fn count(&self, system: &str, mt: MessageType) -> Result<Envelope> {
        let n = self.store.count_inbox(system, mt.as_str()).await?;
        Ok(Envelope::ok().with("count", n))
    }

    /// `getEdoc`: the packet of one of the caller's deliveries, base64 in `data`.
    pub async fn get_edoc(&self, system: &str, params: &Params) -> Result<Envelope> {
        let doc_id = params
            .first(&["docId"])
            .ok_or_else(|| MockError::bad_request("XroadVnpt-docId is required"))?
            .trim()
            .to_owned();
        let Some(d) = self.store.delivery(&doc_id).await? else {
            return Err(MockError::not_found(format!("no document {doc_id}")));
        };
        if d.receiver_system.as_deref() != Some(system) {
            return Err(MockError::not_found(format!("no document {doc_id}")));
        }
        let bytes = tokio::fs::read(self.settings.data_dir.join(&d.body_path))
            .await
            .map_err(MockError::internal)?;
        if d.state == states::INITIAL {
            self.store.mark_fetched(&doc_id, self.clock.now_ms()).await?;
        }
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Ok(Envelope::ok().with("data", data))
    }

    /// `updateStatus`: `done` takes the item out of the inbox; `fail` keeps it listed, flagged.
    pub async fn update_status(&self, system: &str, params: &Params) -> Result<Envelope> {
        let doc_id = params
            .first(&["docid"])
            .ok_or_else(|| MockError::bad_request("XroadVnpt-docid is required"))?
            .trim()
            .to_owned();
        let status = params
            .get("status")
            .and_then(AckStatus::parse)
            .ok_or_else(|| MockError::bad_request("XroadVnpt-status must be done, fail or processing"))?;
        let state = match status {
            AckStatus::Done => states::DONE,
            AckStatus::Fail => states::FAIL,
            AckStatus::Processing => states::PROCESSING,
        };
        if !self
            .store
            .set_state(&doc_id, system, state, self.clock.now_ms())
            .await?
        {
            return Err(MockError::not_found(format!("no document {doc_id}")));
        }
        Ok(Envelope::ok())
    }

    /// `getSentEdocList`: one row per receiver of what the caller sent.
    pub async fn sent_list(&self, system: &str, params: &Params) -> Result<Envelope> {
        let mt = Self::message_type(params)?;
        let doc_id = params.first(&["docId"]).map(str::trim);
        let rows = self
            .store
            .sent(system, mt.as_str(), doc_id, self.settings.max_list)
            .await?;
        let data: Vec<SentRow> = rows
            .into_iter()
            .map(|r| SentRow {
                service_type: SERVICE_TYPE.into(),
                message_type: r.message_type,
                sender_doc_id: r.packet_id,
                receiver_doc_id: r.doc_id,
                from_code: r.from_code,
                to_code: r.to_code,
                title: r.title,
                notation: r.notation,
                sent_time: self.local_time(r.created_ms),
                received_time: r.received_ms.map(|ms| self.local_time(ms)).unwrap_or_default(),
                send_status_desc: if r.send_status == states::DONE {
                    "Đã chuyển đến đơn vị nhận".into()
                } else {
                    "Đơn vị nhận không kết nối với trục".into()
                },
                send_status: r.send_status,
                receive_status_desc: states::describe(&r.state).into(),
                receive_status: r.state,
                status_code: r.last_status_code,
            })
            .collect();
        Ok(Envelope::ok().with("data", data))
    }

    /// `getAgenciesList` (`qd20 == false`) or `getAgenciesListQD20`.
    pub async fn agencies(&self, qd20: bool) -> Result<Envelope> {
        let rows = self.store.agencies().await?;
        let data: Vec<Agency> = rows
            .into_iter()
            .map(|a| {
                let is102 = AgencyCode::parse(&a.code).is_ok_and(|c| c.form() == CodeForm::Qcvn102);
                let old = is102.then(|| a.code.clone());
                Agency {
                    id: a.code.clone(),
                    pid: a.pcode,
                    code: a.code,
                    name: a.name,
                    mail: a.mail,
                    old_code: if qd20 { None } else { old.clone() },
                    code102: if qd20 { Some(old.unwrap_or_default()) } else { None },
                }
            })
            .collect();
        Ok(Envelope::ok().with("data", data))
    }

    /// `registerAgency`: the JSON body names an agency that the caller then receives for.
    pub async fn register_agency(&self, system: &str, body: &[u8]) -> Result<Envelope> {
        let reg: AgencyRegistration =
            serde_json::from_slice(body).map_err(|e| MockError::bad_request(format!("invalid agency JSON: {e}")))?;
        let code = AgencyCode::parse(&reg.code)
            .map_err(|e| MockError::bad_request(format!("code: {e}")))?
            .as_str()
            .to_owned();
        if reg.name.trim().is_empty() {
            return Err(MockError::bad_request("name is required"));
        }
        if let Some(owner) = self.owner_of(&code) {
            if owner != system {
                return Err(MockError::new(
                    403,
                    codes::FORBIDDEN,
                    format!("{code} belongs to another system"),
                ));
            }
        }
        let row = AxisAgencyRow {
            code: code.clone(),
            pcode: reg.pcode.trim().to_owned(),
            name: reg.name.trim().to_owned(),
            mail: reg.mail,
            mobile: reg.mobile,
            fax: reg.fax,
            owner_system: system.to_owned(),
            from_tenants_file: false,
        };
        self.store.upsert_agency(&row, self.clock.now_ms()).await?;
        if let Ok(mut m) = self.organs.write() {
            m.insert(code, system.to_owned());
        }
        Ok(Envelope::ok())
    }

    /// `deleteAgency`: removes an agency the caller registered.
    pub async fn delete_agency(&self, system: &str, params: &Params) -> Result<Envelope> {
        let code = params
            .first(&["AgencyCode"])
            .ok_or_else(|| MockError::bad_request("XroadVnpt-AgencyCode is required"))?
            .trim()
            .to_owned();
        if !self.store.delete_agency(&code, system).await? {
            return Err(MockError::not_found(format!(
                "no agency {code} registered by this system (agencies of the tenants file stay)"
            )));
        }
        if let Ok(mut m) = self.organs.write() {
            m.remove(&code);
        }
        Ok(Envelope::ok())
    }
}

async fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    tokio::fs::write(path, bytes).await
}
