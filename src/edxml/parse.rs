//! The lenient streaming parser (brief `edxml.md` §1.5 and §8).
//!
//! It matches local names whatever the prefix or namespace (undeclared prefixes included), in
//! any child order, ignores unknown elements, comments and the signature block, treats empty
//! text and `null` as absent, and accepts the date variants seen in real packets. Attachments
//! are decoded chunk by chunk straight from the input into the caller's [`AttachmentSink`].
//! DOCTYPEs and unknown entities are refused; depth, text length, attachment size and count
//! are bounded by [`Limits`].

use std::io::{self, BufRead, Cursor, Read, Write};
use std::mem::take;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::base64_stream::{skip_text, Base64Decoder};
use super::names::{clean, edxml102_content_type, extension, parse_date, parse_timestamp, strip_cid};
use super::{
    safe_file_name, Attachment, AttachmentSink, Business, BusinessDocumentInfo, DocumentPacket, EdxmlError,
    Organization, Packet, Receiver, ReplacementInfo, ResponseFor, StaffInfo, StatusPacket, TraceHeader, Transfer,
};

/// Bounds that keep memory and work finite on hostile input.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deepest element nesting accepted.
    pub max_depth: usize,
    /// Longest text of one element (attachments excepted), in bytes.
    pub max_text: usize,
    /// Largest decoded attachment (after unzipping), and largest zip, in bytes.
    pub max_attachment_bytes: u64,
    /// Most attachments in one packet.
    pub max_attachments: usize,
    /// When set, an attachment whose base64 or zip is broken is skipped with a warning instead
    /// of failing the whole packet (used by `vanthu edxml check`).
    pub skip_undecodable: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_text: 1 << 20,
            max_attachment_bytes: 512 << 20,
            max_attachments: 1000,
            skip_undecodable: false,
        }
    }
}

/// Something unusual the parser tolerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed packet and what was unusual about it.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub packet: Packet,
    pub warnings: Vec<Warning>,
    /// A `Signature` element was present (not verified here).
    pub signature_present: bool,
}

/// Parses a packet from an in-memory buffer.
pub fn parse_bytes(bytes: &[u8], sink: &mut dyn AttachmentSink, limits: &Limits) -> Result<Parsed, EdxmlError> {
    parse(Cursor::new(bytes), sink, limits)
}

/// Parses a packet, streaming each attachment's decoded bytes into `sink`.
pub fn parse<R: BufRead>(input: R, sink: &mut dyn AttachmentSink, limits: &Limits) -> Result<Parsed, EdxmlError> {
    // Markup and text outside attachments may not run longer than this between `<` and `>`,
    // so quick-xml's event buffer stays bounded.
    let run_limit = limits.max_text.saturating_add(64 * 1024);
    let mut reader = Reader::from_reader(RunGuard {
        inner: input,
        run: 0,
        limit: run_limit,
        active: true,
        tripped: false,
    });
    reader.config_mut().trim_text(false);
    let mut state = State::new(limits);
    let mut buf = Vec::with_capacity(4096);
    loop {
        let position = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(_) if reader.get_ref().tripped => {
                return Err(EdxmlError::TextTooLong {
                    element: state.stack.last().cloned().unwrap_or_default(),
                    limit: limits.max_text,
                })
            }
            Err(e) => return Err(xml_error(position, e)),
        };
        match event {
            Event::Start(e) => {
                let name = local_name(&e, position)?;
                let attrs = attributes(&e, &name);
                state.start(name, attrs)?;
                if state.at_attachment_content() {
                    let guard = reader.get_mut();
                    guard.active = false;
                    state.attachment_content(&mut guard.inner, sink, false)?;
                    guard.active = true;
                    guard.run = 0;
                }
            }
            Event::Empty(e) => {
                let name = local_name(&e, position)?;
                let attrs = attributes(&e, &name);
                state.start(name, attrs)?;
                if state.at_attachment_content() {
                    state.attachment_content(&mut reader.get_mut().inner, sink, true)?;
                }
                state.end();
            }
            Event::End(_) => state.end(),
            Event::Text(t) => {
                let text = std::str::from_utf8(&t).map_err(|_| EdxmlError::InvalidUtf8(position))?;
                state.text(text)?;
            }
            Event::CData(t) => {
                let text = std::str::from_utf8(&t).map_err(|_| EdxmlError::InvalidUtf8(position))?;
                state.text(text)?;
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        other => return Err(EdxmlError::UnknownEntity(String::from_utf8_lossy(other).into_owned())),
                    },
                    Err(e) => return Err(xml_error(position, e)),
                };
                state.text(resolved.encode_utf8(&mut [0u8; 4]))?;
            }
            Event::DocType(_) => return Err(EdxmlError::Doctype),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
        buf.clear();
    }
    state.finish()
}

