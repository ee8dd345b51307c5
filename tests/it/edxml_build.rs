//! The edXML builder: golden files for our exact output (tests/golden/edxml/), build → parse
//! round trips over generated models (proptest), our XSD checked with xmllint on every packet we
//! build here, and the parser fed random and mutated bytes (never a panic).

use std::path::PathBuf;
use std::process::Command;

use chrono::{NaiveDate, NaiveDateTime};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use vanthu::edxml::{
    self, Attachment, AttachmentSource, Business, BusinessDocType, BusinessDocumentInfo, Code, DiscardSink,
    DocumentPacket, DocumentType, EdxmlError, Limits, MemorySink, Organization, OtherInfo, Packet, Priority,
    PromulgationInfo, Receiver, ReplacementInfo, ResponseFor, SignerInfo, StaffInfo, StatusCode, StatusPacket,
    TraceHeader, TraceHeaderList, Transfer,
};

use crate::common;
use crate::edxml::fixture;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn at(y: i32, m: u32, d: u32, h: u32, mi: u32, sec: u32) -> NaiveDateTime {
    date(y, m, d).and_hms_opt(h, mi, sec).expect("valid time")
}

fn org(id: &str, name: &str) -> Organization {
    Organization {
        organ_id: s(id),
        organ_name: s(name),
        ..Organization::default()
    }
}

fn pdf_bytes() -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.extend((0..3000u32).map(|i| (i * 31 % 256) as u8));
    v
}

/// A new document with every optional part filled.
fn new_document() -> DocumentPacket {
    DocumentPacket {
        from: Organization {
            organ_id: s("000.00.00.G12"),
            organization_in_charge: s("Chính phủ"),
            organ_name: s("Bộ Tư pháp"),
            organ_add: s("60 Trần Phú, Ba Đình, Hà Nội"),
            email: s("vanthu@moj.gov.vn"),
            telephone: s("024 6273 9718"),
            fax: s("024 6273 9359"),
            website: s("moj.gov.vn"),
        },
        to: vec![
            org("000.00.00.H41", "UBND tỉnh Nghệ An"),
            org("000.00.00.G22", "Văn phòng Chính phủ"),
        ],
        document_id: s("000.00.00.G12,2026/11/30,123/BTP-VP"),
        code: Code {
            number: s("123"),
            notation: s("BTP-VP"),
        },
        promulgation: PromulgationInfo {
            place: s("Hà Nội"),
            date: Some(date(2026, 11, 30)),
        },
        document_type: DocumentType {
            type_class: 1,
            detail: Some(18),
            name: s("Công văn"),
        },
        subject: s("V/v triển khai liên thông văn bản điện tử & ký số <thử nghiệm>"),
        content: s("Đề nghị các cơ quan phối hợp."),
        signer: SignerInfo {
            competence: s("KT. BỘ TRƯỞNG"),
            position: s("Thứ trưởng"),
            full_name: s("Nguyễn Văn A"),
        },
        due_date: Some(date(2026, 12, 15)),
        other_info: OtherInfo {
            priority: Priority::Urgent,
            sphere_of_promulgation: s("Liên thông văn bản quốc gia"),
            typer_notation: s("TVC"),
            promulgation_amount: Some(3),
            page_amount: Some(2),
            direction: Some(false),
            appendixes: vec!["Phụ lục I".into(), "Phụ lục II".into()],
            ..OtherInfo::default()
        },
        response_for: vec![],
        steering_type: 0,
        task_codes: vec![],
        application_type: None,
        to_places: vec!["Như trên".into(), "Lưu: VT, VP".into()],
        trace: TraceHeaderList {
            business: Some(Business {
                doc_type: BusinessDocType::New,
                reason: s("Văn bản điện tử mới"),
                paper: Some(0),
                staff: Some(StaffInfo {
                    department: s("Văn phòng"),
                    staff: s("Trần Thị Thu"),
                    ..StaffInfo::default()
                }),
                ..Business::default()
            }),
            trace_headers: vec![TraceHeader {
                organ_id: s("000.00.00.G12"),
                timestamp: Some(at(2026, 11, 30, 9, 15, 0)),
            }],
            ..TraceHeaderList::default()
        },
        attachments: vec![Attachment {
            content_id: s("6f1c2a9e-0000-4000-8000-000000000001"),
            name: s("123-BTP-VP.pdf"),
            description: s("Văn bản chính"),
            content_type: s("application/pdf"),
            transfer: Transfer::Raw,
            ..Attachment::default()
        }],
    }
}

