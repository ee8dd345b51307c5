//! The exact builder: EdXML102 emission order and namespace layout (brief `edxml.md` §1.2).
//!
//! Default-namespace root, `edXML:`-prefixed envelope declared on `edXMLEnvelope`, unprefixed
//! `AttachmentEncoded` children, `edXML:ContentTransferEncoded` redeclaring the prefix, base64
//! without line breaks, empty optional elements omitted, numeric `Priority`, `SteeringType`,
//! `Type` and `BussinessDocType` always written. Two-space indentation, LF line ends.

use std::io::{self, Cursor, Read, Write};

use quick_xml::escape::{escape, partial_escape};

use super::base64_stream::encode_stream;
use super::names::{extension, DATE_FORMAT, EDXML_NS, TIMESTAMP_FORMAT};
use super::{
    Attachment, Business, DocumentPacket, EdxmlError, Organization, Packet, ResponseFor, StaffInfo, StatusPacket,
    Transfer,
};

/// The bytes of one attachment, read once while building.
pub type AttachmentSource<'a> = Box<dyn Read + 'a>;

/// Builds `packet` into a vector (for small packets and tests).
pub fn build_to_vec(packet: &Packet, sources: Vec<AttachmentSource<'_>>) -> Result<Vec<u8>, EdxmlError> {
    let mut out = Vec::new();
    build(packet, sources, &mut out)?;
    Ok(out)
}

/// Writes `packet` to `out`. A document packet needs one source per entry of its
/// `attachments`, in the same order; a status packet takes none. Required fields are checked
/// before anything is written.
pub fn build<W: Write>(packet: &Packet, sources: Vec<AttachmentSource<'_>>, out: W) -> Result<(), EdxmlError> {
    build_with_signature(packet, sources, out, None)
}

/// [`build`], with a ready `Signature` element written in `edXMLHeader` after
/// `TraceHeaderList` (brief `edxml.md` §5; used by `edxml::dsig`). Status packets take none.
pub(crate) fn build_with_signature<W: Write>(
    packet: &Packet,
    sources: Vec<AttachmentSource<'_>>,
    out: W,
    signature: Option<&str>,
) -> Result<(), EdxmlError> {
    match packet {
        Packet::Document(d) => {
            check_document(d, sources.len())?;
            let mut w = XmlOut::new(out);
            write_document(&mut w, d, sources, signature)?;
            w.out.flush()?;
        }
        Packet::Status(s) => {
            check_status(s)?;
            if !sources.is_empty() {
                return Err(EdxmlError::AttachmentCount(0, sources.len()));
            }
            let mut w = XmlOut::new(out);
            write_status(&mut w, s)?;
            w.out.flush()?;
        }
    }
    Ok(())
}

/// Checks the fields a build needs (attachment sources aside).
pub fn check_required(packet: &Packet) -> Result<(), EdxmlError> {
    match packet {
        Packet::Document(d) => check_document(d, d.attachments.len()),
        Packet::Status(s) => check_status(s),
    }
}

fn require(v: &Option<String>, field: &'static str) -> Result<(), EdxmlError> {
    match v.as_deref() {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(EdxmlError::MissingField(field)),
    }
}

fn check_document(d: &DocumentPacket, sources: usize) -> Result<(), EdxmlError> {
    require(&d.from.organ_id, "from.organ_id")?;
    if d.to.is_empty() {
        return Err(EdxmlError::MissingField("to"));
    }
    for t in &d.to {
        require(&t.organ_id, "to[].organ_id")?;
    }
    require(&d.document_id, "document_id")?;
    require(&d.code.number, "code.number")?;
    require(&d.code.notation, "code.notation")?;
    if d.promulgation.date.is_none() {
        return Err(EdxmlError::MissingField("promulgation.date"));
    }
    require(&d.subject, "subject")?;
    for a in &d.attachments {
        require(&a.content_id, "attachments[].content_id")?;
        require(&a.name, "attachments[].name")?;
        require(&a.content_type, "attachments[].content_type")?;
    }
    if d.attachments.len() != sources {
        return Err(EdxmlError::AttachmentCount(d.attachments.len(), sources));
    }
    Ok(())
}

fn check_status(s: &StatusPacket) -> Result<(), EdxmlError> {
    require(&s.from.organ_id, "from.organ_id")?;
    require(&s.response_for.organ_id, "response_for.organ_id")?;
    require(&s.response_for.code, "response_for.code")?;
    require(&s.response_for.document_id, "response_for.document_id")?;
    if s.status_code.as_str().trim().is_empty() {
        return Err(EdxmlError::MissingField("status_code"));
    }
    if s.timestamp.is_none() {
        return Err(EdxmlError::MissingField("timestamp"));
    }
    Ok(())
}

