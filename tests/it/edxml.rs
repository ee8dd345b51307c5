//! The edXML parser on the real sample packets (../shared/fixtures/edxml), read in place, with
//! their key fields asserted; and the parser's answers to bad input.

use chrono::{NaiveDate, NaiveDateTime};
use vanthu::edxml::{
    self, BusinessDocType, DiscardSink, DocumentPacket, EdxmlError, Limits, MemorySink, Packet, Priority, StatusCode,
    StatusPacket, Transfer,
};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/edxml");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture is readable")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn ts(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y/%m/%d %H:%M:%S").expect("valid timestamp")
}

fn parse_doc(name: &str) -> (DocumentPacket, MemorySink, edxml::Parsed) {
    let mut sink = MemorySink::default();
    let parsed =
        edxml::parse_bytes(&fixture(name), &mut sink, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let doc = match &parsed.packet {
        Packet::Document(d) => (**d).clone(),
        Packet::Status(_) => panic!("{name}: parsed as a status packet"),
    };
    (doc, sink, parsed)
}

fn parse_status(name: &str) -> StatusPacket {
    let parsed = edxml::parse_bytes(&fixture(name), &mut DiscardSink, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    match parsed.packet {
        Packet::Status(s) => *s,
        Packet::Document(_) => panic!("{name}: parsed as a document packet"),
    }
}

fn ids(orgs: &[vanthu::edxml::Organization]) -> Vec<&str> {
    orgs.iter().map(|o| o.organ_id.as_deref().unwrap_or("")).collect()
}

#[test]
fn new_document_with_a_zipped_nested_edxml_attachment() {
    let (d, sink, _) = parse_doc("edoc_new.edxml");
    assert_eq!(d.from.organ_id.as_deref(), Some("002.00.20.H13"));
    assert_eq!(
        d.from.organ_name.as_deref(),
        Some("UBND xã Hòa Tiến - UBND huyện Hòa Vang - Thành phố Đà Nẵng")
    );
    assert_eq!(ids(&d.to), ["28.22.H17"]);
    assert_eq!(
        d.document_id.as_deref(),
        Some("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT")
    );
    assert_eq!(d.code.number.as_deref(), Some("74fass22"));
    assert_eq!(d.code.notation.as_deref(), Some("VPCP-TTĐT"));
    assert_eq!(d.promulgation.place.as_deref(), Some("Hà Nội"));
    assert_eq!(d.promulgation.date, Some(date(2019, 1, 16)));
    assert_eq!(d.due_date, Some(date(2018, 9, 28)));
    assert_eq!(d.document_type.type_class, 1);
    assert_eq!(d.document_type.detail, Some(0));
    assert_eq!(d.document_type.name.as_deref(), Some("Công văn"));
    assert_eq!(
        d.subject.as_deref(),
        Some("V/v kết nối, liên thông phần mềm quản lý văn bản")
    );
    assert_eq!(d.signer.full_name.as_deref(), Some("Nguyen Thanh Phuc"));
    assert_eq!(d.other_info.priority, Priority::Normal);
    assert_eq!(d.other_info.typer_notation.as_deref(), Some("TVC"));
    assert_eq!(d.steering_type, 1);
    assert_eq!(d.business_doc_type(), BusinessDocType::New);
    assert_eq!(d.trace.trace_headers.len(), 1);
    assert_eq!(d.trace.trace_headers[0].organ_id.as_deref(), Some("000.00.00.G22"));
    assert_eq!(d.trace.trace_headers[0].timestamp, Some(ts("2018/09/28 00:00:00")));

    assert_eq!(d.attachments.len(), 1);
    let a = &d.attachments[0];
    assert_eq!(a.name.as_deref(), Some("1896_QD-TTg_m_294779.doc"));
    assert_eq!(a.transfer, Transfer::Zipped);
    assert_eq!(a.content_type.as_deref(), Some("application/doc"));
    assert_eq!(a.size, Some(388_347));
    let bytes = sink.get(0).expect("attachment 0 decoded");
    assert_eq!(bytes.len(), 388_347);

    // The attachment is itself an edXML packet carrying a raw base64 PDF.
    let mut inner_sink = MemorySink::default();
    let inner = edxml::parse_bytes(bytes, &mut inner_sink, &Limits::default()).expect("nested packet");
    let Packet::Document(inner) = inner.packet else {
        panic!("nested packet is a document")
    };
    assert_eq!(inner.from.organ_id.as_deref(), Some("14.00.W00"));
    let pdf = inner
        .attachments
        .iter()
        .position(|a| a.size == Some(284_937))
        .expect("the PDF attachment");
    assert_eq!(
        inner.attachments[pdf].name.as_deref(),
        Some("GUIDE_INSTALL OPENVPN.SIGNED.PDF")
    );
    assert_eq!(inner.attachments[pdf].content_type.as_deref(), Some("application/pdf"));
    assert!(inner_sink.get(pdf).expect("pdf bytes").starts_with(b"%PDF-1.5"));
}

#[test]
fn update_revocation_and_replacement_business_blocks() {
    let (u, _, _) = parse_doc("edoc_update.edxml");
    assert_eq!(u.from.organ_id.as_deref(), Some("000.00.00.G22"));
    assert_eq!(ids(&u.to), ["000.00.00.H41", "000.00.00.H14", "000.00.00.G17"]);
    assert_eq!(u.code.number.as_deref(), Some("7816"));
    assert_eq!(u.promulgation.date, Some(date(2018, 9, 28)));
    let b = u.trace.business.as_ref().expect("Bussiness");
    assert_eq!(b.doc_type, BusinessDocType::Update);
    assert_eq!(
        b.document_id.as_deref(),
        Some("000.00.00.G22,2014/02/30,7806/VPCP-TTĐT")
    );
    assert_eq!(b.reason.as_deref(), Some("Cập nhật văn bản điện tử"));
    assert_eq!(b.paper, Some(0));
    let info = b.document_info.as_ref().expect("BussinessDocumentInfo");
    assert_eq!((info.document_info, info.document_receiver), (Some(1), Some(1)));
    let receivers: Vec<_> = info
        .receivers
        .iter()
        .map(|r| (r.organ_id.as_deref().unwrap_or(""), r.receiver_type))
        .collect();
    assert_eq!(receivers, [("000.00.00.H41", 0), ("000.00.00.H14", 1)]);
    assert_eq!(
        b.staff.as_ref().and_then(|s| s.staff.as_deref()),
        Some("Nguyễn Thị Ngọc Trâm")
    );
    assert_eq!(u.attachments[0].size, Some(388_347));

    let (r, _, _) = parse_doc("edoc_revocation.edxml");
    assert_eq!(r.business_doc_type(), BusinessDocType::Revoke);
    assert_eq!(
        r.trace.business.as_ref().and_then(|b| b.reason.as_deref()),
        Some("Thu hồi văn bản điện tử")
    );
    assert_eq!(r.response_for.len(), 1);
    assert_eq!(r.response_for[0].organ_id.as_deref(), Some("000.00.00.H14"));
    assert_eq!(r.response_for[0].code.as_deref(), Some("267/VPCP-TTĐT"));
    assert_eq!(
        r.response_for[0].document_id.as_deref(),
        Some("000.00.04.G14,2012/08/06,267/VPCP-TTĐT")
    );
    assert_eq!(r.response_for[0].promulgation_date, Some(date(2018, 9, 28)));

    let (p, _, _) = parse_doc("edoc_replacement.edxml");
    let b = p.trace.business.as_ref().expect("Bussiness");
    assert_eq!(b.doc_type, BusinessDocType::Replace);
    assert_eq!(b.replacements.len(), 2);
    assert_eq!(
        b.replacements[0].document_id.as_deref(),
        Some("000.00.00.G22,2014/01/30,7806/VPCP-TTĐT")
    );
    assert_eq!(b.replacements[0].organ_ids, ["000.00.00.H41", "000.00.00.H14"]);
}

#[test]
fn lenient_case_undeclared_prefix_xmldsig_and_placeholder_attachment() {
    let input = fixture("edoc.edxml");
    // Strict (the default): the JMeter placeholder is not base64.
    let err = edxml::parse_bytes(&input, &mut DiscardSink, &Limits::default()).expect_err("placeholder");
    assert!(matches!(err, EdxmlError::Base64 { .. }), "{err}");

    let limits = Limits {
        skip_undecodable: true,
        ..Limits::default()
    };
    let mut sink = MemorySink::default();
    let parsed = edxml::parse_bytes(&input, &mut sink, &limits).expect("lenient parse");
    assert!(parsed.signature_present);
    assert!(
        parsed.warnings.iter().any(|w| w.0.contains("invalid base64")),
        "{:?}",
        parsed.warnings
    );
    let Packet::Document(d) = parsed.packet else {
        panic!("document")
    };
    assert_eq!(d.from.organ_id.as_deref(), Some("002.00.20.H13"));
    assert_eq!(ids(&d.to), ["000.00.15.H51"]);
    // DocumentId comes last in this file; the empty ResponseFor is dropped.
    assert_eq!(d.document_id.as_deref(), Some("9fbfbad2-f1f8-4256-a2eb-50fb1061cddb"));
    assert!(d.response_for.is_empty());
    assert_eq!(d.code.number.as_deref(), Some("12234555512"));
    assert_eq!(d.code.notation.as_deref(), Some("PRO-TEST-CASE1"));
    assert_eq!(d.promulgation.date, Some(date(2019, 1, 17)));
    assert_eq!(d.document_type.name.as_deref(), Some("Thông tư"));
    assert_eq!(d.document_type.detail, None);
    assert_eq!(d.subject.as_deref(), Some("Văn bản liên thông chỉ đạo - 190701"));
    assert_eq!(d.to_places, ["Các bộ"]);
    assert_eq!(d.other_info.appendixes, ["Phụ lục"]);
    assert_eq!(d.other_info.page_amount, Some(2));
    assert_eq!(d.signer.competence.as_deref(), Some("Quyền 1"));
    // The signature's own Reference is not mistaken for a manifest entry.
    assert_eq!(d.attachments.len(), 1);
    let a = &d.attachments[0];
    assert_eq!(a.content_id.as_deref(), Some("36b8a92e-f054-11e7-842b-005056b672fc"));
    assert_eq!(a.name.as_deref(), Some("GUIDE_INSTALL OPENVPN.SIGNED.PDF"));
    assert_eq!(a.description.as_deref(), Some("Description 1"));
    assert_eq!(a.size, None);
    assert!(sink.files.is_empty(), "the failed attachment was discarded");
}

#[test]
fn every_status_fixture() {
    let cases = [
        (
            "status.edxml",
            StatusCode::Arrived,
            "000.00.00.H41",
            "000.00.00.G22",
            "2018/09/28 17:25:11",
        ),
        (
            "status_inbox_01.edxml",
            StatusCode::Arrived,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_rejection_02.edxml",
            StatusCode::Rejected,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_acceptance_03.edxml",
            StatusCode::Accepted,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_assignment_04.edxml",
            StatusCode::Assigned,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_processing_05.edxml",
            StatusCode::Processing,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_finish_06.edxml",
            StatusCode::Done,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_cancellation_13.edxml",
            StatusCode::Recall,
            "000.00.00.G22",
            "000.00.00.H41",
            "2015/09/20 11:08:36",
        ),
        (
            "status_change-acceptance_15.edxml",
            StatusCode::ChangeAccepted,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
        (
            "status_change-rejection_16.edxml",
            StatusCode::ChangeRejected,
            "000.00.00.H41",
            "000.00.00.G22",
            "2015/09/20 11:08:36",
        ),
    ];
    for (name, code, from, to, when) in cases {
        let s = parse_status(name);
        assert_eq!(s.status_code, code, "{name}");
        assert_eq!(s.from.organ_id.as_deref(), Some(from), "{name}");
        assert_eq!(s.response_for.organ_id.as_deref(), Some(to), "{name}");
        assert_eq!(s.response_for.code.as_deref(), Some("7816/VPCP-TTĐT"), "{name}");
        assert_eq!(
            s.response_for.document_id.as_deref(),
            Some("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"),
            "{name}"
        );
        assert_eq!(s.timestamp, Some(ts(when)), "{name}");
        assert!(s.description.as_deref().is_some_and(|d| !d.is_empty()), "{name}");
    }
    let s = parse_status("status_cancellation_13.edxml");
    assert_eq!(
        s.description.as_deref(),
        Some("Văn thư yêu cầu lấy lại văn bản điện tử kèm lý do")
    );
    assert_eq!(s.staff.as_ref().and_then(|s| s.mobile.as_deref()), Some("84912000001"));
    assert_eq!(s.response_for.promulgation_date, Some(date(2015, 9, 30)));
}

#[test]
fn unknown_status_codes_are_kept() {
    let text = String::from_utf8(fixture("status_finish_06.edxml"))
        .expect("utf8")
        .replace(">06<", ">09<");
    let parsed = edxml::parse_bytes(text.as_bytes(), &mut DiscardSink, &Limits::default()).expect("parse");
    let Packet::Status(s) = parsed.packet else {
        panic!("status")
    };
    assert_eq!(s.status_code, StatusCode::Other("09".into()));
}

// ---------------------------------------------------------------------------------------------
// Lenient reading of what real packets do.

const NS: &str = "http://www.mic.gov.vn/TBT/QCVN_102_2016";

fn doc_of(xml: &str) -> DocumentPacket {
    let parsed = edxml::parse_bytes(xml.as_bytes(), &mut DiscardSink, &Limits::default())
        .unwrap_or_else(|e| panic!("{e}\n{xml}"));
    match parsed.packet {
        Packet::Document(d) => *d,
        Packet::Status(_) => panic!("status"),
    }
}

#[test]
fn any_prefix_any_order_null_and_date_variants() {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ns9:edXML xmlns:ns9="{NS}"><x:edXMLEnvelope><x:edXMLHeader><x:MessageHeader>
  <DocumentId>d-1</DocumentId>
  <x:SteeringType> 2 </x:SteeringType>
  <To><OrganId>000.00.00.H41</OrganId><OrganName>null</OrganName></To>
  <PromulgationInfo><PromulgationDate>30/10/2020</PromulgationDate><Place/></PromulgationInfo>
  <From><OrganName>Văn phòng &amp; Bộ &#272;</OrganName><OrganId>000.00.00.G22</OrganId></From>
  <Unknown><Deep>ignored</Deep></Unknown>
  <OtherInfo><Priority>3</Priority><Direction>false</Direction></OtherInfo>
  <DueDate></DueDate>
  <Subject><![CDATA[V/v <thử>]]></Subject>
</x:MessageHeader>
<TraceHeaderList><TraceHeader><Timestamp>2025-01-02T03:04:05</Timestamp></TraceHeader></TraceHeaderList>
</x:edXMLHeader></x:edXMLEnvelope></ns9:edXML>"#
    );
    let d = doc_of(&xml);
    assert_eq!(d.document_id.as_deref(), Some("d-1"));
    assert_eq!(d.steering_type, 2);
    assert_eq!(d.to[0].organ_name, None, "null is absent");
    assert_eq!(d.from.organ_name.as_deref(), Some("Văn phòng & Bộ Đ"));
    assert_eq!(d.promulgation.date, Some(date(2020, 10, 30)));
    assert_eq!(d.promulgation.place, None);
    assert_eq!(d.other_info.priority, Priority::Express);
    assert_eq!(d.other_info.direction, Some(false));
    assert_eq!(d.due_date, None);
    assert_eq!(d.subject.as_deref(), Some("V/v <thử>"));
    assert_eq!(d.trace.trace_headers[0].organ_id, None);
    assert_eq!(d.trace.trace_headers[0].timestamp, Some(ts("2025/01/02 03:04:05")));
}

fn packet_with_attachment(content_type: &str, name: &str, base64: &str) -> String {
    format!(
        r#"<edXML xmlns="{NS}"><edXML:edXMLEnvelope xmlns:edXML="{NS}"><edXML:edXMLHeader><edXML:MessageHeader>
<edXML:From><edXML:OrganId>000.00.00.G22</edXML:OrganId></edXML:From>
</edXML:MessageHeader></edXML:edXMLHeader><edXML:edXMLBody><edXML:edXMLManifest version="1.0">
<edXML:Reference><edXML:ContentId>cid:a1</edXML:ContentId><edXML:ContentType>application/pdf</edXML:ContentType><edXML:AttachmentName>{name}</edXML:AttachmentName></edXML:Reference>
</edXML:edXMLManifest></edXML:edXMLBody></edXML:edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentId>a1</ContentId><AttachmentName>{name}</AttachmentName><ContentType>{content_type}</ContentType>
<edXML:ContentTransferEncoded xmlns:edXML="{NS}">{base64}</edXML:ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>"#
    )
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zw = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        zw.start_file(*name, opts).expect("zip entry");
        zw.write_all(data).expect("zip write");
    }
    zw.finish().expect("zip finish").into_inner()
}

#[test]
fn cid_prefix_is_stripped_and_base64_with_line_breaks_is_accepted() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let wrapped: String = b64(&data)
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let xml = packet_with_attachment("application/pdf", "a.pdf", &wrapped);
    let mut sink = MemorySink::default();
    let parsed = edxml::parse_bytes(xml.as_bytes(), &mut sink, &Limits::default()).expect("parse");
    let Packet::Document(d) = parsed.packet else {
        panic!("document")
    };
    assert_eq!(d.attachments.len(), 1, "manifest and encoded attachment merged by cid");
    assert_eq!(d.attachments[0].content_id.as_deref(), Some("a1"));
    assert_eq!(d.attachments[0].size, Some(5000));
    assert_eq!(sink.get(0), Some(data.as_slice()));
}

