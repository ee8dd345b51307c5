//! Records (hồ sơ): the record list, filing (archived metadata gains the record code), closing,
//! deposit warnings 30 days ahead, legal hold, and disposal only after retention, approved by
//! the archivist, audited, with the metadata kept.

use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::archive::{pseudo_random, register, upload, wait_archived};
use crate::common::{Backend, TestApp};

fn today(app: &TestApp) -> NaiveDate {
    vanthu::clock::Clock::today(app.clock.as_ref())
}

/// Moves the app's clock so that today (Vietnam) is `target`.
fn travel_to(app: &TestApp, target: NaiveDate) {
    let days = (target - today(app)).num_days();
    app.clock.advance(chrono::Duration::days(days));
    assert_eq!(today(app), target);
}

async fn delete(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let resp = app
        .client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    crate::common::json_of(resp).await
}

crate::on_both_backends!(record_lifecycle_retention_hold_and_disposal, lifecycle_body);
async fn lifecycle_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let archivist = app.login("luutru").await;
    let year = i64::from(today(&app).year());
    let input = json!({"year": year, "notation": "01.VP", "heading": "I. Văn phòng",
        "title": "Hồ sơ công văn trao đổi về công tác văn thư, lưu trữ", "retention": "5_nam"});

    // Bad input: clear 4xx, nothing created.
    let (status, body) = app
        .post(
            Some(&clerk),
            "/api/v1/records",
            &json!({"year": year, "notation": "VP 01",
        "heading": "I", "title": "x", "retention": "5_nam"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("notation")),
        "{body}"
    );
    let (status, body) = app
        .post(
            Some(&clerk),
            "/api/v1/records",
            &json!({"year": year, "notation": "01.VP",
        "heading": "I", "title": "x", "retention": "3_nam"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("retention")),
        "{body}"
    );
    let admin = app.login("quantri").await;
    let (status, _) = app.post(Some(&admin), "/api/v1/records", &input).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, rec) = app.post(Some(&clerk), "/api/v1/records", &input).await;
    assert_eq!(status, StatusCode::CREATED, "{rec}");
    let id = rec["id"].as_i64().expect("id");
    assert_eq!(rec["status"], "planned");
    assert_eq!(rec["file_code"], format!("000.00.99.H99.{year}.01.VP"));
    assert_eq!(rec["retention"]["label"], "5 năm");
    let (status, body) = app.post(Some(&clerk), "/api/v1/records", &input).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record.duplicate")),
        "{body}"
    );
    let (status, list) = app.get(Some(&archivist), &format!("/api/v1/records?year={year}")).await;
    assert_eq!(
        (status, list.as_array().map(Vec::len)),
        (StatusCode::OK, Some(1)),
        "{list}"
    );

    // Filing needs an open record.
    let d1 = register(&app, &clerk, "Về việc chỉnh lý tài liệu lưu trữ", 41).await;
    let d2 = register(&app, &clerk, "Về việc nộp lưu hồ sơ năm trước", 42).await;
    let data = pseudo_random(50_000, 9);
    upload(&app, &clerk, d1, "chinh-ly.pdf", &data).await;
    wait_archived(&app, &clerk, d1, 1).await;
    let path = format!("/api/v1/records/{id}/documents");
    let (status, body) = app.post(Some(&clerk), &path, &json!({"document_id": d1})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record.wrong_state")),
        "{body}"
    );
    let (status, rec) = app
        .post(Some(&clerk), &format!("/api/v1/records/{id}/open"), &Value::Null)
        .await;
    assert_eq!(
        (status, rec["status"].as_str()),
        (StatusCode::OK, Some("open")),
        "{rec}"
    );
    for (doc, ordinal) in [(d1, 1), (d2, 2)] {
        let (status, filed) = app.post(Some(&clerk), &path, &json!({"document_id": doc})).await;
        assert_eq!(
            (status, filed["ordinal"].as_i64()),
            (StatusCode::CREATED, Some(ordinal)),
            "{filed}"
        );
    }
    let (status, body) = app.post(Some(&clerk), &path, &json!({"document_id": d1})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record.already_filed")),
        "{body}"
    );
    let (status, _) = app.post(Some(&clerk), &path, &json!({"document_id": 999_999})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The archived metadata gains FileCode and DocOrdinal.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, a) = app.get(Some(&clerk), &format!("/api/v1/archive/documents/{d2}")).await;
        if a["metadata"]["file_code"]["file_notation"] == "01.VP" {
            assert_eq!(a["metadata"]["doc_ordinal"], 2, "{a}");
            assert_eq!(a["metadata"]["file_code"]["file_catalog"], year, "{a}");
            break;
        }
        assert!(Instant::now() < deadline, "metadata not updated: {a}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Close: retention counts from the year the work ended.
    let end = today(&app);
    let (status, rec) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/records/{id}/close"),
            &json!({"end_date": end.to_string()}),
        )
        .await;
    assert_eq!(
        (status, rec["status"].as_str()),
        (StatusCode::OK, Some("closed")),
        "{rec}"
    );
    let disposable = NaiveDate::from_ymd_opt(end.year() + 6, 1, 1).expect("date");
    let due = NaiveDate::from_ymd_opt(end.year() + 1, 12, 31).expect("date");
    assert_eq!(rec["disposable_from"], disposable.to_string(), "{rec}");
    assert_eq!(rec["deposit_due"], due.to_string(), "{rec}");
    let (status, _) = app
        .post(
            Some(&clerk),
            &format!("/api/v1/records/{id}/documents"),
            &json!({"document_id": d2}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a closed record takes no documents");

    // Disposal: only the archivist, only after retention.
    let dispose = format!("/api/v1/records/{id}/dispose");
    let (status, _) = app.post(Some(&clerk), &dispose, &Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.post(Some(&archivist), &dispose, &Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record.disposal_refused")),
        "{body}"
    );

    // Deposit warning from 30 days before the deadline.
    let (_, rec) = app.get(Some(&archivist), &format!("/api/v1/records/{id}")).await;
    assert!(rec["warnings"].as_array().expect("warnings").is_empty(), "{rec}");
    assert_eq!(rec["documents"].as_array().map(Vec::len), Some(2), "{rec}");
    travel_to(&app, due - chrono::Duration::days(30));
    let archivist = app.login("luutru").await;
    let (_, rec) = app.get(Some(&archivist), &format!("/api/v1/records/{id}")).await;
    let warnings = rec["warnings"].to_string();
    assert!(warnings.contains("đến hạn nộp lưu"), "{rec}");
    let (_, list) = app.get(Some(&archivist), &format!("/api/v1/records?year={year}")).await;
    assert!(list[0]["warnings"].to_string().contains("đến hạn nộp lưu"), "{list}");

    // A legal hold blocks disposal even after retention has run out.
    let (status, rec) = app
        .post(
            Some(&archivist),
            &format!("/api/v1/records/{id}/hold"),
            &json!({"reason": "Phục vụ thanh tra"}),
        )
        .await;
    assert_eq!(
        (status, rec["legal_hold"].as_str()),
        (StatusCode::OK, Some("Phục vụ thanh tra")),
        "{rec}"
    );
    travel_to(&app, disposable);
    let archivist = app.login("luutru").await;
    let (status, body) = app.post(Some(&archivist), &dispose, &Value::Null).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("record.disposal_refused")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap_or_default().contains("legal hold"),
        "{body}"
    );
    let (status, rec) = delete(&app, &archivist, &format!("/api/v1/records/{id}/hold")).await;
    assert_eq!((status, rec["legal_hold"].is_null()), (StatusCode::OK, true), "{rec}");

    let (status, rec) = app.post(Some(&archivist), &dispose, &Value::Null).await;
    assert_eq!(
        (status, rec["status"].as_str()),
        (StatusCode::OK, Some("disposed")),
        "{rec}"
    );
    let (status, body) = app.post(Some(&archivist), &dispose, &Value::Null).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The metadata is kept; the archived file is gone; the disposal is in the audit log.
    let (status, a) = app
        .get(Some(&archivist), &format!("/api/v1/archive/documents/{d1}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let key = a["files"][0]["object_key"].as_str().expect("key").to_string();
    let store = vanthu::archive::service::store(&app.services);
    assert!(matches!(
        store.digest(&key).await,
        Err(vanthu::archive::StoreError::NotFound(_))
    ));
    let report = vanthu::archive::fixity::verify(&app.services, None, |_, _| {})
        .await
        .expect("fixity");
    assert!(report.ok(), "disposal leaves the archive consistent: {report:?}");
    let admin = app.login("quantri").await;
    let (status, log) = app
        .get(
            Some(&admin),
            &format!("/api/v1/audit?target_kind=record&target_id={id}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let text = log.to_string();
    for action in [
        "record.create",
        "record.open",
        "record.file",
        "record.close",
        "record.hold",
        "record.release_hold",
        "record.dispose",
    ] {
        assert!(text.contains(action), "{action} missing from {log}");
    }
    app.stop().await;
}

crate::on_both_backends!(permanent_and_until_superseded_records, permanent_body);
async fn permanent_body(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let archivist = app.login("luutru").await;
    let year = i64::from(today(&app).year());
    let mut ids = Vec::new();
    for (notation, retention) in [("02.VP", "vinh_vien"), ("03.VP", "den_khi_het_hieu_luc")] {
        let (status, rec) = app
            .post(
                Some(&archivist),
                "/api/v1/records",
                &json!({"year": year, "notation": notation, "heading": "I. Văn phòng",
                "title": "Tập văn bản gửi chung", "retention": retention}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{rec}");
        let id = rec["id"].as_i64().expect("id");
        app.post(Some(&archivist), &format!("/api/v1/records/{id}/open"), &Value::Null)
            .await;
        let (status, rec) = app
            .post(Some(&archivist), &format!("/api/v1/records/{id}/close"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{rec}");
        ids.push(id);
    }
    let (_, until) = app.get(Some(&archivist), &format!("/api/v1/records/{}", ids[1])).await;
    assert!(
        until["deposit_due"].is_null(),
        "until-superseded records are not deposited: {until}"
    );
    travel_to(
        &app,
        NaiveDate::from_ymd_opt(today(&app).year() + 200, 1, 1).expect("date"),
    );
    let archivist = app.login("luutru").await;
    let (status, body) = app
        .post(
            Some(&archivist),
            &format!("/api/v1/records/{}/dispose", ids[0]),
            &Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap_or_default().contains("permanently"),
        "{body}"
    );
    let (status, body) = app
        .post(
            Some(&archivist),
            &format!("/api/v1/records/{}/dispose", ids[1]),
            &Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "still in force: {body}");
    let on = today(&app).to_string();
    let (status, body) = app
        .post(
            Some(&archivist),
            &format!("/api/v1/records/{}/superseded", ids[1]),
            &json!({"on": on}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            Some(&archivist),
            &format!("/api/v1/records/{}/dispose", ids[1]),
            &Value::Null,
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("disposed")),
        "{body}"
    );
    let (_, periods) = app.get(Some(&archivist), "/api/v1/retention-periods").await;
    assert_eq!(periods.as_array().map(Vec::len), Some(7), "{periods}");
    app.stop().await;
}

/// Deposit package (nộp lưu): export a closed record as a BagIt folder and ZIP, check both, and
/// a changed byte makes the check fail naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deposit_package_export_and_check() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let year = i64::from(today(&app).year());
    let (status, rec) = app
        .post(
            Some(&clerk),
            "/api/v1/records",
            &json!({"year": year, "notation": "05.NV", "heading": "II. Nghiệp vụ thi hành án",
            "title": "Hồ sơ tổ chức thi hành án vụ việc số 12/2026", "retention": "10_nam"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rec}");
    let id = rec["id"].as_i64().expect("id");
    let code = rec["file_code"].as_str().expect("code").to_string();
    app.post(Some(&clerk), &format!("/api/v1/records/{id}/open"), &Value::Null)
        .await;
    let d1 = register(&app, &clerk, "Quyết định thi hành án", 51).await;
    let d2 = register(&app, &clerk, "Biên bản xác minh điều kiện thi hành án", 52).await;
    let pdf = pseudo_random(700_000, 1);
    let annex = pseudo_random(10_000, 2);
    upload(&app, &clerk, d1, "Quyết định.pdf", &pdf).await;
    upload(&app, &clerk, d1, "phu-luc.pdf", &annex).await;
    wait_archived(&app, &clerk, d1, 2).await;
    for d in [d1, d2] {
        let (status, body) = app
            .post(
                Some(&clerk),
                &format!("/api/v1/records/{id}/documents"),
                &json!({"document_id": d}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (rc, stdout, stderr) = crate::archive::vanthu(&app, &["archive", "records"]);
    assert_eq!(rc, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("DANH MỤC HỒ SƠ năm {year}")), "{stdout}");
    assert!(
        stdout.contains("05.NV\tHồ sơ tổ chức thi hành án vụ việc số 12/2026\t10 năm\topen"),
        "{stdout}"
    );
    let out = app.db.dir.path().join("goi-nop-luu");
    let out_s = out.display().to_string();
    let (code_open, _, stderr) = crate::archive::vanthu(&app, &["archive", "export", &id.to_string(), "--out", &out_s]);
    assert_eq!(code_open, Some(1), "an open record is not deposited: {stderr}");
    assert!(stderr.contains("only a closed record"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    app.post(Some(&clerk), &format!("/api/v1/records/{id}/close"), &json!({}))
        .await;
    // Wait until the re-archived metadata carries the record code.
    let deadline = Instant::now() + Duration::from_secs(30);
    for d in [d1, d2] {
        loop {
            let (_, a) = app.get(Some(&clerk), &format!("/api/v1/archive/documents/{d}")).await;
            if a["metadata"]["file_code"]["file_notation"] == "05.NV" {
                break;
            }
            assert!(Instant::now() < deadline, "{a}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let (rc, stdout, stderr) = crate::archive::vanthu(&app, &["archive", "export", &code, "--out", &out_s]);
    assert_eq!(rc, Some(0), "{stdout}\n{stderr}");
    for f in [
        "bagit.txt",
        "bag-info.txt",
        "manifest-sha256.txt",
        "tagmanifest-sha256.txt",
        "data/record.xml",
        "data/documents/001/metadata.xml",
        "data/documents/002/metadata.xml",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let main = out.join(format!("data/documents/001/{code}.001.pdf"));
    assert_eq!(
        std::fs::read(&main).expect("main file"),
        pdf,
        "files are exported as archived"
    );
    assert_eq!(
        std::fs::read(out.join(format!("data/documents/001/{code}.001-2.pdf"))).expect("annex"),
        annex
    );
    let record_xml = std::fs::read_to_string(out.join("data/record.xml")).expect("record xml");
    assert!(
        record_xml.contains("<FileNotation>05.NV</FileNotation>"),
        "{record_xml}"
    );
    assert!(record_xml.contains("<Maintenance>10 năm</Maintenance>"), "{record_xml}");
    assert!(record_xml.contains("<DocTotal>2</DocTotal>"), "{record_xml}");
    let doc_xml = std::fs::read_to_string(out.join("data/documents/002/metadata.xml")).expect("doc xml");
    assert!(doc_xml.contains("<DocOrdinal>2</DocOrdinal>"), "{doc_xml}");
    let info = std::fs::read_to_string(out.join("bag-info.txt")).expect("bag-info");
    assert!(info.contains(&format!("External-Identifier: {code}")), "{info}");

    let (rc, stdout, _) = crate::archive::vanthu(&app, &["archive", "check-package", &out_s]);
    assert_eq!(rc, Some(0), "{stdout}");
    assert!(stdout.contains("package intact"), "{stdout}");

    // The record is now deposited; a package path that exists is refused, leaving nothing behind.
    let (_, rec) = app.get(Some(&clerk), &format!("/api/v1/records/{id}")).await;
    assert!(rec["deposited_at"].is_i64(), "{rec}");
    let (rc, _, stderr) = crate::archive::vanthu(&app, &["archive", "export", &id.to_string(), "--out", &out_s]);
    assert_eq!(rc, Some(1), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    let leftovers: Vec<_> = std::fs::read_dir(app.db.dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The same record as a ZIP package, checked as such.
    let zip_path = app.db.dir.path().join("goi-nop-luu.zip");
    let zip_s = zip_path.display().to_string();
    let (rc, stdout, stderr) = crate::archive::vanthu(&app, &["archive", "export", &id.to_string(), "--out", &zip_s]);
    assert_eq!(rc, Some(0), "{stdout}\n{stderr}");
    let (rc, stdout, _) = crate::archive::vanthu(&app, &["archive", "check-package", &zip_s, "--json"]);
    assert_eq!(rc, Some(0), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["files_checked"], 8, "5 payload files and 3 tag files: {report}");

    // One changed byte: the check fails and names the file.
    let mut bytes = std::fs::read(&main).expect("main");
    bytes[100] ^= 0x80;
    std::fs::write(&main, bytes).expect("tamper");
    let (rc, stdout, _) = crate::archive::vanthu(&app, &["archive", "check-package", &out_s]);
    assert_eq!(rc, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("data/documents/001/{code}.001.pdf: checksum mismatch")),
        "{stdout}"
    );
    // An extra payload file and a missing tag file are reported too.
    std::fs::write(out.join("data/extra.txt"), b"x").expect("extra");
    std::fs::remove_file(out.join("tagmanifest-sha256.txt")).expect("rm");
    let (rc, stdout, _) = crate::archive::vanthu(&app, &["archive", "check-package", &out_s]);
    assert_eq!(rc, Some(1));
    assert!(stdout.contains("data/extra.txt: not listed"), "{stdout}");
    assert!(stdout.contains("tagmanifest-sha256.txt: missing"), "{stdout}");
    let (rc, _, stderr) = crate::archive::vanthu(&app, &["archive", "check-package", "/nonexistent/package.zip"]);
    assert_eq!(rc, Some(1));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    app.stop().await;
}
