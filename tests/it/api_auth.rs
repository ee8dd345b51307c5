//! Accounts and security over HTTP: login, lockout, timeouts, logout, role/unit/delegation
//! authorisation, and the audit trail of reads.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{incoming, Backend, TestApp, DEMO_PASSWORD};
use crate::on_both_backends;

async fn login_and_failures(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (s, body) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "vanthu", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.invalid_credentials"))
    );
    let (s, body) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "nobody", "password": "x"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.invalid_credentials")),
        "unknown users look the same"
    );
    let token = app.login("vanthu").await;
    assert!(token.starts_with("vt_"));
    let (s, me) = app.get(Some(&token), "/api/v1/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["user"]["username"], "vanthu");
    assert_eq!(me["grants"][0]["role"], "van_thu");
    assert_eq!(me["agency"]["code"], "000.00.99.H99");
    assert!(
        me["user"].get("password_hash").is_none(),
        "hash never leaves the server"
    );
    // The token is stored hashed: it does not appear in the database.
    let (s, body) = app.get(None, "/api/v1/me").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.unauthenticated"))
    );
    let resp = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", "Bearer vt_forged")
        .send()
        .await
        .expect("req");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
on_both_backends!(login_and_failures, login_and_failures);

async fn lockout_after_five_failures(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for i in 1..=4 {
        let (s, _) = app
            .post(
                None,
                "/api/v1/auth/login",
                &json!({"username": "chuyenvien", "password": format!("bad{i}")}),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, body) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "chuyenvien", "password": "bad5"}),
        )
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::LOCKED, Some("auth.account_locked")),
        "{body}"
    );
    let (s, _) = app
        .post(
            None,
            "/api/v1/auth/login",
            &json!({"username": "chuyenvien", "password": DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::LOCKED, "even the right password is refused while locked");
    let admin = app.login("quantri").await;
    let id = app.user_id("chuyenvien").await;
    let (s, user) = app
        .post(Some(&admin), &format!("/api/v1/users/{id}/unlock"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{user}");
    assert_eq!(user["locked"], false);
    app.login("chuyenvien").await;
    // The audit log has the failures and the lock.
    let (_, entries) = app
        .get(Some(&admin), &format!("/api/v1/audit?target_kind=user&target_id={id}"))
        .await;
    let actions: Vec<&str> = entries
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "auth.login_failed").count(),
        5,
        "{actions:?}"
    );
    assert!(
        actions.contains(&"user.locked") && actions.contains(&"user.unlock"),
        "{actions:?}"
    );
    app.stop().await;
}
on_both_backends!(lockout_after_five_failures, lockout_after_five_failures);

async fn idle_and_absolute_timeouts_and_logout(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, |c| c.security.session_absolute_secs = 3600).await else {
        return;
    };
    let token = app.login("lanhdao").await;
    app.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(
        app.get(Some(&token), "/api/v1/me").await.0,
        StatusCode::OK,
        "14 idle minutes are fine"
    );
    app.clock.advance(chrono::Duration::minutes(16));
    let (s, body) = app.get(Some(&token), "/api/v1/me").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.session_expired")),
        "16 idle minutes: {body}"
    );

    let token = app.login("lanhdao").await;
    for _ in 0..5 {
        app.clock.advance(chrono::Duration::minutes(10));
        assert_eq!(app.get(Some(&token), "/api/v1/me").await.0, StatusCode::OK);
    }
    app.clock.advance(chrono::Duration::minutes(10));
    assert_eq!(
        app.get(Some(&token), "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "absolute expiry after one hour of activity"
    );

    let token = app.login("lanhdao").await;
    let resp = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("logout");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(Some(&token), "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "logged out"
    );
    app.stop().await;
}
on_both_backends!(
    idle_and_absolute_timeouts_and_logout,
    idle_and_absolute_timeouts_and_logout
);

