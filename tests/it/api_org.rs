//! Organisation administration over HTTP, and graceful shutdown.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

async fn agencies_units_and_users(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = app.login("quantri").await;
    let agencies_before = app.services.db.agencies().await.expect("agencies").len();
    for (code, why) in [
        ("000.00.00.g12", "lower case"),
        ("000..00.G12", "empty group"),
        ("000.00.00.G12 ", "fine after trim"),
        ("X".repeat(36).as_str(), "too long"),
    ] {
        let (s, body) = app
            .post(
                Some(&admin),
                "/api/v1/agencies",
                &json!({"code": code, "name": "Bộ Tư pháp", "abbreviation": "BTP"}),
            )
            .await;
        if why == "fine after trim" {
            assert_eq!(s, StatusCode::CREATED, "{body}");
            assert_eq!(body["code"], "000.00.00.G12");
        } else {
            assert_eq!(
                (s, body["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("agency.invalid_code")),
                "{why}: {body}"
            );
        }
    }
    let (s, body) = app
        .post(
            Some(&admin),
            "/api/v1/agencies",
            &json!({"code": "000.00.00.G12", "name": "Trùng", "abbreviation": "BTP"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("agency.duplicate"))
    );
    let (s, body) = app
        .post(
            Some(&admin),
            "/api/v1/agencies",
            &json!({"code": "H37.DN.001", "name": "Doanh nghiệp thử", "abbreviation": "DNT"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "QĐ 20/2020 form accepted: {body}");
    assert_eq!(
        app.services.db.agencies().await.expect("agencies").len(),
        agencies_before + 2,
        "invalid ones wrote nothing"
    );

    let (s, unit) = app
        .post(
            Some(&admin),
            "/api/v1/units",
            &json!({"name": "Phòng Tổ chức cán bộ", "abbreviation": "TCCB"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{unit}");
    let (s, sub) = app
        .post(
            Some(&admin),
            "/api/v1/units",
            &json!({"name": "Tổ Thi đua", "abbreviation": "TĐ", "parent_id": unit["id"]}),
        )
        .await;
    assert_eq!((s, sub["parent_id"].clone()), (StatusCode::CREATED, unit["id"].clone()));
    let (s, body) = app
        .post(
            Some(&admin),
            "/api/v1/units",
            &json!({"name": "Trùng", "abbreviation": "TCCB"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("unit.duplicate"))
    );

    let user = |pw: &str, roles: Vec<&str>| json!({"username": "nguyen.van.a", "display_name": "Nguyễn Văn A", "password": pw, "roles": roles, "unit_id": unit["id"], "position": "Chuyên viên"});
    let (s, body) = app
        .post(Some(&admin), "/api/v1/users", &user("abc", vec!["chuyen_vien"]))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("auth.weak_password"))
    );
    let (s, body) = app
        .post(Some(&admin), "/api/v1/users", &user("Matkhau-2026", vec!["vua"]))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("user.unknown_role"))
    );
    let (s, created) = app
        .post(
            Some(&admin),
            "/api/v1/users",
            &user("Matkhau-2026", vec!["chuyen_vien"]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let (s, body) = app
        .post(
            Some(&admin),
            "/api/v1/users",
            &user("Matkhau-2026", vec!["chuyen_vien"]),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("user.duplicate"))
    );
    let (s, login) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "nguyen.van.a", "password": "Matkhau-2026"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let token = login["token"].as_str().expect("token").to_string();
    assert_eq!(app.get(Some(&token), "/api/v1/me").await.0, StatusCode::OK);
    let id = created["id"].as_i64().expect("id");
    let (s, locked) = app
        .post(Some(&admin), &format!("/api/v1/users/{id}/lock"), &json!({}))
        .await;
    assert_eq!((s, locked["locked"].as_bool()), (StatusCode::OK, Some(true)));
    assert_ne!(
        app.get(Some(&token), "/api/v1/me").await.0,
        StatusCode::OK,
        "locking ends the user's sessions"
    );

    // Own password change ends sessions; the old password stops working.
    let (s, login) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "lanhdao", "password": crate::common::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let leader = login["token"].as_str().expect("token").to_string();
    let (s, body) = app
        .post(
            Some(&leader),
            "/api/v1/me/password",
            &json!({"current_password": "sai", "new_password": "Moi-Matkhau-1"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("auth.invalid_credentials"))
    );
    let (s, _) = app
        .post(
            Some(&leader),
            "/api/v1/me/password",
            &json!({"current_password": crate::common::DEMO_PASSWORD, "new_password": "Moi-Matkhau-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.get(Some(&leader), "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "lanhdao", "password": "Moi-Matkhau-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
on_both_backends!(agencies_units_and_users, agencies_units_and_users);

/// Shutdown lets an in-flight request finish before the server stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let clerk = app.login("vanthu").await;
    let (_, doc) = app
        .post(
            Some(&clerk),
            "/api/v1/documents",
            &crate::common::incoming("Tệp tải chậm", 1),
        )
        .await;
    let id = doc["id"].as_i64().expect("id");
    // A slow upload: 10 chunks, 100 ms apart.
    let chunks = futures::stream::unfold(0u32, |i| async move {
        if i == 10 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(vec![b'a'; 1000]), i + 1))
    });
    let upload = app
        .client
        .post(app.url(&format!("/api/v1/documents/{id}/files?filename=slow.txt")))
        .bearer_auth(&clerk)
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let base = app.base.clone();
    let (resp, ()) = tokio::join!(upload, async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.stop().await;
    });
    let (s, file) = crate::common::json_of(resp.expect("in-flight upload completes")).await;
    assert_eq!(
        (s, file["size_bytes"].as_i64()),
        (StatusCode::CREATED, Some(10_000)),
        "{file}"
    );
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "the server is gone afterwards"
    );
}
