//! Routing decisions of the axis: who receives a packet, what the sender's list shows, and the
//! TraceHeader the axis appends. Pure.

use chrono::NaiveDateTime;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::protocol::MessageType;
use crate::edxml::{DocumentPacket, Packet, StatusPacket};

/// Where a packet goes and what the lists show about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub message_type: MessageType,
    /// `From/OrganId` (empty when absent).
    pub from: String,
    /// Receiving organs in packet order, without duplicates: every `To/OrganId` of a document,
    /// the `ResponseFor/OrganId` of a status.
    pub receivers: Vec<String>,
    /// The edXML `DocumentId` of a document; for a status, the document reported on.
    pub document_id: Option<String>,
    /// Subject of a document; `StatusCode description` of a status.
    pub title: String,
    /// `number/notation`.
    pub notation: String,
    /// The status code of a status packet.
    pub status_code: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("the packet names no receiver (To/OrganId of a document, ResponseFor/OrganId of a status)")]
    NoReceiver,
    #[error("messagetype {declared} does not match the packet, which is a {actual}")]
    TypeMismatch {
        declared: &'static str,
        actual: &'static str,
    },
    #[error("cannot place the TraceHeader: {0}")]
    Trace(String),
}

fn usable(id: &Option<String>) -> Option<&str> {
    id.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("null"))
}

/// Routes a parsed packet sent with `declared` as its `messagetype`.
pub fn route(packet: &Packet, declared: MessageType) -> Result<Route, RouteError> {
    let actual = match packet {
        Packet::Document(_) => MessageType::Edoc,
        Packet::Status(_) => MessageType::Status,
    };
    if actual != declared {
        return Err(RouteError::TypeMismatch {
            declared: declared.as_str(),
            actual: actual.as_str(),
        });
    }
    let r = match packet {
        Packet::Document(d) => document_route(d),
        Packet::Status(s) => status_route(s),
    };
    if r.receivers.is_empty() {
        return Err(RouteError::NoReceiver);
    }
    Ok(r)
}

fn document_route(d: &DocumentPacket) -> Route {
    let mut receivers: Vec<String> = Vec::new();
    for to in &d.to {
        if let Some(id) = usable(&to.organ_id) {
            if !receivers.iter().any(|r| r == id) {
                receivers.push(id.to_owned());
            }
        }
    }
    Route {
        message_type: MessageType::Edoc,
        from: usable(&d.from.organ_id).unwrap_or_default().to_owned(),
        receivers,
        document_id: usable(&d.document_id).map(str::to_owned),
        title: d.subject.clone().unwrap_or_default(),
        notation: notation(d.code.number.as_deref(), d.code.notation.as_deref()),
        status_code: None,
    }
}

fn status_route(s: &StatusPacket) -> Route {
    Route {
        message_type: MessageType::Status,
        from: usable(&s.from.organ_id).unwrap_or_default().to_owned(),
        receivers: usable(&s.response_for.organ_id)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        document_id: usable(&s.response_for.document_id).map(str::to_owned),
        title: match &s.description {
            Some(d) => format!("{} {}", s.status_code.as_str(), d),
            None => s.status_code.as_str().to_owned(),
        },
        notation: s.response_for.code.clone().unwrap_or_default(),
        status_code: Some(s.status_code.as_str().to_owned()),
    }
}

fn notation(number: Option<&str>, notation: Option<&str>) -> String {
    match (number, notation) {
        (Some(n), Some(s)) => format!("{n}/{s}"),
        (Some(n), None) => n.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => String::new(),
    }
}

/// What identifies a packet to its receiver across duplicate deliveries (a retried send, a
/// duplicated delivery): a document by its `DocumentId` and business operation (a revoke reuses
/// the DocumentId of what it revokes), a status by who reported which code on which document
/// when. `None` when the packet carries none of that; the receiver then keys on the bytes.
pub fn receipt_key(packet: &Packet) -> Option<String> {
    match packet {
        Packet::Document(d) => {
            let id = usable(&d.document_id)?;
            let op: i64 = d.business_doc_type().into();
            let target = d
                .trace
                .business
                .as_ref()
                .and_then(|b| usable(&b.document_id))
                .unwrap_or_default();
            Some(format!("edoc\u{1f}{id}\u{1f}{op}\u{1f}{target}"))
        }
        Packet::Status(s) => {
            let doc = usable(&s.response_for.document_id)?;
            let at = s.timestamp.map(|t| t.to_string()).unwrap_or_default();
            Some(format!(
                "status\u{1f}{}\u{1f}{doc}\u{1f}{}\u{1f}{at}",
                usable(&s.from.organ_id).unwrap_or_default(),
                s.status_code.as_str()
            ))
        }
    }
}

