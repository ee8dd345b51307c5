//! The document registry over HTTP: registration, numbering, registers, bad input, concurrency
//! and database outages.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{incoming, Backend, TestApp, TestDb};
use crate::on_both_backends;

async fn document_count(app: &TestApp) -> i64 {
    app.services.db.document_count().await.expect("count")
}

async fn fixed_names_contract(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (s, types) = app.get(None, "/api/v1/document-types").await;
    assert_eq!(s, StatusCode::OK);
    let types = types.as_array().expect("list");
    assert_eq!(types.len(), 29);
    assert!(types.iter().all(|t| t["code"].as_str().is_some_and(|c| c.is_ascii())
        && t["name"].is_string()
        && t["abbreviation"].is_string()));
    assert!(types
        .iter()
        .any(|t| t["code"] == "quyet_dinh" && t["abbreviation"] == "QĐ" && t["name"] == "Quyết định (cá biệt)"));

    let clerk = app.login("vanthu").await;
    let minimal = json!({"direction": "incoming", "document_type": "quyet_dinh", "subject": "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số",
        "number": "15", "symbol": "QĐ-BTP", "issuer_name": "Bộ Tư pháp", "issued_on": "2026-01-15"});
    let (s, doc) = app.post(Some(&clerk), "/api/v1/documents", &minimal).await;
    assert_eq!(s, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["arrival_number"], 1);
    assert_eq!(doc["reference"], "15/QĐ-BTP");
    assert_eq!(doc["status"], "registered");
    let (s, again) = app.post(Some(&clerk), "/api/v1/documents", &json!({"urgency": "hoa_toc", "number": 16, "symbol": "QĐ-BTP", "direction": "incoming", "document_type": "quyet_dinh", "subject": "Hỏa tốc", "issuer_name": "Bộ Tư pháp", "issued_on": "2026-01-16"})).await;
    assert_eq!((s, again["arrival_number"].as_i64()), (StatusCode::CREATED, Some(2)));
    let id = doc["id"].as_i64().expect("id");
    let (s, got) = app.get(Some(&clerk), &format!("/api/v1/documents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["subject"], "Về việc kiện toàn Ban Chỉ đạo chuyển đổi số");
    assert_eq!(got["arrival_number"], 1);

    let (s, draft) = app
        .post(
            Some(&app.login("chuyenvien").await),
            "/api/v1/documents",
            &json!({"direction": "outgoing", "document_type": "cong_van", "subject": "Về việc báo cáo số liệu"}),
        )
        .await;
    assert_eq!(
        (s, draft["status"].as_str()),
        (StatusCode::CREATED, Some("draft")),
        "{draft}"
    );
    assert!(draft.get("arrival_number").is_some_and(Value::is_null));

    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let resp = app.client.get(app.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert!(resp.headers().contains_key("x-request-id"), "{path} has a request id");
    }
    let (_, spec) = app.get(None, "/api/v1/openapi.json").await;
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for p in [
        "/api/v1/documents",
        "/api/v1/auth/login",
        "/api/v1/registers/{direction}",
        "/api/v1/number-series",
        "/api/v1/audit",
    ] {
        assert!(spec["paths"].get(p).is_some(), "openapi lists {p}");
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(
        metrics.contains("vanthu_http_requests_total{method=\"POST\",route=\"/api/v1/documents\",status=\"201\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("vanthu_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("vanthu_job_queue_depth"));
    app.stop().await;
}
on_both_backends!(fixed_names_contract, fixed_names_contract);

/// Every bad input gets a 4xx with a stable code, and nothing is written.
async fn bad_input_is_refused_cleanly(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |c| c.limits.upload_bytes = 64 * 1024).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let good = incoming("Về việc hợp lệ", 1);
    let with = |k: &str, v: Value| {
        let mut d = good.clone();
        d[k] = v;
        d
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("document_type", json!("sac_lenh")),
            StatusCode::BAD_REQUEST,
            "document.unknown_type",
        ),
        (
            with("subject", json!(5)),
            StatusCode::BAD_REQUEST,
            "request.invalid_field",
        ),
        (
            with("subject", json!("x".repeat(2001))),
            StatusCode::BAD_REQUEST,
            "validation.too_long",
        ),
        (
            with("issued_on", json!("2026-02-30")),
            StatusCode::BAD_REQUEST,
            "validation.invalid_date",
        ),
        (
            with("issued_on", json!("05/01/2026")),
            StatusCode::BAD_REQUEST,
            "validation.invalid_date",
        ),
        (
            with("issuer_code", json!("000.00.00.g12")),
            StatusCode::BAD_REQUEST,
            "agency.invalid_code",
        ),
        (
            with("issuer_code", json!("0".repeat(36))),
            StatusCode::BAD_REQUEST,
            "agency.invalid_code",
        ),
        (
            with("secrecy", json!("mat")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "document.secret_refused",
        ),
        (
            with("secrecy", json!("toi_mat")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "document.secret_refused",
        ),
        (
            with("secrecy", json!("tuyet_mat")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "document.secret_refused",
        ),
        (
            with("urgency", json!("very")),
            StatusCode::BAD_REQUEST,
            "validation.invalid_value",
        ),
        (
            with("number", json!(-3)),
            StatusCode::BAD_REQUEST,
            "validation.invalid_number",
        ),
        (
            with("surprise", json!(true)),
            StatusCode::BAD_REQUEST,
            "request.invalid_field",
        ),
        (
            with("direction", json!("sideways")),
            StatusCode::BAD_REQUEST,
            "validation.invalid_value",
        ),
    ];
    for (body, status, code) in cases {
        let (s, err) = app.post(Some(&clerk), "/api/v1/documents", &body).await;
        assert_eq!((s, err["code"].as_str()), (status, Some(code)), "{body} → {err}");
        assert!(
            err["message"].as_str().is_some_and(|m| m.len() > 10),
            "readable message: {err}"
        );
    }
    let raw = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/v1/documents"))
            .bearer_auth(&clerk)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let (s, err) = crate::common::json_of(raw("{\"direction\": ", "application/json").await.expect("req")).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request.malformed_json"))
    );
    let (s, err) = crate::common::json_of(raw("{}", "text/plain").await.expect("req")).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request.unsupported_media_type"))
    );
    let huge = format!(
        "{{\"direction\":\"incoming\",\"subject\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    // Bodies the server refuses before reading them close their connection: use one-off clients.
    let once = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    };
    // The server answers and closes without reading the rest, so the client may see its write
    // reset before it reads the answer (a TCP race, more likely on a loaded machine): a few
    // attempts, and one of them must read the 413.
    let mut resp = None;
    for _ in 0..5 {
        match once()
            .post(app.url("/api/v1/documents"))
            .bearer_auth(&clerk)
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
        {
            Ok(r) => {
                resp = Some(r);
                break;
            }
            Err(e) => eprintln!("over-limit body: transport error, trying again: {e}"),
        }
    }
    let resp = resp.expect("one of five over-limit requests got an answer");
    let (s, err) = crate::common::json_of(resp).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("request.too_large"))
    );
    let (s, err) = app.get(Some(&clerk), "/api/v1/documents/abc").await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request.invalid_path"))
    );
    let (s, err) = app.get(Some(&clerk), "/api/v1/documents?limit=100000").await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request.invalid_query"))
    );
    assert_eq!(document_count(&app).await, 0, "nothing was written");

    // A file over the limit is refused and leaves no record.
    let (_, doc) = app.post(Some(&clerk), "/api/v1/documents", &good).await;
    let id = doc["id"].as_i64().expect("id");
    let big = vec![7u8; 100 * 1024];
    let resp = once()
        .post(app.url(&format!("/api/v1/documents/{id}/files?filename=big.pdf")))
        .bearer_auth(&clerk)
        .body(big)
        .send()
        .await
        .expect("upload");
    let (s, err) = crate::common::json_of(resp).await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("file.too_large")),
        "{err}"
    );
    // Chunked upload without Content-Length is cut off by the streaming limit as well.
    let chunks = futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![1u8; 4096])));
    let resp = once()
        .post(app.url(&format!("/api/v1/documents/{id}/files?filename=stream.pdf")))
        .bearer_auth(&clerk)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    // The server answers 413 as soon as the limit is crossed and closes the connection; the client
    // may see that answer or only the closed connection, depending on timing.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    for name in ["../etc/passwd", "", "a\u{0}b"] {
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/documents/{id}/files")))
            .query(&[("filename", name)])
            .bearer_auth(&clerk)
            .body("x")
            .send()
            .await
            .expect("upload");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{name:?}");
    }
    let (_, files) = app.get(Some(&clerk), &format!("/api/v1/documents/{id}/files")).await;
    assert_eq!(files.as_array().map(Vec::len), Some(0), "no file record: {files}");
    app.stop().await;
}
on_both_backends!(bad_input_is_refused_cleanly, bad_input_is_refused_cleanly);