#[test]
fn zipped_attachment_gives_its_single_entry() {
    let pdf = b"%PDF-1.7 fake".repeat(100);
    let xml = packet_with_attachment("application/zip", "QĐ 12.pdf", &b64(&zip_of(&[("x.PDF", &pdf)])));
    let mut sink = MemorySink::default();
    let parsed = edxml::parse_bytes(xml.as_bytes(), &mut sink, &Limits::default()).expect("parse");
    let Packet::Document(d) = parsed.packet else {
        panic!("document")
    };
    assert_eq!(d.attachments[0].name.as_deref(), Some("QĐ 12.pdf"));
    assert_eq!(d.attachments[0].transfer, Transfer::Zipped);
    assert_eq!(d.attachments[0].content_type.as_deref(), Some("application/pdf"));
    assert_eq!(sink.get(0), Some(pdf.as_slice()));

    // A real .zip attachment stays a zip.
    let z = zip_of(&[("a.txt", b"a"), ("b.txt", b"b")]);
    let xml = packet_with_attachment("application/zip", "both.zip", &b64(&z));
    let mut sink = MemorySink::default();
    edxml::parse_bytes(xml.as_bytes(), &mut sink, &Limits::default()).expect("parse");
    assert_eq!(sink.get(0), Some(z.as_slice()));
}