/// Indented element writer.
struct XmlOut<W: Write> {
    out: W,
    depth: usize,
}

const E: &str = "edXML:";

impl<W: Write> XmlOut<W> {
    fn new(out: W) -> Self {
        Self { out, depth: 0 }
    }

    fn indent(&mut self) -> io::Result<()> {
        for _ in 0..self.depth {
            self.out.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open(&mut self, prefix: &str, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.indent()?;
        write!(self.out, "<{prefix}{name}")?;
        for (k, v) in attrs {
            write!(self.out, " {k}=\"{}\"", escape(*v))?;
        }
        self.out.write_all(b">\n")?;
        self.depth += 1;
        Ok(())
    }

    fn close(&mut self, prefix: &str, name: &str) -> io::Result<()> {
        self.depth -= 1;
        self.indent()?;
        writeln!(self.out, "</{prefix}{name}>")
    }

    fn leaf(&mut self, prefix: &str, name: &str, text: &str) -> io::Result<()> {
        self.indent()?;
        writeln!(self.out, "<{prefix}{name}>{}</{prefix}{name}>", partial_escape(text))
    }

    /// An optional text element: omitted when absent or empty.
    fn opt(&mut self, prefix: &str, name: &str, text: &Option<String>) -> io::Result<()> {
        match text.as_deref() {
            Some(t) if !t.is_empty() => self.leaf(prefix, name, t),
            _ => Ok(()),
        }
    }

    fn e(&mut self, name: &str, text: &Option<String>) -> io::Result<()> {
        self.opt(E, name, text)
    }

    fn num(&mut self, name: &str, n: i64) -> io::Result<()> {
        self.leaf(E, name, &n.to_string())
    }
}

fn date(d: &Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.format(DATE_FORMAT).to_string())
}

fn timestamp(t: &Option<chrono::NaiveDateTime>) -> Option<String> {
    t.map(|t| t.format(TIMESTAMP_FORMAT).to_string())
}

fn envelope_open<W: Write>(w: &mut XmlOut<W>) -> io::Result<()> {
    w.out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
    w.open("", "edXML", &[("xmlns", EDXML_NS)])?;
    w.open(E, "edXMLEnvelope", &[("xmlns:edXML", EDXML_NS)])?;
    w.open(E, "edXMLHeader", &[])?;
    w.open(E, "MessageHeader", &[])
}

fn organization<W: Write>(w: &mut XmlOut<W>, name: &str, o: &Organization) -> io::Result<()> {
    w.open(E, name, &[])?;
    w.e("OrganId", &o.organ_id)?;
    w.e("OrganizationInCharge", &o.organization_in_charge)?;
    w.e("OrganName", &o.organ_name)?;
    w.e("OrganAdd", &o.organ_add)?;
    w.e("Email", &o.email)?;
    w.e("Telephone", &o.telephone)?;
    w.e("Fax", &o.fax)?;
    w.e("Website", &o.website)?;
    w.close(E, name)
}

fn response_for<W: Write>(w: &mut XmlOut<W>, r: &ResponseFor) -> io::Result<()> {
    w.open(E, "ResponseFor", &[])?;
    w.e("OrganId", &r.organ_id)?;
    w.e("Code", &r.code)?;
    w.e("DocumentId", &r.document_id)?;
    w.e("PromulgationDate", &date(&r.promulgation_date))?;
    w.close(E, "ResponseFor")
}

fn staff_info<W: Write>(w: &mut XmlOut<W>, s: &StaffInfo) -> io::Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    w.open(E, "StaffInfo", &[])?;
    w.e("Department", &s.department)?;
    w.e("DepartmentId", &s.department_id)?;
    w.e("Staff", &s.staff)?;
    w.e("StaffId", &s.staff_id)?;
    w.e("Email", &s.email)?;
    w.e("Mobile", &s.mobile)?;
    w.close(E, "StaffInfo")
}

fn write_status<W: Write>(w: &mut XmlOut<W>, s: &StatusPacket) -> io::Result<()> {
    envelope_open(w)?;
    organization(w, "From", &s.from)?;
    response_for(w, &s.response_for)?;
    if let Some(staff) = &s.staff {
        staff_info(w, staff)?;
    }
    w.leaf(E, "StatusCode", s.status_code.as_str())?;
    w.e("Description", &s.description)?;
    w.e("Timestamp", &timestamp(&s.timestamp))?;
    w.close(E, "MessageHeader")?;
    w.close(E, "edXMLHeader")?;
    w.close(E, "edXMLEnvelope")?;
    w.close("", "edXML")
}

