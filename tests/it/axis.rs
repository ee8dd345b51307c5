//! The mock national document axis over real HTTP: `vanthu axis serve` runs as a process on a
//! free loopback port; tenants exchange packets built with the codec through `AxisClient` and the
//! `vanthu axis` client commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use tokio::io::AsyncBufReadExt;
use vanthu::axis::protocol::{self, AgencyRegistration, MessageType};
use vanthu::axis::receive::{self, ReceiveError};
use vanthu::axis::{AckStatus, AxisClient, ClientError, ClientSettings, RetryPolicy};
use vanthu::clock::SystemClock;
use vanthu::config::Secret;
use vanthu::edxml::{
    self, Attachment, AttachmentSource, Business, BusinessDocType, Code, DiscardSink, DocumentPacket, DocumentType,
    Limits, MemorySink, Organization, Packet, PromulgationInfo, ResponseFor, StatusCode, StatusPacket, Transfer,
};

const BASE: &str = "/XrdAdapter/adapter";
const BTP: &str = "000.00.00.G12";
const NGHE_AN: &str = "000.00.00.H41";
const QUANG_NINH: &str = "000.00.00.H49";

const TENANTS: &str = r#"
[[tenant]]
system_id = "btp.vxp"
secret = "secret-of-the-ministry"
organs = ["000.00.00.G12"]

[[tenant]]
system_id = "nghean.vxp"
secret = "secret-of-nghe-an"
organs = ["000.00.00.H41"]

[[tenant]]
system_id = "quangninh.vxp"
secret = "secret-of-quang-ninh"
organs = ["000.00.00.H49"]
"#;

/// A running `vanthu axis serve`; killed on drop.
struct Server {
    child: tokio::process::Child,
    url: String,
}

impl Server {
    async fn start(data: &Path, tenants: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vanthu"));
        cmd.args(["axis", "serve", "--listen", "127.0.0.1:0", "--base-path", BASE])
            .arg("--data")
            .arg(data)
            .arg("--tenants")
            .arg(tenants)
            .args(extra)
            .env("VANTHU_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start vanthu axis serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("line") {
                if let Some(url) = line.strip_prefix("vanthu axis listening on ") {
                    return url.to_string();
                }
            }
            panic!("vanthu axis serve ended without listening");
        })
        .await
        .expect("the mock axis starts");
        assert!(url.ends_with(BASE), "{url}");
        Self { child, url }
    }

    async fn kill(mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("tenants.toml"), TENANTS).expect("tenants");
        Self { dir }
    }
    fn tenants(&self) -> PathBuf {
        self.dir.path().join("tenants.toml")
    }
    fn data(&self) -> PathBuf {
        self.dir.path().join("axis-data")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    async fn start(&self, extra: &[&str]) -> Server {
        Server::start(&self.data(), &self.tenants(), extra, &[]).await
    }
}

fn client_with(url: &str, system_id: &str, secret: &str, retry: RetryPolicy) -> AxisClient {
    AxisClient::new(
        ClientSettings {
            url: url.to_string(),
            system_id: system_id.to_string(),
            secret: Secret::new(secret),
            retry,
            timeout: Duration::from_secs(20),
        },
        Arc::new(SystemClock),
    )
    .expect("client")
}

fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 30,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
    }
}