// ---------------------------------------------------------------------------------------------
// Bad input: typed errors, no panic, bounded work.

fn parse_err(xml: &[u8], limits: &Limits) -> EdxmlError {
    let mut sink = MemorySink::default();
    let err = edxml::parse_bytes(xml, &mut sink, limits).expect_err("must be refused");
    assert!(sink.files.is_empty(), "nothing kept from a refused packet: {err}");
    err
}

#[test]
fn doctype_and_entity_declarations_are_refused() {
    let billion = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<edXML><x>&lol2;</x></edXML>"#;
    assert!(matches!(parse_err(billion, &Limits::default()), EdxmlError::Doctype));
    let external = br#"<!DOCTYPE edXML SYSTEM "http://127.0.0.1:1/evil.dtd"><edXML/>"#;
    assert!(matches!(parse_err(external, &Limits::default()), EdxmlError::Doctype));
    let undeclared = b"<edXML><Subject>&xxe;</Subject></edXML>";
    assert!(matches!(parse_err(undeclared, &Limits::default()), EdxmlError::UnknownEntity(n) if n == "xxe"));
}

#[test]
fn nesting_depth_is_limited() {
    let mut xml = String::from("<edXML>");
    for _ in 0..100_000 {
        xml.push_str("<a>");
    }
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::TooDeep(64)
    ));
}