async fn files_stream_in_and_out(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    let (_, doc) = app
        .post(Some(&clerk), "/api/v1/documents", &incoming("Văn bản kèm tệp", 4))
        .await;
    let id = doc["id"].as_i64().expect("id");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files")))
        .query(&[("filename", "Quyết định số 15.pdf")])
        .header("content-type", "application/pdf")
        .bearer_auth(&clerk)
        .body(content.clone())
        .send()
        .await
        .expect("upload");
    let (s, file) = crate::common::json_of(resp).await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    assert_eq!(file["size_bytes"], 3_000_000);
    let fid = file["id"].as_i64().expect("id");
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/documents/{id}/files/{fid}")))
        .bearer_auth(&clerk)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("Quy%E1%BA%BFt"));
    let body = resp.bytes().await.expect("body");
    assert!(body.as_ref() == content.as_slice(), "byte-exact round trip");
    let specialist = app.login("chuyenvien").await;
    let resp = app
        .client
        .get(app.url(&format!("/api/v1/documents/{id}/files/{fid}")))
        .bearer_auth(&specialist)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "download is permission-checked");
    app.stop().await;
}
on_both_backends!(files_stream_in_and_out, files_stream_in_and_out);

async fn outgoing_numbers_are_gapless_and_never_reused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    let specialist = app.login("chuyenvien").await;
    let draft = |t: &str, subject: &str| json!({"direction": "outgoing", "document_type": t, "subject": subject, "recipients": ["Bộ Tư pháp", "Tổng cục Thi hành án dân sự"], "signer_name": "Trần Văn Minh"});
    let mut ids = Vec::new();
    for (t, s) in [
        ("quyet_dinh", "Quyết định khen thưởng"),
        ("cong_van", "Về việc báo cáo"),
        ("thong_bao", "Thông báo lịch họp"),
    ] {
        let (st, d) = app.post(Some(&specialist), "/api/v1/documents", &draft(t, s)).await;
        assert_eq!(st, StatusCode::CREATED, "{d}");
        ids.push(d["id"].as_i64().expect("id"));
    }
    let mut refs = Vec::new();
    for id in &ids {
        let (s, d) = app
            .post(Some(&clerk), &format!("/api/v1/documents/{id}/number"), &json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!(d["status"], "issued");
        refs.push(d["reference"].as_str().expect("ref").to_string());
    }
    assert_eq!(refs, vec!["01/QĐ-CTHADS", "02/CTHADS-NV", "03/TB-CTHADS"]);
    let (s, err) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/number", ids[0]),
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("document.not_a_draft"))
    );
    // Recall keeps the number; the next document does not reuse it.
    let (s, r) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/recall", ids[2]),
            &json!({"reason": "Sai thể thức"}),
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str(), r["number"].as_i64()),
        (StatusCode::OK, Some("recalled"), Some(3))
    );
    let (_, d) = app
        .post(
            Some(&specialist),
            "/api/v1/documents",
            &draft("thong_bao", "Thông báo thay thế"),
        )
        .await;
    let (_, d) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/number", d["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(d["reference"], "04/TB-CTHADS");

    // A separate series for decisions (and one for an advisory body) starts at 01.
    let admin = app.login("quantri").await;
    let (s, qd) = app
        .post(
            Some(&admin),
            "/api/v1/number-series",
            &json!({"code": "qd", "name": "Số quyết định", "direction": "outgoing", "document_types": ["quyet_dinh"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{qd}");
    let (s, hd) = app.post(Some(&admin), "/api/v1/number-series", &json!({"code": "hdtd", "name": "Hội đồng thi đua", "direction": "outgoing", "document_types": ["*"], "advisory_body": "Hội đồng Thi đua - Khen thưởng"})).await;
    assert_eq!(s, StatusCode::CREATED, "{hd}");
    // Switching decisions to their own series mid-year would hand out 01/QĐ-CTHADS a second time:
    // the database refuses, and the refused attempt consumes no number.
    let (_, d) = app
        .post(
            Some(&specialist),
            "/api/v1/documents",
            &draft("quyet_dinh", "Quyết định thành lập tổ công tác"),
        )
        .await;
    let (s, err) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/number", d["id"]),
            &json!({}),
        )
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("document.duplicate_number")),
        "{err}"
    );
    let (_, series) = app.get(Some(&admin), "/api/v1/number-series").await;
    let own = series
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["code"] == "qd")
        .expect("qd")
        .clone();
    assert_eq!(
        own["counters"].as_array().map(Vec::len),
        Some(0),
        "no number consumed: {own}"
    );
    let (_, d) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/number", d["id"]),
            &json!({"series_id": own["id"], "unit_abbreviation": "NV"}),
        )
        .await;
    assert_eq!(
        d["reference"], "01/QĐ-CTHADS-NV",
        "own series for decisions, distinct symbol: {d}"
    );
    let (_, d2) = app
        .post(
            Some(&specialist),
            "/api/v1/documents",
            &draft("quyet_dinh", "Quyết định khen thưởng tập thể"),
        )
        .await;
    let (s, d2) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/documents/{}/number", d2["id"]),
            &json!({"series_id": hd["id"], "unit_abbreviation": "HĐTĐKT"}),
        )
        .await;
    assert_eq!(
        (s, d2["reference"].as_str()),
        (StatusCode::OK, Some("01/QĐ-CTHADS-HĐTĐKT")),
        "{d2}"
    );
    let (_, series) = app.get(Some(&admin), "/api/v1/number-series").await;
    let di = series
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["code"] == "di")
        .expect("di")
        .clone();
    assert_eq!(di["counters"][0][1], 4, "{di}");

    // The outgoing register lists them in number order with the 10 columns of Phụ lục IV.
    let (s, reg) = app.get(Some(&clerk), "/api/v1/registers/outgoing").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(reg["columns"].as_array().map(Vec::len), Some(10));
    assert_eq!(reg["columns"][0], "Số, ký hiệu văn bản");
    let rows = reg["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 6, "{reg}");
    assert!(rows
        .iter()
        .any(|r| r[0] == "03/TB-CTHADS" && r[9].as_str().is_some_and(|n| n.contains("Đã thu hồi"))));
    assert!(rows
        .iter()
        .any(|r| r[2] == "Quyết định (cá biệt): Quyết định khen thưởng" && r[3] == "Trần Văn Minh" && r[6] == "2"));
    app.stop().await;
}
on_both_backends!(
    outgoing_numbers_are_gapless_and_never_reused,
    outgoing_numbers_are_gapless_and_never_reused
);