fn ministry(url: &str) -> AxisClient {
    client_with(url, "btp.vxp", "secret-of-the-ministry", patient())
}
fn nghe_an(url: &str) -> AxisClient {
    client_with(url, "nghean.vxp", "secret-of-nghe-an", patient())
}
fn quang_ninh(url: &str) -> AxisClient {
    client_with(url, "quangninh.vxp", "secret-of-quang-ninh", patient())
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn org(id: &str, name: &str) -> Organization {
    Organization {
        organ_id: s(id),
        organ_name: s(name),
        ..Organization::default()
    }
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid")
}

fn at(minute: u32) -> NaiveDateTime {
    date().and_hms_opt(9, minute, 0).expect("valid")
}

fn pdf(n: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.extend((0..n).map(|i| (i * 131 % 251) as u8));
    v
}

fn document_id(number: u32) -> String {
    format!("{BTP},2026/12/01,{number}/BTP-VP")
}

/// A new document (or, with `revokes`, a revocation of that number) from the ministry.
fn document(number: u32, to: &[&str], revokes: Option<u32>) -> (Packet, Vec<u8>) {
    let attachment = pdf(20_000 + number as usize);
    let mut d = DocumentPacket {
        from: org(BTP, "Bộ Tư pháp"),
        to: to.iter().map(|o| org(o, "Ủy ban nhân dân tỉnh")).collect(),
        document_id: s(&document_id(number)),
        code: Code {
            number: s(&number.to_string()),
            notation: s("BTP-VP"),
        },
        promulgation: PromulgationInfo {
            place: s("Hà Nội"),
            date: Some(date()),
        },
        document_type: DocumentType {
            type_class: 1,
            detail: Some(18),
            name: s("Công văn"),
        },
        subject: s(&format!("V/v triển khai thi hành án dân sự số {number}")),
        steering_type: 0,
        attachments: vec![Attachment {
            content_id: s(&format!("att-{number}")),
            name: s(&format!("cong-van-{number}.pdf")),
            content_type: s("application/pdf"),
            transfer: Transfer::Raw,
            ..Attachment::default()
        }],
        ..DocumentPacket::default()
    };
    if let Some(target) = revokes {
        d.trace.business = Some(Business {
            document_id: s(&document_id(target)),
            doc_type: BusinessDocType::Revoke,
            reason: s("Thu hồi văn bản điện tử"),
            ..Business::default()
        });
        d.response_for = vec![ResponseFor {
            organ_id: s(BTP),
            code: s(&format!("{target}/BTP-VP")),
            document_id: s(&document_id(target)),
            promulgation_date: Some(date()),
        }];
    }
    let packet = Packet::Document(Box::new(d));
    let sources: Vec<AttachmentSource<'_>> = vec![Box::new(std::io::Cursor::new(attachment.clone()))];
    let bytes = edxml::build_to_vec(&packet, sources).expect("builds");
    (packet, bytes)
}

/// A status from Nghệ An about the ministry's document `number`.
fn status(number: u32, code: &str, minute: u32) -> Vec<u8> {
    let p = Packet::Status(Box::new(StatusPacket {
        from: org(NGHE_AN, "UBND tỉnh Nghệ An"),
        response_for: ResponseFor {
            organ_id: s(BTP),
            code: s(&format!("{number}/BTP-VP")),
            document_id: s(&document_id(number)),
            promulgation_date: Some(date()),
        },
        staff: None,
        status_code: StatusCode::from(code.to_string()),
        description: s("Văn thư: cập nhật trạng thái"),
        timestamp: Some(at(minute)),
    }));
    edxml::build_to_vec(&p, Vec::new()).expect("builds")
}

fn parse(bytes: &[u8]) -> (Packet, MemorySink) {
    let mut sink = MemorySink::default();
    let parsed = edxml::parse_bytes(bytes, &mut sink, &Limits::default()).expect("parses");
    (parsed.packet, sink)
}

fn as_document(p: Packet) -> DocumentPacket {
    match p {
        Packet::Document(d) => *d,
        Packet::Status(_) => panic!("expected a document"),
    }
}

fn as_status(p: Packet) -> StatusPacket {
    match p {
        Packet::Status(s) => *s,
        Packet::Document(_) => panic!("expected a status"),
    }
}

/// HMAC-SHA256 over the sign-header, against a vector computed with OpenSSL from brief §6.3:
/// `printf '%s' "$J" | openssl dgst -sha256 -hmac 'c2VjcmV0LXRlbmFudC1h'`.
#[test]
fn hmac_of_the_sign_header_matches_openssl() {
    let j = r#"{"XroadVnpt-systemid":"vxp.saas.03","XroadVnpt-servicetype":"eDoc","XroadVnpt-messagetype":"edoc","XroadVnpt-from":"000.00.00.G22","XroadVnpt-timestamp":"22112026T233625+0122","XroadVnpt-Content-Type":"application/octet-stream"}"#;
    assert_eq!(
        protocol::hmac_hex("c2VjcmV0LXRlbmFudC1h", j),
        "6771bb15701859739c2df8053da6adef7a804540ff255be394450d27ca0aac5f"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_exchange_a_document_and_the_full_status_sequence() {
    let setup = Setup::new();
    let server = setup.start(&[]).await;
    let (btp, na, qn) = (ministry(&server.url), nghe_an(&server.url), quang_ninh(&server.url));

    // The ministry sends one document to Nghệ An and Quảng Ninh.
    let (packet, bytes) = document(123, &[NGHE_AN, QUANG_NINH], None);
    let sent = as_document(packet);
    let doc_id = btp.send_edoc(&bytes, MessageType::Edoc, BTP).await.expect("sendEdoc");

    // Each receiver finds it in its own inbox under a fresh axis id.
    let na_items = na.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    let qn_items = qn.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    assert_eq!(na_items.len(), 1, "{na_items:?}");
    assert_eq!(qn_items.len(), 1, "{qn_items:?}");
    let (na_item, qn_item) = (&na_items[0], &qn_items[0]);
    assert_eq!((na_item.from.as_str(), na_item.to.as_str()), (BTP, NGHE_AN));
    assert_eq!(qn_item.to, QUANG_NINH);
    assert_eq!(na_item.status, "INITIAL");
    assert_eq!(na_item.message_type, "edoc");
    let ids: BTreeSet<&str> = [doc_id.as_str(), &na_item.doc_id, &qn_item.doc_id]
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 3, "a fresh axis id per delivery");
    assert!(btp
        .get_received_edoc_list(MessageType::Edoc)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(na.count_received(MessageType::Edoc).await.expect("count"), 1);

    // The delivered packet is the same document with the axis's TraceHeader appended.
    let delivered = na.get_edoc(&na_item.doc_id).await.expect("getEdoc");
    assert_eq!(na_item.content_length, delivered.len() as u64);
    let (p, sink) = parse(&delivered);
    let got = as_document(p);
    assert_eq!(got.document_id, sent.document_id);
    assert_eq!(got.subject, sent.subject);
    assert_eq!(got.trace.trace_headers.len(), sent.trace.trace_headers.len() + 1);
    assert_eq!(
        got.trace.trace_headers.last().and_then(|t| t.organ_id.as_deref()),
        Some("000.00.00.AXIS")
    );
    assert_eq!(sink.get(0), Some(pdf(20_123).as_slice()), "attachment intact");
    // Another tenant cannot read Nghệ An's delivery.
    match qn.get_edoc(&na_item.doc_id).await {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "404"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The sender sees one row per receiver; acknowledging `done` empties the inbox.
    na.update_status(&na_item.doc_id, AckStatus::Done).await.expect("ack");
    assert!(na
        .get_received_edoc_list(MessageType::Edoc)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(na.count_received(MessageType::Edoc).await.expect("count"), 0);
    qn.update_status(&qn_item.doc_id, AckStatus::Fail)
        .await
        .expect("ack fail");
    let still = qn.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    assert_eq!(still.len(), 1, "fail keeps the item listed");
    assert_eq!(still[0].status, "FAIL");
    let rows = btp
        .get_sent_edoc_list(MessageType::Edoc, Some(&doc_id))
        .await
        .expect("getSentEdocList");
    let by_to: BTreeMap<&str, &protocol::SentRow> = rows.iter().map(|r| (r.to_code.as_str(), r)).collect();
    assert_eq!(by_to.len(), 2, "{rows:?}");
    assert_eq!(by_to[NGHE_AN].receiver_doc_id, na_item.doc_id);
    assert_eq!(by_to[NGHE_AN].receive_status, "DONE");
    assert_eq!(by_to[NGHE_AN].send_status, "DONE");
    assert_eq!(by_to[NGHE_AN].notation, "123/BTP-VP");
    assert!(!by_to[NGHE_AN].received_time.is_empty());
    assert_eq!(by_to[QUANG_NINH].receive_status, "FAIL");

    // Nghệ An reports 01 → 03 → 04 → 05 → 06; they arrive at the ministry in that order.
    let sequence = ["01", "03", "04", "05", "06"];
    for (i, code) in sequence.iter().enumerate() {
        na.send_edoc(&status(123, code, i as u32), MessageType::Status, NGHE_AN)
            .await
            .expect("status sent");
    }
    assert_eq!(btp.count_received(MessageType::Status).await.expect("count"), 5);
    let inbox = btp.get_received_edoc_list(MessageType::Status).await.expect("list");
    let mut codes = Vec::new();
    for item in &inbox {
        assert_eq!(item.message_type, "status");
        assert_eq!(item.from, NGHE_AN);
        let s = as_status(parse(&btp.get_edoc(&item.doc_id).await.expect("get")).0);
        assert_eq!(s.response_for.document_id, Some(document_id(123)));
        codes.push(s.status_code.as_str().to_string());
        btp.update_status(&item.doc_id, AckStatus::Done).await.expect("ack");
    }
    assert_eq!(codes, sequence);
    assert_eq!(btp.count_received(MessageType::Status).await.expect("count"), 0);
    let rows = btp
        .get_sent_edoc_list(MessageType::Edoc, Some(&doc_id))
        .await
        .expect("sent");
    let na_row = rows.iter().find(|r| r.to_code == NGHE_AN).expect("row");
    assert_eq!(na_row.status_code.as_deref(), Some("06"), "latest status per receiver");

    // A revocation goes out as a document packet and is answered with 15.
    let (_, revoke) = document(124, &[NGHE_AN], Some(123));
    btp.send_edoc(&revoke, MessageType::Edoc, BTP)
        .await
        .expect("revoke sent");
    let items = na.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    assert_eq!(items.len(), 1);
    let r = as_document(parse(&na.get_edoc(&items[0].doc_id).await.expect("get")).0);
    assert_eq!(r.business_doc_type(), BusinessDocType::Revoke);
    assert_eq!(
        r.trace.business.as_ref().and_then(|b| b.document_id.clone()),
        Some(document_id(123))
    );
    na.update_status(&items[0].doc_id, AckStatus::Done).await.expect("ack");
    na.send_edoc(&status(123, "15", 30), MessageType::Status, NGHE_AN)
        .await
        .expect("15 sent");
    let answers = btp.get_received_edoc_list(MessageType::Status).await.expect("list");
    assert_eq!(answers.len(), 1);
    let answer = as_status(parse(&btp.get_edoc(&answers[0].doc_id).await.expect("get")).0);
    assert_eq!(answer.status_code, StatusCode::ChangeAccepted);

    // A packet for an organ nobody receives for is refused; a wrong messagetype too.
    let (_, nowhere) = document(125, &["000.00.00.H99"], None);
    match btp.send_edoc(&nowhere, MessageType::Edoc, BTP).await {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "404"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    match btp.send_edoc(&bytes, MessageType::Status, BTP).await {
        Err(ClientError::Refused { code, desc, .. }) => {
            assert_eq!(code, "400");
            assert!(desc.contains("messagetype"), "{desc}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_signatures_are_refused() {
    let setup = Setup::new();
    let server = setup.start(&[]).await;
    let url = &server.url;

    // Wrong secret: 401 in the envelope and in the HTTP status.
    let impostor = client_with(url, "btp.vxp", "not-the-secret", RetryPolicy::default());
    match impostor.get_received_edoc_list(MessageType::Edoc).await {
        Err(ClientError::Refused { code, desc, .. }) => {
            assert_eq!(code, "401");
            assert!(desc.contains("HMAC"), "{desc}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let unknown = client_with(url, "nobody.vxp", "x", RetryPolicy::default());
    assert!(matches!(
        unknown.get_agencies_list().await,
        Err(ClientError::Refused { ref code, .. }) if code == "401"
    ));

    let http = reqwest::Client::new();
    let endpoint = format!("{url}/getReceivedEdocList");
    // No headers at all.
    let resp = http.post(&endpoint).send().await.expect("answer");
    assert_eq!(resp.status().as_u16(), 401);
    let env: protocol::Envelope = resp.json().await.expect("envelope");
    assert_eq!((env.status.as_str(), env.error_code.as_str()), ("FAIL", "401"));
    assert!(env.error_desc.contains("XroadVnpt-systemid"), "{}", env.error_desc);

    // Correctly signed headers, sent in other cases: accepted (names are case-insensitive).
    let params: Vec<(String, String)> = [
        ("systemid", "nghean.vxp"),
        ("timestamp", "01122026T091500+0042"),
        ("servicetype", "eDoc"),
        ("messagetype", "edoc"),
        ("Content-Type", "application/json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signed = protocol::sign(&params, "secret-of-nghe-an");
    let send = |headers: Vec<(String, String)>| {
        let mut req = http.post(&endpoint);
        for (k, v) in headers {
            req = req.header(k.to_ascii_uppercase(), v);
        }
        req.send()
    };
    let resp = send(signed.clone()).await.expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    let env: protocol::Envelope = resp.json().await.expect("envelope");
    assert!(env.is_ok(), "{env:?}");
    assert_eq!(env.status, "OK");

    // The hash header missing.
    let without_hash: Vec<_> = signed
        .iter()
        .filter(|(k, _)| k != protocol::HASH_HEADER)
        .cloned()
        .collect();
    let resp = send(without_hash).await.expect("answer");
    assert_eq!(resp.status().as_u16(), 401);
    // A signed parameter changed after signing.
    let tampered: Vec<_> = signed
        .iter()
        .map(|(k, v)| {
            if k == "XroadVnpt-messagetype" {
                (k.clone(), "status".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    let resp = send(tampered).await.expect("answer");
    assert_eq!(resp.status().as_u16(), 401);
    let env: protocol::Envelope = resp.json().await.expect("envelope");
    assert!(env.error_desc.contains("messagetype"), "{}", env.error_desc);
    // A flipped HMAC digit.
    let flipped: Vec<_> = signed
        .iter()
        .map(|(k, v)| {
            if k == protocol::HASH_HEADER {
                let mut v = v.clone();
                let last = if v.ends_with('0') { '1' } else { '0' };
                v.pop();
                v.push(last);
                (k.clone(), v)
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(send(flipped).await.expect("answer").status().as_u16(), 401);
    // Outside the base path: the envelope, 404.
    let resp = http.post(format!("{url}/../nowhere")).send().await.expect("answer");
    assert_eq!(resp.status().as_u16(), 404);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agency_directory_register_route_delete() {
    let setup = Setup::new();
    let server = setup.start(&[]).await;
    let (btp, na) = (ministry(&server.url), nghe_an(&server.url));
    let list = btp.get_agencies_list().await.expect("agencies");
    let codes: BTreeSet<&str> = list.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from([BTP, NGHE_AN, QUANG_NINH]));
    assert_eq!(list[0].old_code.as_deref(), Some(list[0].code.as_str()));

    let department = "000.00.11.H41";
    na.register_agency(&AgencyRegistration {
        pcode: NGHE_AN.into(),
        code: department.into(),
        name: "Sở Tư pháp tỉnh Nghệ An".into(),
        mail: "stp@nghean.gov.vn".into(),
        ..AgencyRegistration::default()
    })
    .await
    .expect("registerAgency");
    let qd20 = btp.get_agencies_list_qd20(Some("1")).await.expect("QD20");
    let dep = qd20.iter().find(|a| a.code == department).expect("listed");
    assert_eq!(dep.name, "Sở Tư pháp tỉnh Nghệ An");
    assert_eq!(dep.pid, NGHE_AN);
    assert_eq!(dep.code102.as_deref(), Some(department));

    // A document to the new agency reaches the system that registered it.
    let (_, bytes) = document(200, &[department], None);
    btp.send_edoc(&bytes, MessageType::Edoc, BTP).await.expect("send");
    let items = na.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].to, department);

    // Only its owner may change or delete it; tenants-file organs stay.
    match btp.delete_agency(department).await {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "404"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(matches!(
        btp.register_agency(&AgencyRegistration {
            code: department.into(),
            name: "Chiếm chỗ".into(),
            ..AgencyRegistration::default()
        })
        .await,
        Err(ClientError::Refused { ref code, .. }) if code == "403"
    ));
    assert!(na.delete_agency(NGHE_AN).await.is_err());
    na.delete_agency(department).await.expect("deleteAgency");
    let codes: Vec<String> = btp
        .get_agencies_list()
        .await
        .expect("agencies")
        .into_iter()
        .map(|a| a.code)
        .collect();
    assert!(!codes.contains(&department.to_string()));
    let (_, bytes) = document(201, &[department], None);
    assert!(btp.send_edoc(&bytes, MessageType::Edoc, BTP).await.is_err());
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_inboxes_and_sent_lists() {
    let setup = Setup::new();
    let server = setup.start(&[]).await;
    let btp = ministry(&server.url);
    let mut sent = Vec::new();
    for n in 1..=3 {
        let (_, bytes) = document(300 + n, &[NGHE_AN], None);
        sent.push(btp.send_edoc(&bytes, MessageType::Edoc, BTP).await.expect("send"));
    }
    let na = nghe_an(&server.url);
    let before = na.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    na.update_status(&before[0].doc_id, AckStatus::Done).await.expect("ack");
    // Killed, not stopped: what was answered OK must be on disk.
    server.kill().await;

    let server = setup.start(&[]).await;
    let (btp, na) = (ministry(&server.url), nghe_an(&server.url));
    let after = na.get_received_edoc_list(MessageType::Edoc).await.expect("list");
    assert_eq!(
        after.iter().map(|i| i.doc_id.clone()).collect::<Vec<_>>(),
        before[1..].iter().map(|i| i.doc_id.clone()).collect::<Vec<_>>()
    );
    for item in &after {
        let d = as_document(parse(&na.get_edoc(&item.doc_id).await.expect("get")).0);
        assert!(d.subject.is_some());
    }
    for id in &sent {
        let rows = btp.get_sent_edoc_list(MessageType::Edoc, Some(id)).await.expect("sent");
        assert_eq!(rows.len(), 1, "{rows:?}");
    }
    server.kill().await;
}

/// With drops (before and after processing), 503s, delays and duplicated deliveries, every
/// document still arrives exactly once: the client retries, the receiver stores idempotently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_faults_every_document_arrives_exactly_once() {
    let setup = Setup::new();
    // Two faults by flag, two by environment (read through the configuration).
    let server = Server::start(
        &setup.data(),
        &setup.tenants(),
        &["--fault-drop", "0.2", "--fault-5xx", "0.15"],
        &[
            ("VANTHU_AXIS_FAULT_DUPLICATE", "0.3"),
            ("VANTHU_AXIS_FAULT_DELAY_MS", "3"),
        ],
    )
    .await;
    let btp = ministry(&server.url);
    let count = 40u32;
    let mut tasks = Vec::new();
    for n in 0..count {
        let btp = btp.clone();
        tasks.push(tokio::spawn(async move {
            let (_, bytes) = document(1000 + n, &[NGHE_AN], None);
            btp.send_edoc(&bytes, MessageType::Edoc, BTP).await
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("sent despite the faults");
    }

    let na = nghe_an(&server.url);
    let inbox = setup.path("received");
    let mut fetched = 0usize;
    let mut stored = BTreeSet::new();
    for _ in 0..50 {
        let report = receive::receive_all(&na, MessageType::Edoc, &inbox)
            .await
            .unwrap_or_else(|e: ReceiveError| panic!("receive: {e}"));
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        fetched += report.stored.len();
        for r in report.stored.iter().filter(|r| r.new) {
            assert!(stored.insert(r.document_id.clone().expect("id")), "stored twice");
        }
        if na.count_received(MessageType::Edoc).await.expect("count") == 0 && stored.len() == count as usize {
            break;
        }
    }
    let expected: BTreeSet<String> = (0..count).map(|n| document_id(1000 + n)).collect();
    assert_eq!(stored, expected);
    assert!(
        fetched > count as usize,
        "the faults produced no duplicate ({fetched} fetched)"
    );
    // On disk: exactly one file per document, each a usable packet.
    let files: Vec<_> = std::fs::read_dir(&inbox)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), count as usize, "{files:?}");
    let mut on_disk = BTreeSet::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let parsed = edxml::parse_bytes(&bytes, &mut DiscardSink, &Limits::default()).expect("parses");
        on_disk.insert(as_document(parsed.packet).document_id.expect("DocumentId"));
    }
    assert_eq!(on_disk, expected);
    server.kill().await;
}

fn cli(args: &[&str], conn: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["axis"])
        .args(args)
        .args(conn)
        .env("VANTHU_LOG", "warn")
        .output()
        .expect("run vanthu")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sends_lists_fetches_once_and_acknowledges() {
    let setup = Setup::new();
    let server = setup.start(&[]).await;
    std::fs::write(setup.path("btp.secret"), "secret-of-the-ministry\n").expect("secret");
    std::fs::write(setup.path("na.secret"), "secret-of-nghe-an\n").expect("secret");
    let (_, bytes) = document(400, &[NGHE_AN], None);
    std::fs::write(setup.path("cong-van.edxml"), &bytes).expect("packet");
    let url = server.url.clone();
    let root = setup.dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let p = |name: &str| root.join(name).display().to_string();
        let (btp_secret, na_secret, out_dir) = (p("btp.secret"), p("na.secret"), p("in"));
        let as_btp = ["--url", &url, "--system-id", "btp.vxp", "--secret-file", &btp_secret];
        let as_na = ["--url", &url, "--system-id", "nghean.vxp", "--secret-file", &na_secret];

        let send = cli(&["send", &p("cong-van.edxml")], &as_btp);
        assert!(send.status.success(), "{}", String::from_utf8_lossy(&send.stderr));
        let doc_id = String::from_utf8_lossy(&send.stdout).trim().to_string();
        assert_eq!(doc_id.len(), 36, "a UUID: {doc_id}");

        let inbox = cli(&["inbox"], &as_na);
        assert!(inbox.status.success());
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&inbox.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["from"], BTP);
        let item = lines[0]["docId"].as_str().expect("docId").to_string();
        let status_inbox = cli(&["inbox", "--status"], &as_na);
        assert!(status_inbox.status.success() && status_inbox.stdout.is_empty());

        // Fetching twice stores once.
        let first = cli(&["fetch", &item, "--out", &out_dir], &as_na);
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        assert!(String::from_utf8_lossy(&first.stdout).starts_with("stored "));
        let second = cli(&["fetch", &item, "--out", &out_dir], &as_na);
        assert!(String::from_utf8_lossy(&second.stdout).starts_with("already stored "));
        assert_eq!(std::fs::read_dir(&out_dir).expect("dir").count(), 1);

        let ack = cli(&["ack", &item, "done"], &as_na);
        assert!(ack.status.success(), "{}", String::from_utf8_lossy(&ack.stderr));
        let inbox = cli(&["inbox"], &as_na);
        assert!(inbox.stdout.is_empty(), "{}", String::from_utf8_lossy(&inbox.stdout));
        let agencies = cli(&["agencies"], &as_na);
        assert_eq!(String::from_utf8_lossy(&agencies.stdout).lines().count(), 3);
        let sent = cli(&["sent", "--doc-id", &doc_id], &as_btp);
        let row: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&sent.stdout).trim()).expect("one row");
        assert_eq!(row["receiveStatus"], "DONE");

        // Errors: one line, non-zero exit.
        let bad = cli(
            &["inbox"],
            &["--url", &url, "--system-id", "btp.vxp", "--secret", "wrong"],
        );
        assert!(!bad.status.success());
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(err.contains("401") && err.trim().lines().count() == 1, "{err}");
        let none = cli(&["inbox"], &[]);
        assert!(!none.status.success());
    })
    .await
    .expect("cli");
    server.kill().await;
}