/// Appends the axis's `TraceHeader {OrganId, Timestamp}` to the packet's `TraceHeaderList`
/// (creating the list after `MessageHeader` when there is none), splicing bytes so everything
/// else (signature, unknown elements, attachments) stays as it was. Scans only up to the end of
/// the header; the input must already have parsed as edXML.
pub fn append_trace_header(packet: &[u8], organ_id: &str, at: NaiveDateTime) -> Result<Vec<u8>, RouteError> {
    let err = |m: &str| RouteError::Trace(m.to_owned());
    let mut reader = Reader::from_reader(packet);
    let mut buf = Vec::new();
    let mut in_header = false;
    let mut message_header_end: Option<(usize, String)> = None;
    loop {
        let pos = usize::try_from(reader.buffer_position()).map_err(|_| err("offset"))?;
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| RouteError::Trace(e.to_string()))?;
        let end = usize::try_from(reader.buffer_position()).map_err(|_| err("offset"))?;
        match event {
            Event::Start(e) if e.local_name().as_ref() == b"edXMLHeader" => in_header = true,
            Event::Empty(e) if in_header && e.local_name().as_ref() == b"TraceHeaderList" => {
                let raw = packet.get(pos..end).ok_or_else(|| err("offset"))?;
                let open = raw
                    .strip_suffix(b"/>")
                    .ok_or_else(|| err("self-closed TraceHeaderList"))?;
                let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let prefix = prefix_of(&qname);
                let mut out = Vec::with_capacity(packet.len() + 256);
                out.extend_from_slice(&packet[..pos]);
                out.extend_from_slice(open);
                out.push(b'>');
                out.extend_from_slice(trace_header(&prefix, organ_id, at).as_bytes());
                out.extend_from_slice(format!("</{qname}>").as_bytes());
                out.extend_from_slice(&packet[end..]);
                return Ok(out);
            }
            Event::End(e) if in_header => {
                let local = e.local_name();
                let qname = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if local.as_ref() == b"TraceHeaderList" {
                    let indent = indent_before(packet, pos);
                    let mut out = Vec::with_capacity(packet.len() + 256);
                    out.extend_from_slice(&packet[..pos]);
                    out.extend_from_slice(b"  ");
                    out.extend_from_slice(trace_header(&prefix_of(&qname), organ_id, at).as_bytes());
                    out.push(b'\n');
                    out.extend_from_slice(indent);
                    out.extend_from_slice(&packet[pos..]);
                    return Ok(out);
                }
                if local.as_ref() == b"MessageHeader" {
                    message_header_end = Some((end, prefix_of(&qname)));
                }
                if local.as_ref() == b"edXMLHeader" {
                    let (at_pos, prefix) = message_header_end.ok_or_else(|| err("no MessageHeader"))?;
                    let mut out = Vec::with_capacity(packet.len() + 256);
                    out.extend_from_slice(&packet[..at_pos]);
                    out.extend_from_slice(
                        format!(
                            "<{prefix}TraceHeaderList>{}</{prefix}TraceHeaderList>",
                            trace_header(&prefix, organ_id, at)
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&packet[at_pos..]);
                    return Ok(out);
                }
            }
            Event::Eof => return Err(err("no edXMLHeader")),
            _ => {}
        }
        buf.clear();
    }
}

fn prefix_of(qname: &str) -> String {
    match qname.split_once(':') {
        Some((p, _)) => format!("{p}:"),
        None => String::new(),
    }
}

/// The spaces and tabs between the last line break and `pos`.
fn indent_before(packet: &[u8], pos: usize) -> &[u8] {
    let line_start = packet[..pos].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let run = &packet[line_start..pos];
    if run.iter().all(|b| *b == b' ' || *b == b'\t') {
        run
    } else {
        b""
    }
}