fn update_document() -> DocumentPacket {
    let mut d = new_document();
    d.document_id = s("000.00.00.G12,2026/12/01,124/BTP-VP");
    d.code = Code {
        number: s("124"),
        notation: s("BTP-VP"),
    };
    d.trace.business = Some(Business {
        document_id: s("000.00.00.G12,2026/11/30,123/BTP-VP"),
        doc_type: BusinessDocType::Update,
        reason: s("Cập nhật văn bản điện tử"),
        paper: Some(0),
        document_info: Some(BusinessDocumentInfo {
            document_info: Some(1),
            document_receiver: Some(1),
            receivers: vec![
                Receiver {
                    organ_id: s("000.00.00.H41"),
                    receiver_type: 0,
                },
                Receiver {
                    organ_id: s("000.00.00.H14"),
                    receiver_type: 1,
                },
            ],
        }),
        ..Business::default()
    });
    d.attachments.clear();
    d
}

fn replace_document() -> DocumentPacket {
    let mut d = update_document();
    d.trace.business = Some(Business {
        doc_type: BusinessDocType::Replace,
        reason: s("Văn bản thay thế"),
        replacements: vec![ReplacementInfo {
            document_id: s("000.00.00.G12,2026/11/30,123/BTP-VP"),
            organ_ids: vec!["000.00.00.H41".into(), "000.00.00.G22".into()],
        }],
        ..Business::default()
    });
    d
}

fn revoke_document() -> DocumentPacket {
    let mut d = update_document();
    d.trace.business = Some(Business {
        doc_type: BusinessDocType::Revoke,
        reason: s("Thu hồi văn bản điện tử"),
        ..Business::default()
    });
    d.response_for = vec![ResponseFor {
        organ_id: s("000.00.00.H41"),
        code: s("123/BTP-VP"),
        document_id: s("000.00.00.G12,2026/11/30,123/BTP-VP"),
        promulgation_date: Some(date(2026, 11, 30)),
    }];
    d
}

fn status_accepted() -> StatusPacket {
    StatusPacket {
        from: org("000.00.00.H41", "UBND tỉnh Nghệ An"),
        response_for: ResponseFor {
            organ_id: s("000.00.00.G12"),
            code: s("123/BTP-VP"),
            document_id: s("000.00.00.G12,2026/11/30,123/BTP-VP"),
            promulgation_date: Some(date(2026, 11, 30)),
        },
        staff: Some(StaffInfo {
            department: s("Văn thư"),
            staff: s("Lê Văn B"),
            mobile: s("0912000001"),
            ..StaffInfo::default()
        }),
        status_code: StatusCode::Accepted,
        description: s("Văn thư: Tiếp nhận văn bản điện tử, vào sổ văn bản đến"),
        timestamp: Some(at(2026, 11, 30, 10, 0, 5)),
    }
}

fn doc(d: DocumentPacket) -> Packet {
    Packet::Document(Box::new(d))
}

fn sources_for(p: &Packet) -> Vec<AttachmentSource<'static>> {
    match p {
        Packet::Document(d) => d
            .attachments
            .iter()
            .map(|_| Box::new(std::io::Cursor::new(pdf_bytes())) as AttachmentSource<'static>)
            .collect(),
        Packet::Status(_) => Vec::new(),
    }
}