fn message_header<W: Write>(w: &mut XmlOut<W>, d: &DocumentPacket) -> io::Result<()> {
    organization(w, "From", &d.from)?;
    for t in &d.to {
        organization(w, "To", t)?;
    }
    w.e("DocumentId", &d.document_id)?;
    w.open(E, "Code", &[])?;
    w.e("CodeNumber", &d.code.number)?;
    w.e("CodeNotation", &d.code.notation)?;
    w.close(E, "Code")?;
    w.open(E, "PromulgationInfo", &[])?;
    w.e("Place", &d.promulgation.place)?;
    w.e("PromulgationDate", &date(&d.promulgation.date))?;
    w.close(E, "PromulgationInfo")?;
    w.open(E, "DocumentType", &[])?;
    w.num("Type", d.document_type.type_class)?;
    if let Some(detail) = d.document_type.detail {
        w.num("TypeDetail", detail)?;
    }
    w.e("TypeName", &d.document_type.name)?;
    w.close(E, "DocumentType")?;
    w.e("Subject", &d.subject)?;
    w.e("Content", &d.content)?;
    let s = &d.signer;
    if s.competence.is_some() || s.position.is_some() || s.full_name.is_some() {
        w.open(E, "SignerInfo", &[])?;
        w.e("Competence", &s.competence)?;
        w.e("Position", &s.position)?;
        w.e("FullName", &s.full_name)?;
        w.close(E, "SignerInfo")?;
    }
    w.e("DueDate", &date(&d.due_date))?;
    let o = &d.other_info;
    w.open(E, "OtherInfo", &[])?;
    w.num("Priority", o.priority.into())?;
    w.e("SphereOfPromulgation", &o.sphere_of_promulgation)?;
    w.e("TyperNotation", &o.typer_notation)?;
    if let Some(n) = o.promulgation_amount {
        w.num("PromulgationAmount", n.into())?;
    }
    if let Some(n) = o.page_amount {
        w.num("PageAmount", n.into())?;
    }
    w.e("ReplyFors", &o.reply_fors)?;
    if let Some(dir) = o.direction {
        w.leaf(E, "Direction", if dir { "true" } else { "false" })?;
    }
    w.e("ReferenceCodes", &o.reference_codes)?;
    if !o.appendixes.is_empty() {
        w.open(E, "Appendixes", &[])?;
        for a in &o.appendixes {
            w.leaf(E, "Appendix", a)?;
        }
        w.close(E, "Appendixes")?;
    }
    w.close(E, "OtherInfo")?;
    for r in d.response_for.iter().filter(|r| !r.is_empty()) {
        response_for(w, r)?;
    }
    w.num("SteeringType", d.steering_type)?;
    if !d.task_codes.is_empty() {
        w.open(E, "ResponseForTask", &[])?;
        for t in &d.task_codes {
            w.leaf(E, "TaskCode", t)?;
        }
        w.close(E, "ResponseForTask")?;
    }
    w.e("ApplicationType", &d.application_type)?;
    if !d.to_places.is_empty() {
        w.open(E, "ToPlaces", &[])?;
        for p in &d.to_places {
            w.leaf(E, "Place", p)?;
        }
        w.close(E, "ToPlaces")?;
    }
    Ok(())
}

fn business<W: Write>(w: &mut XmlOut<W>, b: &Business) -> io::Result<()> {
    w.open(E, "Bussiness", &[])?;
    w.e("DocumentId", &b.document_id)?;
    w.num("BussinessDocType", b.doc_type.into())?;
    w.e("BussinessDocReason", &b.reason)?;
    if let Some(p) = b.paper {
        w.num("Paper", p)?;
    }
    if let Some(info) = &b.document_info {
        w.open(E, "BussinessDocumentInfo", &[])?;
        if let Some(n) = info.document_info {
            w.num("DocumentInfo", n)?;
        }
        if let Some(n) = info.document_receiver {
            w.num("DocumentReceiver", n)?;
        }
        if !info.receivers.is_empty() {
            w.open(E, "ReceiverList", &[])?;
            for r in &info.receivers {
                w.open(E, "Receiver", &[])?;
                w.e("OrganId", &r.organ_id)?;
                w.num("ReceiverType", r.receiver_type)?;
                w.close(E, "Receiver")?;
            }
            w.close(E, "ReceiverList")?;
        }
        w.close(E, "BussinessDocumentInfo")?;
    }
    if !b.replacements.is_empty() {
        w.open(E, "ReplacementInfoList", &[])?;
        for r in &b.replacements {
            w.open(E, "ReplacementInfo", &[])?;
            w.e("DocumentId", &r.document_id)?;
            if !r.organ_ids.is_empty() {
                w.open(E, "OrganIdList", &[])?;
                for o in &r.organ_ids {
                    w.leaf(E, "OrganId", o)?;
                }
                w.close(E, "OrganIdList")?;
            }
            w.close(E, "ReplacementInfo")?;
        }
        w.close(E, "ReplacementInfoList")?;
    }
    if let Some(s) = &b.staff {
        staff_info(w, s)?;
    }
    w.close(E, "Bussiness")
}