/// Passes the input through, failing once more than `limit` bytes go by without a `<` or `>`
/// (while `active`; attachment content is read past it by the base64 decoder).
struct RunGuard<R> {
    inner: R,
    run: usize,
    limit: usize,
    active: bool,
    tripped: bool,
}

impl<R: BufRead> Read for RunGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for RunGuard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.active && self.run > self.limit {
            self.tripped = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "text or markup run too long",
            ));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.active {
            if let Ok(buf) = self.inner.fill_buf() {
                let seen = &buf[..n.min(buf.len())];
                match seen.iter().rposition(|&b| b == b'<' || b == b'>') {
                    Some(p) => self.run = seen.len() - p - 1,
                    None => self.run = self.run.saturating_add(seen.len()),
                }
            }
        }
        self.inner.consume(n);
    }
}

fn xml_error(position: u64, e: quick_xml::Error) -> EdxmlError {
    if let quick_xml::Error::Encoding(_) = e {
        return EdxmlError::InvalidUtf8(position);
    }
    EdxmlError::Xml {
        position,
        message: e.to_string(),
    }
}

fn local_name(e: &BytesStart<'_>, position: u64) -> Result<String, EdxmlError> {
    std::str::from_utf8(e.local_name().as_ref())
        .map(str::to_string)
        .map_err(|_| EdxmlError::InvalidUtf8(position))
}

/// The `id` and `version` attributes (the only ones the model keeps), leniently.
fn attributes(e: &BytesStart<'_>, name: &str) -> Vec<(String, String)> {
    if name != "TraceHeaderList" {
        return Vec::new();
    }
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let key = std::str::from_utf8(a.key.local_name().as_ref()).ok()?.to_string();
            let value = a.unescape_value().ok()?.into_owned();
            Some((key, value))
        })
        .collect()
}

struct State<'l> {
    limits: &'l Limits,
    stack: Vec<String>,
    text: String,
    root_seen: bool,
    signature_depth: Option<usize>,
    signature_present: bool,
    warnings: Vec<Warning>,

    doc: DocumentPacket,
    response_for: Vec<ResponseFor>,
    status_code: Option<String>,
    description: Option<String>,
    timestamp: Option<chrono::NaiveDateTime>,
    status_staff: Option<StaffInfo>,

    org: Organization,
    rf: ResponseFor,
    staff: StaffInfo,
    trace_header: TraceHeader,
    business: Business,
    business_info: BusinessDocumentInfo,
    receiver: Receiver,
    replacement: ReplacementInfo,
    reference: Attachment,
    references: Vec<Attachment>,
    attachment: Attachment,
    /// The attachment's own ContentType as written (before unzipping decided anything).
    attachment_wire_type: Option<String>,
    attachments: Vec<Attachment>,
}

/// A decoding failure of one attachment that `skip_undecodable` may tolerate.
fn is_content_error(e: &EdxmlError) -> bool {
    matches!(
        e,
        EdxmlError::Base64 { .. } | EdxmlError::Zip { .. } | EdxmlError::ZipEntries { .. }
    )
}

