//! Full-text search: the Vietnamese corpus in `tests/corpus/` with its expected hits, ranking,
//! facets, permissions, bad queries, catch-up after a restart and two processes on one database.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{test_config, Backend, TestApp, TestDb};
use crate::on_both_backends;

const DOCUMENTS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/documents.json"));
const QUERIES: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/queries.json"));

fn encode(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn search(app: &TestApp, token: &str, params: &str) -> (StatusCode, Value) {
    app.get(Some(token), &format!("/api/v1/search?{params}")).await
}

async fn search_q(app: &TestApp, token: &str, q: &str) -> Value {
    let (s, body) = search(app, token, &format!("q={}&limit=100", encode(q))).await;
    assert_eq!(s, StatusCode::OK, "{q}: {body}");
    body
}

/// Waits until an empty query shows `n` documents to `token` (the indexer runs in the
/// background).
async fn wait_for_total(app: &TestApp, token: &str, params: &str, n: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (s, body) = search(app, token, params).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        if body["total"].as_u64() == Some(n) {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "index did not reach {n} documents for {params:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates the corpus; returns key → document id.
async fn load_corpus(app: &TestApp) -> BTreeMap<String, i64> {
    let docs: Vec<Value> = serde_json::from_str(DOCUMENTS).expect("corpus parses");
    let mut tokens = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for d in docs {
        let author = d["author"].as_str().unwrap_or("vanthu").to_string();
        if !tokens.contains_key(&author) {
            tokens.insert(author.clone(), app.login(&author).await);
        }
        let mut body = d.clone();
        let obj = body.as_object_mut().expect("object");
        let key = obj.remove("key").expect("key").as_str().expect("key").to_string();
        obj.remove("author");
        let (s, created) = app.post(Some(&tokens[&author]), "/api/v1/documents", &body).await;
        assert_eq!(s, StatusCode::CREATED, "{key}: {created}");
        ids.insert(key, created["id"].as_i64().expect("id"));
    }
    ids
}

fn hit_keys(body: &Value, ids: &BTreeMap<String, i64>) -> Vec<String> {
    let by_id: BTreeMap<i64, &String> = ids.iter().map(|(k, v)| (*v, k)).collect();
    body["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            by_id
                .get(&h["id"].as_i64().expect("id"))
                .map_or("?".to_string(), |k| (*k).clone())
        })
        .collect()
}

fn facet(body: &Value, name: &str) -> BTreeMap<String, u64> {
    body["facets"][name]
        .as_array()
        .expect("facet")
        .iter()
        .map(|b| {
            (
                b["value"].as_str().expect("value").to_string(),
                b["count"].as_u64().expect("count"),
            )
        })
        .collect()
}

async fn corpus_queries(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let ids = load_corpus(&app).await;
    let clerk = app.login("vanthu").await;
    wait_for_total(&app, &clerk, "q=", ids.len() as u64).await;

    let queries: Vec<Value> = serde_json::from_str(QUERIES).expect("queries parse");
    for case in &queries {
        let q = case["q"].as_str().expect("q");
        let body = search_q(&app, &clerk, q).await;
        let got: BTreeSet<String> = hit_keys(&body, &ids).into_iter().collect();
        let expect: BTreeSet<String> = case["expect"]
            .as_array()
            .expect("expect")
            .iter()
            .map(|v| v.as_str().expect("key").to_string())
            .collect();
        assert!(
            expect.is_subset(&got),
            "{q:?} ({}): expected {expect:?} in {got:?}",
            case["why"]
        );
        if case["only"].as_bool() == Some(true) {
            assert_eq!(got, expect, "{q:?} ({}): exactly these", case["why"]);
        }
        for absent in case["absent"].as_array().into_iter().flatten() {
            let absent = absent.as_str().expect("key");
            assert!(!got.contains(absent), "{q:?}: {absent} must be excluded, got {got:?}");
        }
        assert_eq!(
            body["total"].as_u64(),
            Some(got.len() as u64),
            "{q:?}: total counts the hits"
        );
    }

    // An exact-diacritic match ranks above the same letters with other marks.
    let first = |body: &Value| hit_keys(body, &ids).first().cloned().unwrap_or_default();
    let ban_exact = hit_keys(&search_q(&app, &clerk, "bản").await, &ids);
    let pos = |keys: &[String], k: &str| keys.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(
        pos(&ban_exact, "ban_ke_hoach") < pos(&ban_exact, "ban_giao"),
        "\"bản\" ranks Bản kế hoạch above bàn giao: {ban_exact:?}"
    );
    let ban_grave = hit_keys(&search_q(&app, &clerk, "bàn").await, &ids);
    assert!(
        pos(&ban_grave, "ban_giao") < pos(&ban_grave, "ban_ke_hoach"),
        "\"bàn\" ranks bàn giao above Bản kế hoạch: {ban_grave:?}"
    );
    assert_eq!(first(&search_q(&app, &clerk, "bàn giao").await), "ban_giao");
    let ban = search_q(&app, &clerk, "ban").await;
    let ban_keys = hit_keys(&ban, &ids);
    assert!(
        ban_keys.contains(&"ban_ke_hoach".to_string()) && ban_keys.contains(&"ban_giao".to_string()),
        "without diacritics both match: {ban_keys:?}"
    );

    // Snippets highlight the matched syllables in the original text.
    let body = search_q(&app, &clerk, "kho luu tru").await;
    let snippet = body["hits"][0]["snippet"].as_str().expect("snippet");
    assert!(
        snippet.contains("<b>lưu</b>") && snippet.contains("<b>trữ</b>"),
        "{snippet}"
    );

    // Facets count every match, not only the page.
    let (s, all) = search(&app, &clerk, "q=&limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["hits"].as_array().map(Vec::len), Some(1));
    let types = facet(&all, "document_type");
    assert_eq!(types.get("quyet_dinh"), Some(&2), "{types:?}");
    assert_eq!(types.get("ke_hoach"), Some(&3), "{types:?}");
    assert_eq!(types.values().sum::<u64>(), ids.len() as u64);
    assert_eq!(facet(&all, "direction").get("outgoing"), Some(&2));
    assert_eq!(facet(&all, "urgency").get("hoa_toc"), Some(&2));
    assert_eq!(facet(&all, "issuer").get("Bộ Tư pháp"), Some(&2));
    assert_eq!(facet(&all, "year").get("2025"), Some(&5), "{:?}", facet(&all, "year"));

    // Date range and sort by date.
    let (_, jan) = search(&app, &clerk, "q=&from=2026-01-01&to=2026-01-31&sort=oldest&limit=100").await;
    let jan_keys = hit_keys(&jan, &ids);
    assert_eq!(
        jan_keys,
        vec!["qc01", "ct03", "qd123", "ban_giao", "kh42", "ban_ke_hoach"],
        "January 2026, oldest first"
    );
    let (_, newest) = search(&app, &clerk, "q=loai:quyet_dinh&sort=newest").await;
    assert_eq!(hit_keys(&newest, &ids), vec!["qd123", "qd15bnv"]);
    let (_, page2) = search(&app, &clerk, "q=loai:quyet_dinh&sort=newest&limit=1&offset=1").await;
    assert_eq!(
        (hit_keys(&page2, &ids), page2["total"].as_u64()),
        (vec!["qd15bnv".to_string()], Some(2))
    );

    // The CLI-free document list is untouched; search answers only within the agency.
    app.stop().await;
}
on_both_backends!(corpus_queries_find_the_expected_documents, corpus_queries);

async fn permissions(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let ids = load_corpus(&app).await;
    let clerk = app.login("vanthu").await;
    wait_for_total(&app, &clerk, "q=", ids.len() as u64).await;

    // A specialist of another unit: sees nothing of the Phòng Nghiệp vụ's internal documents.
    let admin = app.login("quantri").await;
    let (s, unit) = app
        .post(
            Some(&admin),
            "/api/v1/units",
            &json!({"name": "Phòng Tổ chức cán bộ", "abbreviation": "TCCB"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{unit}");
    let (s, user) = app
        .post(
            Some(&admin),
            "/api/v1/users",
            &json!({"username": "tccb.chuyenvien", "display_name": "Hoàng Thị Lan", "password": "Matkhau-2026",
                    "roles": ["chuyen_vien"], "unit_id": unit["id"], "position": "Chuyên viên"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let (s, login) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "tccb.chuyenvien", "password": "Matkhau-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let outsider = login["token"].as_str().expect("token").to_string();
    for q in [
        "",
        "rà soát hồ sơ",
        "Phòng Nghiệp vụ",
        "bao cao",
        "loai:ke_hoach",
        "quyết định",
    ] {
        let body = search_q(&app, &outsider, q).await;
        assert_eq!(body["total"].as_u64(), Some(0), "{q:?}: {body}");
        assert!(body["hits"].as_array().is_some_and(Vec::is_empty));
        for name in ["document_type", "year", "issuer", "direction", "status", "urgency"] {
            assert!(facet(&body, name).is_empty(), "{q:?}: facet {name} leaks: {body}");
        }
    }

    // The drafting unit sees its own two documents and nothing registered by the office.
    for user in ["chuyenvien", "truongphong"] {
        let token = app.login(user).await;
        let body = search_q(&app, &token, "").await;
        let keys: BTreeSet<String> = hit_keys(&body, &ids).into_iter().collect();
        assert_eq!(
            keys,
            BTreeSet::from(["out_nv1".to_string(), "out_nv2".to_string()]),
            "{user}"
        );
        assert_eq!(facet(&body, "direction"), BTreeMap::from([("outgoing".to_string(), 2)]));
        let body = search_q(&app, &token, "quyet dinh").await;
        assert_eq!(body["total"].as_u64(), Some(0), "{user}: {body}");
    }

    // The outsider's own draft becomes visible to them (and only that one).
    let (s, own) = app
        .post(
            Some(&outsider),
            "/api/v1/documents",
            &json!({"direction": "outgoing", "document_type": "to_trinh", "subject": "Tờ trình đề nghị cử công chức đi đào tạo"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let body = wait_for_total(&app, &outsider, "q=", 1).await;
    assert_eq!(body["hits"][0]["id"], own["id"]);
    app.stop().await;
}
on_both_backends!(search_shows_only_readable_documents_also_in_facets, permissions);

async fn bad_queries(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    for (params, code) in [
        ("q=%22k%E1%BA%BF%20ho%E1%BA%A1ch", "search.query_syntax"),
        ("q=a%20-%20b", "search.query_syntax"),
        ("q=foo:bar", "search.unknown_field"),
        ("q=nam:hai", "search.invalid_value"),
        ("q=huong:sideways", "search.invalid_value"),
        ("from=2026-13-01", "validation.invalid_date"),
        ("to=yesterday", "validation.invalid_date"),
        ("sort=random", "request.invalid_query"),
        ("limit=0", "request.invalid_query"),
        ("limit=101", "request.invalid_query"),
        ("offset=10001", "request.invalid_query"),
    ] {
        let (s, body) = search(&app, &clerk, params).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{params}: {body}"
        );
    }
    let long = "a ".repeat(300);
    let (s, body) = search(&app, &clerk, &format!("q={}", encode(&long))).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("search.query_too_long"))
    );
    let (s, _) = app.get(None, "/api/v1/search?q=x").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Punctuation only is a valid query that matches nothing.
    let (s, body) = search(&app, &clerk, "q=%2C%2C").await;
    assert_eq!((s, body["total"].as_u64()), (StatusCode::OK, Some(0)), "{body}");
    app.stop().await;
}
on_both_backends!(query_errors_are_400_with_stable_codes, bad_queries);

/// An app on `primary`'s database with its own data dir (so its own index).
async fn node(primary: &TestDb, data: &std::path::Path) -> TestApp {
    let mut config = test_config(primary);
    config.data_dir = data.to_path_buf();
    let handle = TestDb {
        backend: primary.backend,
        url: primary.url.clone(),
        pg: None,
        dir: tempfile::tempdir().expect("temp dir"),
    };
    TestApp::start(handle, config).await
}

async fn incoming(app: &TestApp, token: &str, subject: &str, number: i64) -> i64 {
    let (s, body) = app
        .post(
            Some(token),
            "/api/v1/documents",
            &crate::common::incoming(subject, number),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["id"].as_i64().expect("id")
}

async fn catch_up(b: Backend) {
    let Some(primary) = TestDb::new(b).await else { return };
    let data1 = tempfile::tempdir().expect("temp dir");
    let data2 = tempfile::tempdir().expect("temp dir");

    let app = node(&primary, data1.path()).await;
    let token = app.login("vanthu").await;
    incoming(&app, &token, "Công văn về việc kiểm kê tài sản cuối năm", 1).await;
    wait_for_total(&app, &token, "q=", 1).await;
    app.stop().await;

    // While node 1 is down, node 2 registers a document.
    let other = node(&primary, data2.path()).await;
    let token = other.login("vanthu").await;
    incoming(&other, &token, "Công văn về việc thẩm định giá tài sản kê biên", 2).await;
    wait_for_total(&other, &token, "q=", 2).await;
    let head = other.services.db.search_change_head().await.expect("head");
    other.stop().await;

    // Node 1's index is behind the change log ...
    {
        let index = vanthu::search::SearchIndex::open(&data1.path().join("search-index")).expect("open index");
        assert!(index.cursor() < head, "cursor {} head {head}", index.cursor());
        assert_eq!(index.len(), 1);
    }
    // ... and catches up when it starts again.
    let app = node(&primary, data1.path()).await;
    let token = app.login("vanthu").await;
    let body = wait_for_total(&app, &token, &format!("q={}", encode("thẩm định giá")), 1).await;
    assert_eq!(
        body["hits"][0]["subject"],
        "Công văn về việc thẩm định giá tài sản kê biên"
    );
    app.stop().await;
    primary.drop_database().await;
}
on_both_backends!(index_catches_up_after_a_restart, catch_up);

async fn two_nodes(b: Backend) {
    let Some(primary) = TestDb::new(b).await else { return };
    let data1 = tempfile::tempdir().expect("temp dir");
    let data2 = tempfile::tempdir().expect("temp dir");
    let a = node(&primary, data1.path()).await;
    let b2 = node(&primary, data2.path()).await;
    let ta = a.login("vanthu").await;
    let tb = b2.login("vanthu").await;
    let mut first = 0;
    for i in 0..8 {
        let id = incoming(
            &a,
            &ta,
            &format!("Báo cáo công tác tháng {} của Chi cục", i + 1),
            100 + i,
        )
        .await;
        if i == 0 {
            first = id;
        }
        incoming(&b2, &tb, &format!("Kế hoạch kiểm tra chuyên đề đợt {}", i + 1), 200 + i).await;
    }
    wait_for_total(&a, &ta, "q=", 16).await;
    wait_for_total(&b2, &tb, "q=", 16).await;
    // An update made through one node reaches the other node's index.
    let (s, body) = a
        .post(
            Some(&ta),
            &format!("/api/v1/documents/{first}/recall"),
            &json!({"reason": "Ban hành nhầm"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let body = wait_for_total(&b2, &tb, "q=trangthai:recalled", 1).await;
    assert_eq!(body["hits"][0]["id"].as_i64(), Some(first));
    wait_for_total(&a, &ta, "q=trangthai:recalled", 1).await;
    assert_eq!(
        a.services.db.search_change_head().await.expect("head"),
        b2.services.db.search_change_head().await.expect("head")
    );
    a.stop().await;
    b2.stop().await;
    primary.drop_database().await;
}
on_both_backends!(two_nodes_on_one_database_both_converge, two_nodes);

/// A one-page PDF whose text is drawn with single-byte codes mapped to Unicode by a ToUnicode
/// CMap, as PDF producers do for Vietnamese text; `None` text gives a page holding only an
/// image (a scan).
fn pdf_with_text(text: Option<&str>) -> Vec<u8> {
    use lopdf::{dictionary, Document, Object, Stream};
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let (content, resources) = match text {
        Some(text) => {
            let mut chars: Vec<char> = text.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            assert!(chars.len() < 100, "one bfchar block");
            let code = |c: char| 0x21 + chars.iter().position(|&x| x == c).expect("char") as u8;
            let mut cmap = String::from(
                "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
                 /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
                 /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
                 1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
            );
            cmap.push_str(&format!("{} beginbfchar\n", chars.len()));
            for &c in &chars {
                let mut units = [0u16; 2];
                let hex: String = c.encode_utf16(&mut units).iter().map(|u| format!("{u:04X}")).collect();
                cmap.push_str(&format!("<{:02X}> <{hex}>\n", code(c)));
            }
            cmap.push_str("endbfchar\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
            let cmap_id = doc.add_object(Stream::new(dictionary! {}, cmap.into_bytes()));
            let font_id = doc.add_object(dictionary! {
                "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "ToUnicode" => cmap_id,
            });
            let bytes: Vec<u8> = text.chars().map(code).collect();
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            let content = format!("BT /F1 12 Tf 72 760 Td <{hex}> Tj ET");
            (content, dictionary! { "Font" => dictionary! { "F1" => font_id } })
        }
        None => {
            let image_id = doc.add_object(Stream::new(
                dictionary! {
                    "Type" => "XObject", "Subtype" => "Image", "Width" => 2, "Height" => 2,
                    "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8,
                },
                vec![0, 255, 255, 0],
            ));
            (
                "q 500 0 0 700 50 70 cm /Im1 Do Q".to_string(),
                dictionary! { "XObject" => dictionary! { "Im1" => image_id } },
            )
        }
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id, "Resources" => resources,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("save pdf");
    out
}

async fn attach(app: &TestApp, token: &str, id: i64, name: &str, bytes: Vec<u8>) {
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files")))
        .query(&[("filename", name)])
        .header("content-type", "application/pdf")
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let (s, body) = crate::common::json_of(resp).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
}

async fn pdf_text(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let token = app.login("vanthu").await;
    let body_text = "Kế hoạch kiểm tra công tác thi hành án dân sự năm 2019 tại Cục Thi hành án";
    let with_text = incoming(&app, &token, "Công văn gửi kèm kế hoạch", 1).await;
    attach(&app, &token, with_text, "ke-hoach.pdf", pdf_with_text(Some(body_text))).await;
    let scan = incoming(&app, &token, "Công văn scan gửi kèm bản chụp", 2).await;
    attach(&app, &token, scan, "scan.pdf", pdf_with_text(None)).await;
    let broken = incoming(&app, &token, "Công văn có tệp hỏng", 3).await;
    attach(
        &app,
        &token,
        broken,
        "hong.pdf",
        b"%PDF-1.7\n this is not really a PDF".to_vec(),
    )
    .await;

    // Words that are only in the PDF's text find it, with or without diacritics.
    for q in [
        "kiểm tra công tác thi hành án",
        "kiem tra cong tac thi hanh an",
        "năm 2019",
    ] {
        let body = wait_for_total(&app, &token, &format!("q={}", encode(q)), 1).await;
        assert_eq!(body["hits"][0]["id"], with_text, "{q}: {body}");
        assert_eq!(body["hits"][0]["text_state"], "full", "{body}");
    }
    // The scan and the broken file are indexed by metadata and marked so, once the change the
    // file upload logged (after the document's own) has been indexed.
    for (q, id) in [("bản chụp", scan), ("tệp hỏng", broken)] {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let body = wait_for_total(&app, &token, &format!("q={}", encode(q)), 1).await;
            assert_eq!(body["hits"][0]["id"], id, "{body}");
            if body["hits"][0]["text_state"] == "metadata_only" {
                break;
            }
            assert_eq!(body["hits"][0]["text_state"], "no_files", "{body}");
            assert!(std::time::Instant::now() < deadline, "{q}: {body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Each file was read once and its outcome cached by content hash.
    let files = app
        .services
        .db
        .files_of_documents(&[with_text, scan, broken])
        .await
        .expect("files");
    let hashes: Vec<String> = files.iter().map(|f| f.sha256.clone()).collect();
    let mut states: Vec<String> = app
        .services
        .db
        .file_texts(&hashes)
        .await
        .expect("texts")
        .into_iter()
        .map(|t| t.state)
        .collect();
    states.sort();
    assert_eq!(states, ["no_text_layer", "text", "unreadable"]);
    app.stop().await;
}
on_both_backends!(pdf_text_is_searchable_and_scans_are_marked, pdf_text);