/// The ContentType written on the `Attachment`: `application/zip` when zipped.
fn wire_type(a: &Attachment) -> &str {
    match a.transfer {
        Transfer::Zipped => "application/zip",
        Transfer::Raw => a.content_type.as_deref().unwrap_or_default(),
    }
}

fn write_document<W: Write>(
    w: &mut XmlOut<W>,
    d: &DocumentPacket,
    sources: Vec<AttachmentSource<'_>>,
    signature: Option<&str>,
) -> Result<(), EdxmlError> {
    envelope_open(w)?;
    message_header(w, d)?;
    w.close(E, "MessageHeader")?;
    let t = &d.trace;
    let mut attrs = Vec::new();
    if let Some(id) = t.id.as_deref().filter(|s| !s.is_empty()) {
        attrs.push(("id", id));
    }
    if let Some(v) = t.version.as_deref().filter(|s| !s.is_empty()) {
        attrs.push(("version", v));
    }
    w.open(E, "TraceHeaderList", &attrs)?;
    if let Some(p) = t.paper {
        w.num("Paper", p)?;
    }
    if let Some(b) = &t.business {
        business(w, b)?;
    }
    for h in &t.trace_headers {
        w.open(E, "TraceHeader", &[])?;
        w.e("OrganId", &h.organ_id)?;
        w.e("Timestamp", &timestamp(&h.timestamp))?;
        w.close(E, "TraceHeader")?;
    }
    w.close(E, "TraceHeaderList")?;
    if let Some(signature) = signature {
        w.indent()?;
        w.out.write_all(signature.as_bytes())?;
        w.out.write_all(b"\n")?;
    }
    w.close(E, "edXMLHeader")?;
    w.open(E, "edXMLBody", &[])?;
    w.open(E, "edXMLManifest", &[("version", "1.0")])?;
    for a in &d.attachments {
        w.open(E, "Reference", &[])?;
        w.leaf(
            E,
            "ContentId",
            &format!("cid:{}", a.content_id.as_deref().unwrap_or_default()),
        )?;
        w.e("ContentType", &a.content_type)?;
        w.e("Description", &a.description)?;
        w.e("AttachmentName", &a.name)?;
        w.close(E, "Reference")?;
    }
    w.close(E, "edXMLManifest")?;
    w.close(E, "edXMLBody")?;
    w.close(E, "edXMLEnvelope")?;
    if !d.attachments.is_empty() {
        w.open("", "AttachmentEncoded", &[])?;
        for (a, mut source) in d.attachments.iter().zip(sources) {
            w.open("", "Attachment", &[])?;
            w.leaf(
                "",
                "ContentId",
                &format!("cid:{}", a.content_id.as_deref().unwrap_or_default()),
            )?;
            w.opt("", "AttachmentName", &a.name)?;
            w.opt("", "Description", &a.description)?;
            w.opt("", "FieldName", &a.field_name)?;
            w.opt("", "MimeType", &a.mime_type)?;
            w.leaf("", "ContentType", wire_type(a))?;
            w.indent()?;
            write!(w.out, "<edXML:ContentTransferEncoded xmlns:edXML=\"{EDXML_NS}\">")?;
            match a.transfer {
                Transfer::Raw => {
                    encode_stream(&mut source, &mut w.out)?;
                }
                Transfer::Zipped => {
                    let zipped = zip_one(a, &mut source)?;
                    encode_stream(&mut zipped.as_slice(), &mut w.out)?;
                }
            }
            w.out.write_all(b"</edXML:ContentTransferEncoded>\n")?;
            w.close("", "Attachment")?;
        }
        w.close("", "AttachmentEncoded")?;
    }
    w.close("", "edXML")?;
    Ok(())
}

/// A zip with one deflated entry named `<content id>.<ext>`, as the axis delivers attachments.
/// The compressed copy is held in memory (the file itself streams through the compressor).
fn zip_one(a: &Attachment, source: &mut dyn Read) -> Result<Vec<u8>, EdxmlError> {
    let zip_err = |e: zip::result::ZipError| EdxmlError::Zip {
        attachment: a.name.clone().unwrap_or_default(),
        message: e.to_string(),
    };
    let mut entry = a.content_id.clone().unwrap_or_default();
    if let Some(ext) = a.name.as_deref().and_then(extension) {
        entry.push('.');
        entry.push_str(&ext);
    }
    let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .large_file(true);
    zw.start_file(entry, options).map_err(zip_err)?;
    io::copy(source, &mut zw)?;
    Ok(zw.finish().map_err(zip_err)?.into_inner())
}