async fn registers_export_and_duplicates(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    for i in 1..=3 {
        let (s, _) = app
            .post(
                Some(&clerk),
                "/api/v1/documents",
                &incoming(&format!("Về việc thứ {i}"), i),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, dup) = app
        .post(
            Some(&clerk),
            "/api/v1/documents",
            &incoming("Về việc thứ 2 (gửi lại)", 2),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "a duplicate is registered but flagged");
    assert_eq!(dup["duplicate_of"], 2);
    assert!(
        dup["warnings"][0].as_str().is_some_and(|w| w.contains("duplicate")),
        "{dup}"
    );
    let mut with_id = incoming("Gói tin trùng mã", 50);
    with_id["external_id"] = json!("2026/BTP/0001");
    app.post(Some(&clerk), "/api/v1/documents", &with_id).await;
    with_id["number"] = json!(51);
    let (_, dup) = app.post(Some(&clerk), "/api/v1/documents", &with_id).await;
    assert_eq!(dup["possible_duplicates"][0], 5, "same document identifier: {dup}");

    let today = chrono::Utc::now().with_timezone(&vanthu::clock::vietnam()).date_naive();
    let (s, reg) = app
        .get(
            Some(&clerk),
            &format!("/api/v1/registers/incoming?from={today}&to={today}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(reg["title"], "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN");
    assert_eq!(
        (reg["first_number"].as_i64(), reg["last_number"].as_i64()),
        (Some(1), Some(6))
    );
    let numbers: Vec<i64> = reg["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[1].as_str().expect("s").parse().expect("n"))
        .collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);
    let resp = app
        .client
        .get(app.url("/api/v1/registers/incoming?format=csv"))
        .bearer_auth(&clerk)
        .send()
        .await
        .expect("csv");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let csv = resp.text().await.expect("text");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("\u{feff}Ngày đến,Số đến,Tác giả,\"Số, ký hiệu văn bản\",Ngày tháng văn bản,Tên loại và trích yếu nội dung văn bản,Đơn vị hoặc người nhận,Ngày chuyển,Ký nhận,Ghi chú"));
    assert_eq!(lines.count(), 6);
    let (s, empty) = app
        .get(Some(&clerk), "/api/v1/registers/incoming?from=2020-01-01&to=2020-12-31")
        .await;
    assert_eq!((s, empty["rows"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let (s, err) = app
        .get(Some(&clerk), "/api/v1/registers/incoming?from=2026-13-01")
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("validation.invalid_date"))
    );

    let (s, page) = app
        .get(
            Some(&clerk),
            "/api/v1/documents?direction=incoming&limit=2&offset=1&sort=oldest",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["total"], 6);
    assert_eq!(
        page["items"].as_array().map(|v| v
            .iter()
            .map(|d| d["arrival_number"].as_i64().unwrap_or(0))
            .collect::<Vec<_>>()),
        Some(vec![2, 3])
    );
    let (_, found) = app.get(Some(&clerk), "/api/v1/documents?q=th%E1%BB%A9%202").await;
    assert_eq!(found["total"], 2, "substring search on the subject: {found}");
    app.stop().await;
}
on_both_backends!(registers_export_and_duplicates, registers_export_and_duplicates);

/// 200 parallel registrations through the HTTP API yield exactly 1..200.
async fn parallel_registrations_are_gapless(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    let numbers = register_in_parallel(&app.client, &app.base, &clerk, 200, 0).await;
    assert_eq!(numbers, (1..=200).collect::<BTreeSet<i64>>());
    app.stop().await;
}
on_both_backends!(parallel_registrations_are_gapless, parallel_registrations_are_gapless);

async fn register_in_parallel(client: &reqwest::Client, base: &str, token: &str, n: i64, offset: i64) -> BTreeSet<i64> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let client = client.clone();
        let url = format!("{base}/api/v1/documents");
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&incoming(&format!("Đăng ký song song {i}"), 1000 + offset + i))
                .send()
                .await
                .expect("send");
            let (s, body) = crate::common::json_of(resp).await;
            assert_eq!(s, StatusCode::CREATED, "{body}");
            body["arrival_number"].as_i64().expect("number")
        }));
    }
    let mut seen = BTreeSet::new();
    for t in tasks {
        assert!(seen.insert(t.await.expect("task")), "duplicate arrival number");
    }
    seen
}