fn trace_header(prefix: &str, organ_id: &str, at: NaiveDateTime) -> String {
    format!(
        "<{prefix}TraceHeader><{prefix}OrganId>{}</{prefix}OrganId><{prefix}Timestamp>{}</{prefix}Timestamp></{prefix}TraceHeader>",
        quick_xml::escape::escape(organ_id),
        at.format("%Y/%m/%d %H:%M:%S")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edxml::{parse_bytes, DiscardSink, Limits};

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/edxml")
            .join(name);
        std::fs::read(path).expect("fixture")
    }

    fn parse(bytes: &[u8]) -> Packet {
        let limits = Limits {
            skip_undecodable: true,
            ..Limits::default()
        };
        parse_bytes(bytes, &mut DiscardSink, &limits).expect("parses").packet
    }

    fn at() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .and_then(|d| d.and_hms_opt(10, 20, 30))
            .expect("valid")
    }

    #[test]
    fn documents_go_to_every_to_and_statuses_to_response_for() {
        let doc = parse(&fixture("edoc_new.edxml"));
        let r = route(&doc, MessageType::Edoc).expect("routes");
        assert!(!r.receivers.is_empty());
        assert!(r.document_id.is_some());
        assert!(matches!(
            route(&doc, MessageType::Status),
            Err(RouteError::TypeMismatch { .. })
        ));
        let status = parse(&fixture("status_finish_06.edxml"));
        let r = route(&status, MessageType::Status).expect("routes");
        assert_eq!(r.receivers, vec!["000.00.00.G22".to_owned()]);
        assert_eq!(r.status_code.as_deref(), Some("06"));
        assert_eq!(r.from, "000.00.00.H41");
    }

    #[test]
    fn trace_header_is_appended_and_the_rest_kept() {
        for name in ["edoc_new.edxml", "edoc_revocation.edxml", "edoc.edxml"] {
            let bytes = fixture(name);
            let before = match parse(&bytes) {
                Packet::Document(d) => d,
                Packet::Status(_) => panic!("document"),
            };
            let out = append_trace_header(&bytes, "000.00.00.AXIS", at()).expect("appends");
            let after = match parse(&out) {
                Packet::Document(d) => d,
                Packet::Status(_) => panic!("document"),
            };
            assert_eq!(
                after.trace.trace_headers.len(),
                before.trace.trace_headers.len() + 1,
                "{name}"
            );
            let last = after.trace.trace_headers.last().expect("one");
            assert_eq!(last.organ_id.as_deref(), Some("000.00.00.AXIS"));
            assert_eq!(last.timestamp, Some(at()));
            assert_eq!(after.attachments, before.attachments, "{name}");
            assert_eq!(after.subject, before.subject);
        }
    }

    #[test]
    fn trace_header_list_is_created_or_opened_when_needed() {
        let bare = br#"<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXML:edXMLHeader><edXML:MessageHeader><edXML:To><edXML:OrganId>X</edXML:OrganId></edXML:To></edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML>"#;
        let out = append_trace_header(bare, "A&B", at()).expect("creates");
        let text = String::from_utf8(out.clone()).expect("utf8");
        assert!(text.contains("</edXML:MessageHeader><edXML:TraceHeaderList><edXML:TraceHeader><edXML:OrganId>A&amp;B</edXML:OrganId>"), "{text}");
        let Packet::Document(d) = parse(&out) else {
            panic!("document")
        };
        assert_eq!(d.trace.trace_headers.len(), 1);

        let empty = String::from_utf8_lossy(bare).replace(
            "</edXML:MessageHeader>",
            "</edXML:MessageHeader><edXML:TraceHeaderList id=\"1\"/>",
        );
        let out = append_trace_header(empty.as_bytes(), "A", at()).expect("opens");
        let Packet::Document(d) = parse(&out) else {
            panic!("document")
        };
        assert_eq!(d.trace.trace_headers.len(), 1);
        assert_eq!(d.trace.id.as_deref(), Some("1"));
    }

    #[test]
    fn receipt_keys_tell_a_revoke_from_its_target() {
        let new = parse(&fixture("edoc_new.edxml"));
        let revoke = parse(&fixture("edoc_revocation.edxml"));
        assert_ne!(receipt_key(&new), receipt_key(&revoke));
        let traced = append_trace_header(&fixture("edoc_new.edxml"), "Z", at()).expect("appends");
        assert_eq!(receipt_key(&parse(&traced)), receipt_key(&new));
        let s1 = parse(&fixture("status_inbox_01.edxml"));
        let s6 = parse(&fixture("status_finish_06.edxml"));
        assert_ne!(receipt_key(&s1), receipt_key(&s6));
    }
}