#[test]
fn invalid_utf8_is_refused() {
    let mut xml =
        format!("<edXML xmlns=\"{NS}\"><edXML:edXMLEnvelope><edXML:edXMLHeader><edXML:MessageHeader><Subject>")
            .into_bytes();
    xml.extend_from_slice(&[0xC3, 0x28, 0xFF]);
    xml.extend_from_slice(b"</Subject></edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML>");
    assert!(matches!(
        parse_err(&xml, &Limits::default()),
        EdxmlError::InvalidUtf8(_)
    ));
}

#[test]
fn base64_garbage_is_refused() {
    let xml = packet_with_attachment("application/pdf", "a.pdf", "QUJD!!!!");
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::Base64 { .. }
    ));
    let xml = packet_with_attachment("application/pdf", "a.pdf", "QQ==QUJD");
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::Base64 { .. }
    ));
}

#[test]
fn attachment_over_the_limit_is_refused() {
    let limits = Limits {
        max_attachment_bytes: 1000,
        ..Limits::default()
    };
    let xml = packet_with_attachment("application/pdf", "a.pdf", &b64(&[7u8; 1001]));
    assert!(matches!(
        parse_err(xml.as_bytes(), &limits),
        EdxmlError::AttachmentTooLarge { limit: 1000, .. }
    ));
    let xml = packet_with_attachment("application/pdf", "a.pdf", &b64(&[7u8; 1000]));
    edxml::parse_bytes(xml.as_bytes(), &mut DiscardSink, &limits).expect("exactly the limit is fine");
}