/// Two server processes sharing one PostgreSQL never hand out the same number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_postgres_without_gaps() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        return;
    };
    let url = db.url.clone();
    let app = TestApp::start(
        db,
        crate::common::test_config(&TestDb {
            backend: Backend::Postgres,
            url: url.clone(),
            pg: None,
            dir: tempfile::tempdir().expect("dir"),
        }),
    )
    .await;
    let other_dir = tempfile::tempdir().expect("dir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_vanthu"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VANTHU_DATABASE_URL", &url)
        .env("VANTHU_DATA_DIR", other_dir.path())
        .env("VANTHU_JOBS_ENABLED", "false")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("second server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let other = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("line") {
            if let Some(addr) = line.strip_prefix("vanthu listening on ") {
                return addr.to_string();
            }
        }
        panic!("second server ended without listening");
    })
    .await
    .expect("second server starts");
    let token = app.login("vanthu").await;
    let (a, b) = tokio::join!(
        register_in_parallel(&app.client, &app.base, &token, 100, 0),
        register_in_parallel(&app.client, &other, &token, 100, 100)
    );
    assert!(a.is_disjoint(&b), "the two processes handed out the same number");
    let all: BTreeSet<i64> = a.union(&b).copied().collect();
    assert_eq!(all, (1..=200).collect::<BTreeSet<i64>>());
    let _ = child.kill().await;
    app.stop().await;
}