fn goldens() -> Vec<(&'static str, Packet)> {
    vec![
        ("document_new.edxml", doc(new_document())),
        ("document_update.edxml", doc(update_document())),
        ("document_replace.edxml", doc(replace_document())),
        ("document_revoke.edxml", doc(revoke_document())),
        ("status_accepted_03.edxml", Packet::Status(Box::new(status_accepted()))),
    ]
}

/// Compares with tests/golden/edxml/NAME; `VANTHU_UPDATE_GOLDEN=1` rewrites the files instead.
#[test]
fn builder_output_matches_the_golden_files() {
    let update = std::env::var("VANTHU_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for (name, packet) in goldens() {
        let built = edxml::build_to_vec(&packet, sources_for(&packet)).expect("build");
        let path = root().join("tests/golden/edxml").join(name);
        if update {
            std::fs::write(&path, &built).expect("write golden");
            continue;
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (VANTHU_UPDATE_GOLDEN=1 writes it)", path.display()));
        assert!(
            built == golden,
            "{name} differs from the golden file:\n{}",
            String::from_utf8_lossy(&built)
        );
        // And it reads back as the same model (plus the decoded sizes).
        let mut sink = MemorySink::default();
        let parsed = edxml::parse_bytes(&built, &mut sink, &Limits::default()).expect("parse back");
        assert_eq!(without_sizes(parsed.packet), packet, "{name}");
        assert!(parsed.warnings.is_empty(), "{name}: {:?}", parsed.warnings);
    }
}

#[test]
fn builder_layout_follows_the_brief() {
    let built =
        String::from_utf8(edxml::build_to_vec(&doc(new_document()), vec![Box::new(&b"abc"[..])]).expect("build"))
            .expect("utf8");
    assert!(built.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<edXML xmlns=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">\n  <edXML:edXMLEnvelope xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">"));
    assert!(built.contains("\n  <AttachmentEncoded>\n    <Attachment>\n      <ContentId>cid:6f1c2a9e-0000-4000-8000-000000000001</ContentId>"));
    assert!(built.contains("<edXML:ContentTransferEncoded xmlns:edXML=\"http://www.mic.gov.vn/TBT/QCVN_102_2016\">YWJj</edXML:ContentTransferEncoded>"));
    assert!(built.contains("<edXML:Reference>\n          <edXML:ContentId>cid:6f1c2a9e"));
    // Order of MessageHeader children (EdXML102).
    let order = [
        "<edXML:From>",
        "<edXML:To>",
        "<edXML:DocumentId>",
        "<edXML:Code>",
        "<edXML:PromulgationInfo>",
        "<edXML:DocumentType>",
        "<edXML:Subject>",
        "<edXML:Content>",
        "<edXML:SignerInfo>",
        "<edXML:DueDate>",
        "<edXML:OtherInfo>",
        "<edXML:SteeringType>0",
        "<edXML:ToPlaces>",
        "<edXML:TraceHeaderList>",
        "<edXML:Bussiness>",
        "<edXML:TraceHeader>",
        "<edXML:edXMLBody>",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|t| built.find(t).unwrap_or_else(|| panic!("{t} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "order {positions:?}");
    assert!(!built.contains("<edXML:ResponseFor>"), "empty optionals are omitted");
    assert!(built.contains("&amp; ký số &lt;thử nghiệm&gt;"));
}

#[test]
fn base64_has_no_line_breaks() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let built = edxml::build_to_vec(&doc(new_document()), vec![Box::new(big.as_slice())]).expect("build");
    let text = String::from_utf8(built).expect("utf8");
    let start = text.find("QCVN_102_2016\">").map(|i| i + 15).expect("content");
    let line = text[..]
        .lines()
        .find(|l| l.contains("ContentTransferEncoded"))
        .expect("line");
    assert!(line.len() > 200_000 * 4 / 3, "one line of base64");
    assert!(start > 0);
    let mut sink = MemorySink::default();
    edxml::parse_bytes(text.as_bytes(), &mut sink, &Limits::default()).expect("parse");
    assert_eq!(sink.get(0), Some(big.as_slice()));
}

#[test]
fn zipped_transfer_round_trips() {
    let mut d = new_document();
    d.attachments[0].transfer = Transfer::Zipped;
    let data = pdf_bytes();
    let built = edxml::build_to_vec(&doc(d.clone()), vec![Box::new(data.as_slice())]).expect("build");
    let text = String::from_utf8_lossy(&built);
    assert!(text.contains("<ContentType>application/zip</ContentType>"));
    assert!(text.contains("<edXML:ContentType>application/pdf</edXML:ContentType>"));
    let mut sink = MemorySink::default();
    let parsed = edxml::parse_bytes(&built, &mut sink, &Limits::default()).expect("parse");
    assert_eq!(without_sizes(parsed.packet), doc(d));
    assert_eq!(sink.get(0), Some(data.as_slice()));
}

#[test]
fn missing_required_fields_are_refused_before_writing() {
    let cases: Vec<(&str, Packet)> = vec![
        ("from.organ_id", {
            let mut d = new_document();
            d.from.organ_id = None;
            doc(d)
        }),
        ("to", {
            let mut d = new_document();
            d.to.clear();
            doc(d)
        }),
        ("code.number", {
            let mut d = new_document();
            d.code.number = Some("  ".into());
            doc(d)
        }),
        ("promulgation.date", {
            let mut d = new_document();
            d.promulgation.date = None;
            doc(d)
        }),
        ("subject", {
            let mut d = new_document();
            d.subject = None;
            doc(d)
        }),
        ("attachments[].content_id", {
            let mut d = new_document();
            d.attachments[0].content_id = None;
            doc(d)
        }),
        ("response_for.document_id", {
            let mut st = status_accepted();
            st.response_for.document_id = None;
            Packet::Status(Box::new(st))
        }),
        ("timestamp", {
            let mut st = status_accepted();
            st.timestamp = None;
            Packet::Status(Box::new(st))
        }),
    ];
    for (field, packet) in cases {
        let mut out = Vec::new();
        let err = edxml::build(&packet, sources_for(&packet), &mut out).expect_err(field);
        assert!(
            matches!(err, EdxmlError::MissingField(f) if f == field),
            "{field}: {err}"
        );
        assert!(out.is_empty(), "{field}: nothing written");
    }
    let err = edxml::build_to_vec(&doc(new_document()), Vec::new()).expect_err("no source");
    assert!(matches!(err, EdxmlError::AttachmentCount(1, 0)));
}

fn without_sizes(mut p: Packet) -> Packet {
    if let Packet::Document(d) = &mut p {
        for a in &mut d.attachments {
            a.size = None;
        }
    }
    p
}

// ---------------------------------------------------------------------------------------------
// xmllint against schemas/edxml.xsd

fn xmllint() -> Option<()> {
    match Command::new("xmllint").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => common::skip("xmllint is not installed (XSD validation tests)"),
    }
}

fn validate(name: &str, xml: &[u8]) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(name);
    std::fs::write(&path, xml).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("schemas/edxml.xsd"))
        .arg(&path)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "{name} does not validate:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}

#[test]
fn every_built_packet_validates_against_our_xsd() {
    if xmllint().is_none() {
        return;
    }
    for (name, _) in goldens() {
        let golden = std::fs::read(root().join("tests/golden/edxml").join(name)).expect("golden");
        validate(name, &golden);
    }
    let mut zipped = new_document();
    zipped.attachments[0].transfer = Transfer::Zipped;
    let built = edxml::build_to_vec(&doc(zipped), vec![Box::new(&b"x"[..])]).expect("build");
    validate("zipped.edxml", &built);
    // A few generated packets.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for i in 0..8 {
        let packet = packet_strategy().new_tree(&mut runner).expect("generate").current();
        let built = edxml::build_to_vec(&packet, sources_for(&packet)).expect("build");
        validate(&format!("generated-{i}.edxml"), &built);
    }
}

#[test]
fn the_xsd_rejects_what_the_builder_never_writes() {
    if xmllint().is_none() {
        return;
    }
    // Real packets that break our layout (wrong order) must fail, so the schema is not vacuous.
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("x.edxml");
    std::fs::write(&path, fixture("status_cancellation_13.edxml")).expect("write");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(root().join("schemas/edxml.xsd"))
        .arg(&path)
        .output()
        .expect("run xmllint");
    assert!(!out.status.success(), "From children out of order must not validate");
}

// ---------------------------------------------------------------------------------------------
// Generated models

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐĂÂ][A-Za-z0-9ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐĂÂ ./,&<>'\"-]{0,20}[A-Za-z0-9ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐĂÂ.]"
        .prop_filter("not the null marker", |s| !s.eq_ignore_ascii_case("null"))
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn organ_id() -> impl Strategy<Value = String> {
    "[0-9]{3}\\.[0-9]{2}\\.[0-9]{2}\\.[A-Z][0-9]{2}"
}

fn a_date() -> impl Strategy<Value = NaiveDate> {
    (2000i32..2040, 1u32..13, 1u32..29).prop_map(|(y, m, d)| date(y, m, d))
}

fn a_time() -> impl Strategy<Value = NaiveDateTime> {
    (a_date(), 0u32..24, 0u32..60, 0u32..60).prop_map(|(d, h, m, s)| d.and_hms_opt(h, m, s).expect("valid"))
}

fn organization() -> impl Strategy<Value = Organization> {
    (
        organ_id(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
    )
        .prop_map(|(id, inc, name, add, email, tel, fax, web)| Organization {
            organ_id: Some(id),
            organization_in_charge: inc,
            organ_name: name,
            organ_add: add,
            email,
            telephone: tel,
            fax,
            website: web,
        })
}

fn response_for() -> impl Strategy<Value = ResponseFor> {
    (
        proptest::option::of(organ_id()),
        opt_text(),
        opt_text(),
        proptest::option::of(a_date()),
    )
        .prop_map(|(organ_id, code, document_id, promulgation_date)| ResponseFor {
            organ_id,
            code,
            document_id,
            promulgation_date,
        })
}

fn staff() -> impl Strategy<Value = StaffInfo> {
    (opt_text(), opt_text(), opt_text(), opt_text(), opt_text(), opt_text()).prop_map(
        |(department, department_id, staff, staff_id, email, mobile)| StaffInfo {
            department,
            department_id,
            staff,
            staff_id,
            email,
            mobile,
        },
    )
}

fn business() -> impl Strategy<Value = Business> {
    (
        opt_text(),
        0i64..6,
        opt_text(),
        proptest::option::of(0i64..2),
        proptest::option::of((
            proptest::option::of(0i64..2),
            proptest::option::of(0i64..2),
            proptest::collection::vec((proptest::option::of(organ_id()), 0i64..2), 0..3),
        )),
        proptest::collection::vec((opt_text(), proptest::collection::vec(organ_id(), 0..3)), 0..3),
        proptest::option::of(staff()),
    )
        .prop_map(|(document_id, t, reason, paper, info, repl, staff)| Business {
            document_id,
            doc_type: t.into(),
            reason,
            paper,
            document_info: info.map(|(di, dr, rs)| BusinessDocumentInfo {
                document_info: di,
                document_receiver: dr,
                receivers: rs
                    .into_iter()
                    .map(|(organ_id, receiver_type)| Receiver {
                        organ_id,
                        receiver_type,
                    })
                    .collect(),
            }),
            replacements: repl
                .into_iter()
                .map(|(document_id, organ_ids)| ReplacementInfo { document_id, organ_ids })
                .collect(),
            staff: staff.filter(|s| !s.is_empty()),
        })
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        "[a-z0-9-]{1,36}",
        text(),
        opt_text(),
        opt_text(),
        opt_text(),
        opt_text(),
        any::<bool>(),
    )
        .prop_map(
            |(cid, name, description, field_name, mime_type, ct, zipped)| Attachment {
                content_id: Some(cid),
                name: Some(format!("{}.pdf", name.replace(['/', '\\'], "_"))),
                description,
                content_type: Some(
                    ct.unwrap_or_else(|| "application/pdf".into())
                        .replace("application/zip", "x"),
                ),
                field_name,
                mime_type,
                transfer: if zipped { Transfer::Zipped } else { Transfer::Raw },
                size: None,
            },
        )
}

fn document_strategy() -> impl Strategy<Value = DocumentPacket> {
    let head = (
        organization(),
        proptest::collection::vec(organization(), 1..4),
        text(),
        (text(), text()),
        (opt_text(), a_date()),
        (-1i64..3, proptest::option::of(0i64..30), opt_text()),
        text(),
        opt_text(),
        (opt_text(), opt_text(), opt_text()),
        proptest::option::of(a_date()),
    );
    let tail = (
        (
            0i64..6,
            opt_text(),
            opt_text(),
            proptest::option::of(0u32..100),
            proptest::option::of(0u32..100),
            opt_text(),
            proptest::option::of(any::<bool>()),
            opt_text(),
            proptest::collection::vec(text(), 0..3),
        ),
        proptest::collection::vec(response_for(), 0..3),
        0i64..4,
        proptest::collection::vec(text(), 0..3),
        opt_text(),
        proptest::collection::vec(text(), 0..3),
        (
            opt_text(),
            opt_text(),
            proptest::option::of(0i64..2),
            proptest::option::of(business()),
            proptest::collection::vec((proptest::option::of(organ_id()), proptest::option::of(a_time())), 0..3),
        ),
        proptest::collection::vec(attachment(), 0..3),
    );
    (head, tail).prop_map(|(h, t)| {
        let (
            from,
            to,
            document_id,
            (number, notation),
            (place, pdate),
            (type_class, detail, type_name),
            subject,
            content,
            (competence, position, full_name),
            due_date,
        ) = h;
        let (
            (prio, sphere, typer, pa, pg, reply, dir, refc, apps),
            rf,
            steering,
            tasks,
            app_type,
            places,
            (tid, tver, paper, business, traces),
            mut attachments,
        ) = t;
        // Content ids must be unique for the manifest to pair up.
        for (i, a) in attachments.iter_mut().enumerate() {
            a.content_id = a.content_id.take().map(|c| format!("{c}-{i}"));
        }
        DocumentPacket {
            from,
            to,
            document_id: Some(document_id),
            code: Code {
                number: Some(number),
                notation: Some(notation),
            },
            promulgation: PromulgationInfo {
                place,
                date: Some(pdate),
            },
            document_type: DocumentType {
                type_class,
                detail,
                name: type_name,
            },
            subject: Some(subject),
            content,
            signer: SignerInfo {
                competence,
                position,
                full_name,
            },
            due_date,
            other_info: OtherInfo {
                priority: Priority::from(prio),
                sphere_of_promulgation: sphere,
                typer_notation: typer,
                promulgation_amount: pa,
                page_amount: pg,
                reply_fors: reply,
                direction: dir,
                reference_codes: refc,
                appendixes: apps,
            },
            response_for: rf.into_iter().filter(|r| !r.is_empty()).collect(),
            steering_type: steering,
            task_codes: tasks,
            application_type: app_type,
            to_places: places,
            trace: TraceHeaderList {
                id: tid,
                version: tver,
                paper,
                business,
                trace_headers: traces
                    .into_iter()
                    .map(|(organ_id, timestamp)| TraceHeader { organ_id, timestamp })
                    .collect(),
            },
            attachments,
        }
    })
}

fn status_strategy() -> impl Strategy<Value = StatusPacket> {
    (
        organization(),
        (organ_id(), text(), text(), proptest::option::of(a_date())),
        proptest::option::of(staff()),
        prop_oneof![
            Just("01".to_string()),
            Just("02".to_string()),
            Just("03".to_string()),
            Just("04".to_string()),
            Just("05".to_string()),
            Just("06".to_string()),
            Just("13".to_string()),
            Just("15".to_string()),
            Just("16".to_string()),
            "[0-9]{2}",
        ],
        opt_text(),
        a_time(),
    )
        .prop_map(
            |(from, (oid, code, docid, pdate), staff, code_s, description, ts)| StatusPacket {
                from,
                response_for: ResponseFor {
                    organ_id: Some(oid),
                    code: Some(code),
                    document_id: Some(docid),
                    promulgation_date: pdate,
                },
                staff: staff.filter(|s| !s.is_empty()),
                status_code: StatusCode::from(code_s),
                description,
                timestamp: Some(ts),
            },
        )
}

fn packet_strategy() -> impl Strategy<Value = Packet> {
    prop_oneof![
        document_strategy().prop_map(|d| Packet::Document(Box::new(d))),
        status_strategy().prop_map(|s| Packet::Status(Box::new(s))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn build_then_parse_gives_the_same_model(packet in packet_strategy(), seed in any::<u8>()) {
        let payloads: Vec<Vec<u8>> = match &packet {
            Packet::Document(d) => d.attachments.iter().enumerate().map(|(i, _)| vec![seed.wrapping_add(i as u8); (seed as usize) * 7 + i]).collect(),
            Packet::Status(_) => Vec::new(),
        };
        let sources: Vec<AttachmentSource<'_>> = payloads.iter().map(|p| Box::new(p.as_slice()) as AttachmentSource<'_>).collect();
        let built = edxml::build_to_vec(&packet, sources).expect("build");
        let mut sink = MemorySink::default();
        let parsed = edxml::parse_bytes(&built, &mut sink, &Limits::default()).expect("parse");
        prop_assert_eq!(without_sizes(parsed.packet.clone()), packet.clone());
        for (i, p) in payloads.iter().enumerate() {
            prop_assert_eq!(sink.get(i), Some(p.as_slice()));
        }
        // The JSON of the model is the model.
        let json = serde_json::to_string(&parsed.packet).expect("json");
        let back: Packet = serde_json::from_str(&json).expect("from json");
        prop_assert_eq!(back, parsed.packet);
    }

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = edxml::parse_bytes(&bytes, &mut DiscardSink, &Limits::default());
    }

    #[test]
    fn mutated_fixtures_never_panic_the_parser(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..12),
    ) {
        let name = ["status_acceptance_03.edxml", "status_cancellation_13.edxml", "edoc.edxml", "status.edxml"][which];
        let mut bytes = fixture(name);
        for (at, byte, kind) in edits {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        let limits = Limits { skip_undecodable: which == 2, ..Limits::default() };
        let _ = edxml::parse_bytes(&bytes, &mut MemorySink::default(), &limits);
    }
}

#[test]
fn mutated_large_fixture_never_panics() {
    // The zipped-attachment path, with bytes flipped inside the base64 and the XML.
    let original = fixture("edoc_new.edxml");
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..16 {
        let positions = proptest::collection::vec(0..original.len(), 1..6)
            .new_tree(&mut runner)
            .expect("gen")
            .current();
        let mut bytes = original.clone();
        for p in positions {
            bytes[p] = bytes[p].wrapping_add(13);
        }
        let _ = edxml::parse_bytes(&bytes, &mut DiscardSink, &Limits::default());
    }
}