async fn roles_and_units_are_enforced_server_side(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    let specialist = app.login("chuyenvien").await;
    let admin = app.login("quantri").await;
    let leader = app.login("lanhdao").await;
    let head = app.login("truongphong").await;

    let (s, body) = app
        .post(Some(&specialist), "/api/v1/documents", &incoming("Về việc phối hợp", 1))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("auth.forbidden")),
        "only the clerk registers incoming"
    );
    let (s, doc) = app
        .post(
            Some(&clerk),
            "/api/v1/documents",
            &incoming("Về việc phối hợp thi hành án", 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{doc}");
    let id = doc["id"].as_i64().expect("id");
    // The clerk's document belongs to the Văn phòng unit: a specialist of another unit cannot see it.
    assert_eq!(
        app.get(Some(&specialist), &format!("/api/v1/documents/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(Some(&admin), &format!("/api/v1/documents/{id}")).await.0,
        StatusCode::NOT_FOUND,
        "admins do not read documents"
    );
    assert_eq!(
        app.get(Some(&leader), &format!("/api/v1/documents/{id}")).await.0,
        StatusCode::OK
    );
    let (_, list) = app.get(Some(&specialist), "/api/v1/documents").await;
    assert_eq!(list["total"], 0, "counts respect permissions too: {list}");

    // A specialist's own draft is visible to their unit head, not to another unit.
    let (s, draft) = app
        .post(
            Some(&specialist),
            "/api/v1/documents",
            &json!({"direction": "outgoing", "document_type": "to_trinh", "subject": "Tờ trình phê duyệt kế hoạch"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{draft}");
    let did = draft["id"].as_i64().expect("id");
    assert_eq!(
        app.get(Some(&head), &format!("/api/v1/documents/{did}")).await.0,
        StatusCode::OK
    );
    let (s, _) = app
        .post(
            Some(&specialist),
            &format!("/api/v1/documents/{did}/number"),
            &json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "numbering is the clerk's");
    let (s, _) = app
        .post(
            Some(&clerk),
            "/api/v1/users",
            &json!({"username": "x1", "display_name": "X", "password": "Abcdef-123", "roles": ["van_thu"]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only administrators manage users");
    let (s, _) = app.get(Some(&specialist), "/api/v1/registers/incoming").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get(Some(&clerk), "/api/v1/audit").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}
on_both_backends!(
    roles_and_units_are_enforced_server_side,
    roles_and_units_are_enforced_server_side
);

async fn delegation_is_honoured_in_its_window_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = app.login("quantri").await;
    let specialist = app.login("chuyenvien").await;
    let now = chrono::Utc::now();
    let window = |from: chrono::Duration, to: chrono::Duration| ((now + from).to_rfc3339(), (now + to).to_rfc3339());
    let delegate = app.user_id("chuyenvien").await;
    let clerk_id = app.user_id("vanthu").await;

    // A future window lends nothing yet.
    let (from, to) = window(chrono::Duration::hours(1), chrono::Duration::hours(2));
    let (s, d) = app
        .post(Some(&admin), "/api/v1/delegations", &json!({"delegator_id": clerk_id, "delegate_id": delegate, "roles": ["van_thu"], "authority": "tuq", "valid_from": from, "valid_to": to, "legal_basis": "Quyết định 12/QĐ-CTHADS"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(
        app.post(
            Some(&specialist),
            "/api/v1/documents",
            &incoming("Ủy quyền chưa hiệu lực", 7)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    let (from, to) = window(chrono::Duration::hours(-1), chrono::Duration::hours(1));
    let (s, d) = app
        .post(Some(&admin), "/api/v1/delegations", &json!({"delegator_id": clerk_id, "delegate_id": delegate, "roles": ["van_thu"], "authority": "tuq", "valid_from": from, "valid_to": to, "legal_basis": "Quyết định 13/QĐ-CTHADS"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let (s, doc) = app
        .post(
            Some(&specialist),
            "/api/v1/documents",
            &incoming("Đăng ký theo ủy quyền", 8),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "delegated clerk duties: {doc}");
    let (_, me) = app.get(Some(&specialist), "/api/v1/me").await;
    assert!(
        me["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .any(|g| g["role"] == "van_thu" && g["delegated_by"] == clerk_id),
        "{me}"
    );

    let id = d["id"].as_i64().expect("id");
    let (s, _) = app
        .post(Some(&admin), &format!("/api/v1/delegations/{id}/revoke"), &json!({}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.post(
            Some(&specialist),
            "/api/v1/documents",
            &incoming("Sau khi thu hồi ủy quyền", 9)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // The window closes by itself.
    let (from, to) = window(chrono::Duration::minutes(-5), chrono::Duration::minutes(10));
    let (s, _) = app
        .post(Some(&admin), "/api/v1/delegations", &json!({"delegator_id": clerk_id, "delegate_id": delegate, "roles": ["van_thu"], "authority": "tuq", "valid_from": from, "valid_to": to, "legal_basis": "Quyết định 14/QĐ-CTHADS"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let fresh = app.login("chuyenvien").await;
    assert_eq!(
        app.post(Some(&fresh), "/api/v1/documents", &incoming("Trong thời hạn", 10))
            .await
            .0,
        StatusCode::CREATED
    );
    app.clock.advance(chrono::Duration::minutes(11));
    assert_eq!(
        app.post(Some(&fresh), "/api/v1/documents", &incoming("Quá thời hạn", 11))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}
on_both_backends!(
    delegation_is_honoured_in_its_window_only,
    delegation_is_honoured_in_its_window_only
);

async fn delegated_powers_cannot_be_delegated_again(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = app.login("quantri").await;
    let now = chrono::Utc::now();
    let (from, to) = (
        (now - chrono::Duration::hours(1)).to_rfc3339(),
        (now + chrono::Duration::hours(1)).to_rfc3339(),
    );
    let leader = app.user_id("lanhdao").await;
    let head = app.user_id("truongphong").await;
    let specialist = app.user_id("chuyenvien").await;
    let (s, _) = app
        .post(Some(&admin), "/api/v1/delegations", &json!({"delegator_id": leader, "delegate_id": head, "roles": ["lanh_dao"], "authority": "kt", "valid_from": from, "valid_to": to, "legal_basis": "Quy chế làm việc, Điều 5"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let head_token = app.login("truongphong").await;
    let (s, body) = app
        .post(Some(&head_token), "/api/v1/delegations", &json!({"delegate_id": specialist, "roles": ["lanh_dao"], "authority": "tuq", "valid_from": from, "valid_to": to, "legal_basis": "x"}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("delegation.not_held")),
        "{body}"
    );
    let (s, body) = app
        .post(Some(&admin), "/api/v1/delegations", &json!({"delegator_id": leader, "delegate_id": head, "roles": ["lanh_dao"], "authority": "tuq", "valid_from": from, "valid_to": (now + chrono::Duration::days(800)).to_rfc3339(), "legal_basis": "x"}))
        .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("delegation.bad_window")),
        "TUQ must be time-limited: {body}"
    );
    app.stop().await;
}
on_both_backends!(
    delegated_powers_cannot_be_delegated_again,
    delegated_powers_cannot_be_delegated_again
);

async fn reads_and_changes_are_audited_and_the_chain_verifies(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let clerk = app.login("vanthu").await;
    let leader = app.login("lanhdao").await;
    let admin = app.login("quantri").await;
    let (_, doc) = app
        .post(Some(&clerk), "/api/v1/documents", &incoming("Về việc tổng kết năm", 3))
        .await;
    let id = doc["id"].as_i64().expect("id");
    for _ in 0..3 {
        assert_eq!(
            app.get(Some(&leader), &format!("/api/v1/documents/{id}")).await.0,
            StatusCode::OK
        );
    }
    let (s, entries) = app
        .get(
            Some(&admin),
            &format!("/api/v1/audit?target_kind=document&target_id={id}"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let entries = entries.as_array().expect("list").clone();
    let reads: Vec<_> = entries.iter().filter(|e| e["action"] == "document.read").collect();
    assert_eq!(reads.len(), 3);
    assert!(reads
        .iter()
        .all(|e| e["actor"] == "lanhdao" && e["ip"] == "127.0.0.1" && e["at_ms"].as_i64().is_some()));
    assert!(entries
        .iter()
        .any(|e| e["action"] == "document.register" && e["actor"] == "vanthu"));
    let (s, v) = app.get(Some(&admin), "/api/v1/audit/verify").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["error"].is_null(), "{v}");
    assert!(v["checked"].as_i64().expect("n") >= 10);
    app.services
        .db
        .tamper_audit_for_test("UPDATE audit_log SET actor = 'ke_gian' WHERE seq = 3")
        .await
        .expect("tamper");
    let (_, v) = app.get(Some(&admin), "/api/v1/audit/verify").await;
    assert!(v["error"].as_str().is_some_and(|e| e.contains("entry 3")), "{v}");
    app.stop().await;
}
on_both_backends!(
    reads_and_changes_are_audited_and_the_chain_verifies,
    reads_and_changes_are_audited_and_the_chain_verifies
);