impl<'l> State<'l> {
    fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            stack: Vec::new(),
            text: String::new(),
            root_seen: false,
            signature_depth: None,
            signature_present: false,
            warnings: Vec::new(),
            doc: DocumentPacket::default(),
            response_for: Vec::new(),
            status_code: None,
            description: None,
            timestamp: None,
            status_staff: None,
            org: Organization::default(),
            rf: ResponseFor::default(),
            staff: StaffInfo::default(),
            trace_header: TraceHeader::default(),
            business: Business::default(),
            business_info: BusinessDocumentInfo::default(),
            receiver: Receiver::default(),
            replacement: ReplacementInfo::default(),
            reference: Attachment::default(),
            references: Vec::new(),
            attachment: Attachment::default(),
            attachment_wire_type: None,
            attachments: Vec::new(),
        }
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < 1000 {
            self.warnings.push(Warning(message));
        }
    }

    fn parent(&self) -> &str {
        self.stack
            .len()
            .checked_sub(2)
            .and_then(|i| self.stack.get(i))
            .map_or("", String::as_str)
    }

    fn grandparent(&self) -> &str {
        self.stack
            .len()
            .checked_sub(3)
            .and_then(|i| self.stack.get(i))
            .map_or("", String::as_str)
    }

    fn start(&mut self, name: String, attrs: Vec<(String, String)>) -> Result<(), EdxmlError> {
        if !self.root_seen {
            if name != "edXML" {
                return Err(EdxmlError::NotEdxml(name));
            }
            self.root_seen = true;
        } else if self.stack.is_empty() {
            return Err(EdxmlError::Xml {
                position: 0,
                message: "content after the root element".into(),
            });
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(EdxmlError::TooDeep(self.limits.max_depth));
        }
        if name == "Signature" && self.signature_depth.is_none() {
            self.signature_depth = Some(self.stack.len());
            self.signature_present = true;
        }
        if name == "TraceHeaderList" {
            for (k, v) in attrs {
                match k.as_str() {
                    "id" => self.doc.trace.id = clean(&v),
                    "version" => self.doc.trace.version = clean(&v),
                    _ => {}
                }
            }
        }
        self.stack.push(name);
        self.text.clear();
        Ok(())
    }

    fn text(&mut self, t: &str) -> Result<(), EdxmlError> {
        if self.stack.is_empty() {
            if !t.trim().is_empty() && !self.warnings.iter().any(|w| w.0.starts_with("text outside")) {
                self.warn("text outside the root element ignored".into());
            }
            return Ok(());
        }
        if self.signature_depth.is_some() {
            return Ok(());
        }
        if self.text.len() + t.len() > self.limits.max_text {
            return Err(EdxmlError::TextTooLong {
                element: self.stack.last().cloned().unwrap_or_default(),
                limit: self.limits.max_text,
            });
        }
        self.text.push_str(t);
        Ok(())
    }

    fn at_attachment_content(&self) -> bool {
        self.signature_depth.is_none()
            && self.stack.last().is_some_and(|n| n == "ContentTransferEncoded")
            && self.parent() == "Attachment"
    }

    fn int(&mut self, field: &str, text: &str) -> Option<i64> {
        let t = clean(text)?;
        match t.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.warn(format!("{field}: {t:?} is not a number; ignored"));
                None
            }
        }
    }

    fn date(&mut self, field: &str, text: &str) -> Option<chrono::NaiveDate> {
        let t = clean(text)?;
        let d = parse_date(&t);
        if d.is_none() {
            self.warn(format!("{field}: {t:?} is not a date; ignored"));
        } else if chrono::NaiveDate::parse_from_str(&t, super::names::DATE_FORMAT).is_err() {
            self.warn(format!("{field}: {t:?} is not in yyyy/MM/dd; read leniently"));
        }
        d
    }

    fn timestamp(&mut self, field: &str, text: &str) -> Option<chrono::NaiveDateTime> {
        let t = clean(text)?;
        let d = parse_timestamp(&t);
        if d.is_none() {
            self.warn(format!("{field}: {t:?} is not a timestamp; ignored"));
        }
        d
    }

    fn end(&mut self) {
        let text = take(&mut self.text);
        let depth = self.stack.len();
        if let Some(d) = self.signature_depth {
            if depth > d + 1 {
                self.stack.pop();
                return;
            }
            self.signature_depth = None;
            self.stack.pop();
            return;
        }
        let Some(name) = self.stack.last().cloned() else { return };
        let parent = self.parent().to_string();
        let grandparent = self.grandparent().to_string();
        self.element(&name, &parent, &grandparent, &text);
        self.stack.pop();
    }

    fn element(&mut self, name: &str, parent: &str, grandparent: &str, text: &str) {
        let v = clean(text);
        match (parent, name) {
            // Organisations.
            ("From" | "To", field) => {
                let o = &mut self.org;
                match field {
                    "OrganId" => o.organ_id = v,
                    "OrganizationInCharge" => o.organization_in_charge = v,
                    "OrganName" => o.organ_name = v,
                    "OrganAdd" => o.organ_add = v,
                    "Email" => o.email = v,
                    "Telephone" => o.telephone = v,
                    "Fax" => o.fax = v,
                    "Website" => o.website = v,
                    _ => {}
                }
            }
            ("MessageHeader", "From") => self.doc.from = take(&mut self.org),
            ("MessageHeader", "To") => {
                let org = take(&mut self.org);
                if org.organ_id.is_some() && self.doc.to.iter().any(|t| t.organ_id == org.organ_id) {
                    self.warn(format!(
                        "duplicate To/OrganId {:?}",
                        org.organ_id.as_deref().unwrap_or("")
                    ));
                }
                self.doc.to.push(org);
            }
            // MessageHeader fields.
            ("MessageHeader", "DocumentId") => self.doc.document_id = v,
            ("MessageHeader", "Subject") => self.doc.subject = v,
            ("MessageHeader", "Content") => self.doc.content = v,
            ("MessageHeader", "DueDate") => self.doc.due_date = self.date("DueDate", text),
            ("MessageHeader", "SteeringType") => {
                self.doc.steering_type = self.int("SteeringType", text).unwrap_or_default()
            }
            ("MessageHeader", "ApplicationType") => self.doc.application_type = v,
            ("MessageHeader", "StatusCode") => self.status_code = v,
            ("MessageHeader", "Description") => self.description = v,
            ("MessageHeader", "Timestamp") => self.timestamp = self.timestamp("Timestamp", text),
            ("MessageHeader", "ResponseFor") => {
                let rf = take(&mut self.rf);
                if !rf.is_empty() {
                    self.response_for.push(rf);
                }
            }
            ("MessageHeader", "StaffInfo") => {
                let s = take(&mut self.staff);
                self.status_staff = (!s.is_empty()).then_some(s);
            }
            ("Code", "CodeNumber") => self.doc.code.number = v,
            ("Code", "CodeNotation") => self.doc.code.notation = v,
            ("PromulgationInfo", "Place") => self.doc.promulgation.place = v,
            ("PromulgationInfo", "PromulgationDate") => {
                self.doc.promulgation.date = self.date("PromulgationDate", text)
            }
            ("DocumentType", "Type") => {
                self.doc.document_type.type_class = self.int("DocumentType/Type", text).unwrap_or(1)
            }
            ("DocumentType", "TypeDetail") => self.doc.document_type.detail = self.int("DocumentType/TypeDetail", text),
            ("DocumentType", "TypeName") => self.doc.document_type.name = v,
            ("SignerInfo", "Competence") => self.doc.signer.competence = v,
            ("SignerInfo", "Position") => self.doc.signer.position = v,
            ("SignerInfo", "FullName") => self.doc.signer.full_name = v,
            ("OtherInfo", field) => self.other_info(field, text, v),
            ("Appendixes", "Appendix") => {
                if let Some(a) = v {
                    self.doc.other_info.appendixes.push(a)
                }
            }
            ("ResponseFor", field) => match field {
                "OrganId" => self.rf.organ_id = v,
                "Code" => self.rf.code = v,
                "DocumentId" => self.rf.document_id = v,
                "PromulgationDate" => self.rf.promulgation_date = self.date("ResponseFor/PromulgationDate", text),
                _ => {}
            },
            ("ResponseForTask", "TaskCode") => {
                if let Some(t) = v {
                    self.doc.task_codes.push(t)
                }
            }
            ("ToPlaces", "Place") => {
                if let Some(p) = v {
                    self.doc.to_places.push(p)
                }
            }
            ("StaffInfo", field) => {
                let s = &mut self.staff;
                match field {
                    "Department" => s.department = v,
                    "DepartmentId" => s.department_id = v,
                    "Staff" => s.staff = v,
                    "StaffId" => s.staff_id = v,
                    "Email" => s.email = v,
                    "Mobile" => s.mobile = v,
                    _ => {}
                }
            }
            // Trace headers and the business block.
            ("TraceHeaderList", "Paper") => self.doc.trace.paper = self.int("TraceHeaderList/Paper", text),
            ("TraceHeaderList", "TraceHeader") => {
                let t = take(&mut self.trace_header);
                self.doc.trace.trace_headers.push(t);
            }
            ("TraceHeader", "OrganId") => self.trace_header.organ_id = v,
            ("TraceHeader", "Timestamp") => self.trace_header.timestamp = self.timestamp("TraceHeader/Timestamp", text),
            ("TraceHeaderList", "Bussiness" | "Business") => self.doc.trace.business = Some(take(&mut self.business)),
            ("Bussiness" | "Business", field) => match field {
                "DocumentId" => self.business.document_id = v,
                "BussinessDocType" | "BusinessDocType" => {
                    self.business.doc_type = self.int("BussinessDocType", text).unwrap_or_default().into()
                }
                "BussinessDocReason" | "BusinessDocReason" => self.business.reason = v,
                "Paper" => self.business.paper = self.int("Bussiness/Paper", text),
                "BussinessDocumentInfo" | "BusinessDocumentInfo" => {
                    self.business.document_info = Some(take(&mut self.business_info))
                }
                "StaffInfo" => {
                    let s = take(&mut self.staff);
                    self.business.staff = (!s.is_empty()).then_some(s);
                }
                _ => {}
            },
            ("BussinessDocumentInfo" | "BusinessDocumentInfo", "DocumentInfo") => {
                self.business_info.document_info = self.int("DocumentInfo", text)
            }
            ("BussinessDocumentInfo" | "BusinessDocumentInfo", "DocumentReceiver") => {
                self.business_info.document_receiver = self.int("DocumentReceiver", text)
            }
            ("ReceiverList", "Receiver") => {
                let r = take(&mut self.receiver);
                self.business_info.receivers.push(r);
            }
            ("Receiver", "OrganId") => self.receiver.organ_id = v,
            ("Receiver", "ReceiverType") => {
                self.receiver.receiver_type = self.int("ReceiverType", text).unwrap_or_default()
            }
            ("ReplacementInfoList", "ReplacementInfo") => {
                let r = take(&mut self.replacement);
                self.business.replacements.push(r);
            }
            ("ReplacementInfo", "DocumentId") => self.replacement.document_id = v,
            ("OrganIdList", "OrganId") if grandparent == "ReplacementInfo" => {
                if let Some(o) = v {
                    self.replacement.organ_ids.push(o)
                }
            }
            // The manifest.
            ("edXMLManifest", "Reference") => {
                let r = take(&mut self.reference);
                self.references.push(r);
            }
            ("Reference", field) if grandparent == "edXMLManifest" => match field {
                "ContentId" => self.reference.content_id = v.map(|c| strip_cid(&c)),
                "ContentType" => self.reference.content_type = v,
                "Description" => self.reference.description = v,
                "AttachmentName" => self.reference.name = v,
                _ => {}
            },
            // Encoded attachments.
            ("AttachmentEncoded", "Attachment") => {
                let a = take(&mut self.attachment);
                self.attachment_wire_type = None;
                self.attachments.push(a);
            }
            ("Attachment", field) if grandparent == "AttachmentEncoded" => match field {
                "ContentId" => self.attachment.content_id = v.map(|c| strip_cid(&c)),
                "AttachmentName" => self.attachment.name = v,
                "Description" => self.attachment.description = v,
                "FieldName" => self.attachment.field_name = v,
                "MimeType" => self.attachment.mime_type = v,
                "ContentType" if self.attachment.size.is_none() => {
                    self.attachment_wire_type = v.clone();
                    self.attachment.content_type = v;
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn other_info(&mut self, field: &str, text: &str, v: Option<String>) {
        let o = &mut self.doc.other_info;
        match field {
            "Priority" => {
                let p = self.int("Priority", text).unwrap_or_default();
                self.doc.other_info.priority = p.into();
            }
            "SphereOfPromulgation" => o.sphere_of_promulgation = v,
            "TyperNotation" => o.typer_notation = v,
            "PromulgationAmount" => {
                let n = self.int("PromulgationAmount", text);
                self.doc.other_info.promulgation_amount = n.and_then(|n| u32::try_from(n).ok());
            }
            "PageAmount" => {
                let n = self.int("PageAmount", text);
                self.doc.other_info.page_amount = n.and_then(|n| u32::try_from(n).ok());
            }
            "ReplyFors" => o.reply_fors = v,
            "ReferenceCodes" => o.reference_codes = v,
            "Direction" => {
                o.direction = match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("true" | "1") => Some(true),
                    Some("false" | "0") => Some(false),
                    _ => None,
                }
            }
            _ => {}
        }
    }

    /// What is known of the attachment whose content starts now: its own children so far,
    /// completed from the manifest reference with the same content id.
    fn attachment_so_far(&self) -> Attachment {
        let mut a = self.attachment.clone();
        if let Some(r) = self
            .references
            .iter()
            .find(|r| r.content_id.is_some() && r.content_id == a.content_id)
        {
            fill_from(&mut a, r);
        }
        a
    }

    fn attachment_content<R: BufRead>(
        &mut self,
        inner: &mut R,
        sink: &mut dyn AttachmentSink,
        empty: bool,
    ) -> Result<(), EdxmlError> {
        let index = self.attachments.len();
        if index >= self.limits.max_attachments {
            return Err(EdxmlError::TooManyAttachments(self.limits.max_attachments));
        }
        if self.attachment.size.is_some() {
            self.warn(format!(
                "attachment {index}: more than one ContentTransferEncoded; later ones ignored"
            ));
            if !empty {
                skip_text(inner)?;
            }
            return Ok(());
        }
        let mut meta = self.attachment_so_far();
        if let Some(name) = meta.name.clone() {
            let safe = safe_file_name(&name)?;
            if safe != name {
                self.warn(format!("attachment name {name:?} made safe as {safe:?}"));
            }
            meta.name = Some(safe);
        }
        let label = meta
            .name
            .clone()
            .or_else(|| meta.content_id.clone())
            .unwrap_or_else(|| format!("#{index}"));
        let wire_type = self.attachment_wire_type.clone().or_else(|| meta.content_type.clone());
        let zipped = wire_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("application/zip"))
            && meta.name.as_deref().and_then(extension).as_deref() != Some("zip");
        let result = if empty {
            sink.open(index, &meta)
                .map(|_| (0, Transfer::Raw))
                .map_err(EdxmlError::from)
        } else if zipped {
            self.decode_zipped(inner, sink, index, &meta, &label)
        } else {
            let mut decoder = Base64Decoder::new(inner);
            let limit = self.limits.max_attachment_bytes;
            match sink.open(index, &meta) {
                Ok(mut w) => copy_limited(&mut decoder, &mut w, limit, &label).map(|n| (n, Transfer::Raw)),
                Err(e) => Err(e.into()),
            }
        };
        match result {
            Ok((size, transfer)) => {
                self.attachment.size = Some(size);
                self.attachment.transfer = transfer;
                if transfer == Transfer::Zipped {
                    // The model keeps the file's own type; the wire says application/zip.
                    let own = self
                        .attachment_so_far()
                        .content_type
                        .filter(|t| !t.eq_ignore_ascii_case("application/zip"))
                        .or_else(|| {
                            self.references
                                .iter()
                                .find(|r| r.content_id.is_some() && r.content_id == self.attachment.content_id)
                                .and_then(|r| r.content_type.clone())
                                .filter(|t| !t.eq_ignore_ascii_case("application/zip"))
                        })
                        .or_else(|| meta.name.as_deref().and_then(edxml102_content_type).map(str::to_string))
                        .unwrap_or_else(|| "application/octet-stream".to_string());
                    self.attachment.content_type = Some(own);
                }
                Ok(())
            }
            Err(e) => {
                sink.discard(index)?;
                if self.limits.skip_undecodable && is_content_error(&e) {
                    skip_text(inner)?;
                    self.warn(format!("{e}; attachment skipped"));
                    self.attachment.size = None;
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    fn decode_zipped<R: BufRead>(
        &mut self,
        inner: &mut R,
        sink: &mut dyn AttachmentSink,
        index: usize,
        meta: &Attachment,
        label: &str,
    ) -> Result<(u64, Transfer), EdxmlError> {
        let limit = self.limits.max_attachment_bytes;
        let mut zip_bytes = Vec::new();
        let mut decoder = Base64Decoder::new(inner);
        copy_limited(&mut decoder, &mut zip_bytes, limit, label)?;
        if !zip_bytes.starts_with(b"PK\x03\x04") {
            self.warn(format!(
                "attachment {label}: ContentType application/zip but the content is not a zip; kept as is"
            ));
            let mut w = sink.open(index, meta)?;
            w.write_all(&zip_bytes)?;
            w.flush()?;
            return Ok((zip_bytes.len() as u64, Transfer::Raw));
        }
        let zip_err = |e: zip::result::ZipError| EdxmlError::Zip {
            attachment: label.to_string(),
            message: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(zip_err)?;
        if archive.len() != 1 {
            return Err(EdxmlError::ZipEntries {
                attachment: label.to_string(),
                entries: archive.len(),
            });
        }
        let mut entry = archive.by_index(0).map_err(zip_err)?;
        if entry.size() > limit {
            return Err(EdxmlError::AttachmentTooLarge {
                attachment: label.to_string(),
                limit,
            });
        }
        let mut meta = meta.clone();
        if meta.name.is_none() {
            meta.name = safe_file_name(entry.name()).ok();
            self.attachment.name = meta.name.clone();
        }
        let mut w = sink.open(index, &meta)?;
        let n = copy_limited(&mut entry, &mut w, limit, label).map_err(|e| match e {
            EdxmlError::Base64 { attachment, message } => EdxmlError::Zip { attachment, message },
            other => other,
        })?;
        Ok((n, Transfer::Zipped))
    }

    fn finish(mut self) -> Result<Parsed, EdxmlError> {
        if !self.root_seen {
            return Err(EdxmlError::NotEdxml(String::new()));
        }
        if !self.stack.is_empty() {
            return Err(EdxmlError::Truncated);
        }
        let packet = if let Some(code) = self.status_code.take() {
            if self.response_for.len() > 1 {
                self.warn("status packet with more than one ResponseFor; the first is used".into());
            }
            Packet::Status(Box::new(StatusPacket {
                from: take(&mut self.doc.from),
                response_for: self.response_for.drain(..).next().unwrap_or_default(),
                staff: self.status_staff.take(),
                status_code: code.into(),
                description: self.description.take(),
                timestamp: self.timestamp.take(),
            }))
        } else {
            let mut doc = take(&mut self.doc);
            doc.response_for = take(&mut self.response_for);
            doc.attachments = self.merge_attachments();
            Packet::Document(Box::new(doc))
        };
        Ok(Parsed {
            packet,
            warnings: self.warnings,
            signature_present: self.signature_present,
        })
    }

    /// Encoded attachments in order, completed from the manifest; manifest references without
    /// content are kept (size unknown) after them.
    fn merge_attachments(&mut self) -> Vec<Attachment> {
        let mut out = take(&mut self.attachments);
        let mut used = vec![false; self.references.len()];
        for a in &mut out {
            let found = self
                .references
                .iter()
                .position(|r| r.content_id.is_some() && r.content_id == a.content_id);
            match found {
                Some(i) => {
                    used[i] = true;
                    let r = self.references[i].clone();
                    let zipped_type = a.transfer == Transfer::Zipped;
                    let own_type = a.content_type.clone();
                    fill_from(a, &r);
                    if zipped_type {
                        a.content_type = own_type;
                    }
                }
                None => self.warnings.push(Warning(format!(
                    "attachment {} has no manifest Reference",
                    a.content_id.as_deref().unwrap_or("(no ContentId)")
                ))),
            }
            if let Some(name) = a.name.clone() {
                a.name = safe_file_name(&name).ok();
            }
        }
        for (r, used) in self.references.iter().zip(used) {
            if !used {
                self.warnings.push(Warning(format!(
                    "manifest Reference {} has no encoded attachment",
                    r.content_id.as_deref().unwrap_or("(no ContentId)")
                )));
                let mut r = r.clone();
                r.name = r.name.as_deref().and_then(|n| safe_file_name(n).ok());
                out.push(r);
            }
        }
        out
    }
}

/// Fills the fields `a` lacks from the manifest reference `r`.
fn fill_from(a: &mut Attachment, r: &Attachment) {
    if a.name.is_none() {
        a.name = r.name.clone();
    }
    if a.description.is_none() {
        a.description = r.description.clone();
    }
    if a.content_type.is_none() {
        a.content_type = r.content_type.clone();
    }
}

/// Copies with a size limit, telling base64 failures (from the decoder) from IO failures.
fn copy_limited<R: Read, W: Write + ?Sized>(
    from: &mut R,
    to: &mut W,
    limit: u64,
    label: &str,
) -> Result<u64, EdxmlError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                to.flush()?;
                return Ok(total);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(EdxmlError::Base64 {
                    attachment: label.to_string(),
                    message: e.to_string(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(EdxmlError::Truncated),
            Err(e) => return Err(e.into()),
        };
        total += n as u64;
        if total > limit {
            return Err(EdxmlError::AttachmentTooLarge {
                attachment: label.to_string(),
                limit,
            });
        }
        to.write_all(&buf[..n])?;
    }
}