/// The database goes away mid-run: clear 503s, nothing half-written, recovery without restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_gives_503_then_recovers() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let (server, name) = app.db.pg.clone().expect("postgres");
    let clerk = app.login("vanthu").await;
    let (s, _) = app
        .post(Some(&clerk), "/api/v1/documents", &incoming("Trước sự cố", 1))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    vanthu::storage::postgres_admin(&server, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .expect("block");
    vanthu::storage::postgres_admin(
        &server,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    )
    .await
    .expect("cut");
    let (s, err) = app
        .post(Some(&clerk), "/api/v1/documents", &incoming("Trong sự cố", 2))
        .await;
    assert_eq!(
        (s, err["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service.unavailable")),
        "{err}"
    );
    let resp = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK,
        "still alive"
    );
    vanthu::storage::postgres_admin(&server, &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .expect("unblock");
    let mut recovered = false;
    for _ in 0..50 {
        if app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status()
            == StatusCode::OK
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "ready again without restart");
    let (s, doc) = app
        .post(Some(&clerk), "/api/v1/documents", &incoming("Sau sự cố", 3))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{doc}");
    assert_eq!(doc["arrival_number"], 2, "the failed registration used no number");
    assert_eq!(document_count(&app).await, 2, "nothing half-written");
    app.stop().await;
}