#[test]
fn zip_bombs_and_multi_entry_zips_are_refused() {
    // 64 MiB of zeros deflate to ~64 KiB; the limit stops the inflation early.
    let bomb = zip_of(&[("bomb.pdf", &vec![0u8; 64 << 20])]);
    assert!(bomb.len() < 1 << 20);
    let limits = Limits {
        max_attachment_bytes: 4 << 20,
        ..Limits::default()
    };
    let xml = packet_with_attachment("application/zip", "a.pdf", &b64(&bomb));
    assert!(matches!(
        parse_err(xml.as_bytes(), &limits),
        EdxmlError::AttachmentTooLarge { .. }
    ));

    let two = zip_of(&[("a.pdf", b"a"), ("b.pdf", b"b")]);
    let xml = packet_with_attachment("application/zip", "a.pdf", &b64(&two));
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::ZipEntries { entries: 2, .. }
    ));

    let mut broken = zip_of(&[("a.pdf", b"abc")]);
    broken.truncate(broken.len() - 10);
    let xml = packet_with_attachment("application/zip", "a.pdf", &b64(&broken));
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::Zip { .. }
    ));
}

#[test]
fn directory_parts_of_attachment_names_are_removed_or_refused() {
    let xml = packet_with_attachment("application/pdf", "../../etc/passwd", &b64(b"x"));
    let parsed = edxml::parse_bytes(xml.as_bytes(), &mut DiscardSink, &Limits::default()).expect("parse");
    let Packet::Document(d) = &parsed.packet else {
        panic!("document")
    };
    assert_eq!(d.attachments[0].name.as_deref(), Some("passwd"));
    assert!(parsed.warnings.iter().any(|w| w.0.contains("made safe")));
    let xml = packet_with_attachment("application/pdf", "/abs/dir/x.pdf", &b64(b"x"));
    let parsed = edxml::parse_bytes(xml.as_bytes(), &mut DiscardSink, &Limits::default()).expect("parse");
    let Packet::Document(d) = &parsed.packet else {
        panic!("document")
    };
    assert_eq!(d.attachments[0].name.as_deref(), Some("x.pdf"));
    let xml = packet_with_attachment("application/pdf", "../..", &b64(b"x"));
    assert!(matches!(
        parse_err(xml.as_bytes(), &Limits::default()),
        EdxmlError::UnsafeName(_)
    ));
}

#[test]
fn truncated_and_foreign_documents_are_refused() {
    let full = fixture("status_finish_06.edxml");
    for cut in [60, full.len() / 2, full.len() - 3] {
        let err = parse_err(&full[..cut], &Limits::default());
        assert!(
            matches!(err, EdxmlError::Truncated | EdxmlError::Xml { .. }),
            "cut {cut}: {err}"
        );
    }
    assert!(matches!(parse_err(b"<html><body/></html>", &Limits::default()), EdxmlError::NotEdxml(n) if n == "html"));
    assert!(matches!(parse_err(b"", &Limits::default()), EdxmlError::NotEdxml(_)));
}

#[test]
fn overlong_text_is_refused() {
    let limits = Limits {
        max_text: 1000,
        ..Limits::default()
    };
    let xml = format!("<edXML><Subject>{}</Subject></edXML>", "a".repeat(5000));
    assert!(matches!(
        parse_err(xml.as_bytes(), &limits),
        EdxmlError::TextTooLong { .. }
    ));
}
