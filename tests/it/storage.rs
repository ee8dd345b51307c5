//! Storage conformance: the same operations behave the same on SQLite and PostgreSQL, through
//! `vanthu::storage::Db` directly (no HTTP, no services).

use std::collections::BTreeSet;

use vanthu::audit::{Actor, NewAuditEntry};
use vanthu::auth::ReadScope;
use vanthu::model::{Direction, Role, Urgency, ValidDocument};
use vanthu::storage::{
    Agency, Arrival, ConnectSettings, Db, DocumentFilter, NewAgency, NewDelegation, NewSeries, NewUnit, NewUser,
    StorageError, Unit, User,
};

use crate::common::{Backend, TestDb};

const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

use crate::common::{close_store as finish, open_store as open};

fn entry(action: &str, kind: &str) -> NewAuditEntry {
    Actor::console("test").entry(NOW, action, kind, None, serde_json::json!({}))
}

fn new_agency(code: &str, abbreviation: &str) -> NewAgency {
    NewAgency {
        code: code.into(),
        name: format!("Cơ quan {abbreviation}"),
        abbreviation: abbreviation.into(),
        parent_name: Some("Bộ Tư pháp".into()),
        place_name: Some("Hà Nội".into()),
    }
}

async fn agency(store: &Db, code: &str, abbreviation: &str) -> Agency {
    store
        .create_agency(&new_agency(code, abbreviation), NOW, entry("agency.create", "agency"))
        .await
        .expect("agency")
}

async fn unit(store: &Db, agency_id: i64, abbreviation: &str, parent_id: Option<i64>) -> Unit {
    let u = NewUnit {
        agency_id,
        parent_id,
        name: format!("Phòng {abbreviation}"),
        abbreviation: abbreviation.into(),
    };
    store
        .create_unit(&u, NOW, entry("unit.create", "unit"))
        .await
        .expect("unit")
}

fn new_user(username: &str, agency_id: i64, unit_id: Option<i64>, roles: Vec<Role>) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("Người dùng {username}"),
        password_hash: format!("$argon2id$fake${username}"),
        agency_id,
        unit_id,
        position: Some("Chuyên viên".into()),
        roles,
    }
}

async fn user(store: &Db, username: &str, agency_id: i64, unit_id: Option<i64>) -> User {
    store
        .create_user(
            &new_user(username, agency_id, unit_id, vec![Role::ChuyenVien]),
            NOW,
            entry("user.create", "user"),
        )
        .await
        .expect("user")
}

fn doc(direction: Direction, subject: &str, unit_id: Option<i64>) -> ValidDocument {
    let incoming = direction == Direction::Incoming;
    ValidDocument {
        direction,
        document_type: "cong_van".into(),
        subject: subject.into(),
        number: incoming.then_some(15),
        symbol: incoming.then(|| "BTP-VP".to_string()),
        issuer_name: incoming.then(|| "Bộ Tư pháp".to_string()),
        issuer_code: incoming.then(|| "000.00.00.G12".to_string()),
        issued_on: incoming.then(|| chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("date")),
        urgency: Urgency::Thuong,
        signer_name: None,
        signer_position: None,
        signing_authority: None,
        page_count: Some(2),
        recipients: vec!["Như trên".into()],
        deadline: None,
        unit_id,
        external_id: None,
        notes: None,
    }
}

async fn series_id(store: &Db, agency_id: i64, code: &str) -> i64 {
    store
        .series(agency_id)
        .await
        .expect("series")
        .into_iter()
        .find(|s| s.code == code)
        .expect("series code")
        .id
}

fn arrival(series_id: i64, year: i64) -> Option<Arrival> {
    Some(Arrival {
        series_id,
        year,
        arrived_on: format!("{year}-01-06"),
    })
}

fn expect_conflict<T: std::fmt::Debug>(r: Result<T, StorageError>, what: &str) {
    match r {
        Err(StorageError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------

crate::on_both_backends!(migrate_twice_is_idempotent, migrate_twice_is_idempotent_body);
async fn migrate_twice_is_idempotent_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    assert_eq!(
        store.backend().name(),
        match b {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    );
    let first = store.migration_versions().await.expect("versions");
    assert!(!first.is_empty(), "no migration recorded");
    store.migrate().await.expect("second migrate");
    // A second connection (as after a restart) migrates again without effect.
    let again = Db::connect(&db.url, &ConnectSettings::default())
        .await
        .expect("reconnect");
    again.migrate().await.expect("third migrate");
    assert_eq!(again.migration_versions().await.expect("versions"), first);
    again.ping().await.expect("ping");
    // The chain head exists exactly once and the log is empty and intact.
    let v = again.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!((v.checked, v.head_seq, v.error), (0, 0, None));
    again.close().await;
    finish(db, store).await;
}

crate::on_both_backends!(agencies_get_default_series, agencies_get_default_series_body);
async fn agencies_get_default_series_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    assert_eq!(a.code, "000.00.00.G12");
    assert_eq!(a.place_name.as_deref(), Some("Hà Nội"));
    assert_eq!(a.created_at, NOW);
    let series = store.series(a.id).await.expect("series");
    let mut summary: Vec<(String, String, String, bool)> = series
        .iter()
        .map(|s| {
            (
                s.code.clone(),
                s.direction.clone(),
                s.document_types.clone(),
                s.advisory_body.is_none(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            ("den".into(), "incoming".into(), "*".into(), true),
            ("di".into(), "outgoing".into(), "*".into(), true)
        ]
    );
    assert!(series.iter().all(|s| s.agency_id == a.id));

    // A duplicate code is a conflict, and leaves nothing behind (no extra series, no audit entry).
    let head_before = store.verify_audit(|_, _| {}).await.expect("verify").head_seq;
    expect_conflict(
        store
            .create_agency(
                &new_agency("000.00.00.G12", "BTP2"),
                NOW,
                entry("agency.create", "agency"),
            )
            .await,
        "duplicate code",
    );
    assert_eq!(store.agencies().await.expect("agencies").len(), 1);
    assert_eq!(
        store.verify_audit(|_, _| {}).await.expect("verify").head_seq,
        head_before
    );

    let other = agency(&store, "000.00.00.H99", "CTHA").await;
    assert_eq!(
        store.series(other.id).await.expect("series").len(),
        2,
        "each agency gets its own two series"
    );
    assert_eq!(store.agency_by_code("000.00.00.H99").await.expect("by code"), other);
    assert_eq!(store.agency(a.id).await.expect("by id"), a);
    assert!(matches!(
        store.agency_by_code("nope").await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(
        store
            .agencies()
            .await
            .expect("agencies")
            .iter()
            .map(|x| x.id)
            .collect::<Vec<_>>(),
        vec![a.id, other.id]
    );

    // Series of one agency: a new explicit series and its (empty) counters.
    let qd = store
        .create_series(
            &NewSeries {
                agency_id: a.id,
                code: "qd".into(),
                name: "Số quyết định".into(),
                direction: "outgoing".into(),
                document_types: "quyet_dinh".into(),
                advisory_body: None,
            },
            NOW,
            entry("series.create", "series"),
        )
        .await
        .expect("series");
    let all = store.series(a.id).await.expect("series");
    assert_eq!(
        vanthu::storage::choose_series(&all, "outgoing", "quyet_dinh").map(|s| s.id),
        Some(qd.id)
    );
    assert_eq!(
        vanthu::storage::choose_series(&all, "outgoing", "cong_van").map(|s| s.code.as_str()),
        Some("di")
    );
    assert!(store.series_counters(qd.id).await.expect("counters").is_empty());
    expect_conflict(
        store
            .create_series(
                &NewSeries {
                    agency_id: a.id,
                    code: "qd".into(),
                    name: "again".into(),
                    direction: "outgoing".into(),
                    document_types: "*".into(),
                    advisory_body: None,
                },
                NOW,
                entry("series.create", "series"),
            )
            .await,
        "duplicate series code",
    );
    finish(db, store).await;
}

crate::on_both_backends!(units_tree_and_rules, units_tree_and_rules_body);
async fn units_tree_and_rules_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let other = agency(&store, "000.00.00.H99", "CTHA").await;
    let vp = unit(&store, a.id, "VP", None).await;
    let tchc = unit(&store, a.id, "TCHC", Some(vp.id)).await;
    assert_eq!(tchc.parent_id, Some(vp.id));
    assert_eq!(store.unit(tchc.id).await.expect("unit"), tchc);
    assert_eq!(store.units(a.id).await.expect("units"), vec![vp.clone(), tchc]);
    // Same abbreviation in the same agency: conflict; in another agency: fine.
    expect_conflict(
        store
            .create_unit(
                &NewUnit {
                    agency_id: a.id,
                    parent_id: None,
                    name: "x".into(),
                    abbreviation: "VP".into(),
                },
                NOW,
                entry("unit.create", "unit"),
            )
            .await,
        "duplicate abbreviation",
    );
    let other_vp = unit(&store, other.id, "VP", None).await;
    // A parent from another agency is refused.
    expect_conflict(
        store
            .create_unit(
                &NewUnit {
                    agency_id: other.id,
                    parent_id: Some(vp.id),
                    name: "x".into(),
                    abbreviation: "NV".into(),
                },
                NOW,
                entry("unit.create", "unit"),
            )
            .await,
        "parent in another agency",
    );
    // An unknown parent is NotFound.
    assert!(matches!(
        store
            .create_unit(
                &NewUnit {
                    agency_id: a.id,
                    parent_id: Some(999_999),
                    name: "x".into(),
                    abbreviation: "NV".into()
                },
                NOW,
                entry("unit.create", "unit")
            )
            .await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(store.units(other.id).await.expect("units"), vec![other_vp]);
    assert!(matches!(store.unit(999_999).await, Err(StorageError::NotFound)));
    finish(db, store).await;
}

crate::on_both_backends!(users_and_user_auth, users_and_user_auth_body);
async fn users_and_user_auth_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let vp = unit(&store, a.id, "VP", None).await;
    assert_eq!(store.user_count().await.expect("count"), 0);
    let u = store
        .create_user(
            &new_user("thu", a.id, Some(vp.id), vec![Role::VanThu, Role::LuuTru]),
            NOW,
            entry("user.create", "user"),
        )
        .await
        .expect("user");
    assert_eq!(
        (u.username.as_str(), u.agency_id, u.unit_id, u.locked, u.failed_logins),
        ("thu", a.id, Some(vp.id), false, 0)
    );
    let mut roles = u.roles.clone();
    roles.sort();
    assert_eq!(roles, {
        let mut r = vec![Role::VanThu, Role::LuuTru];
        r.sort();
        r
    });
    let auth = store.user_auth("thu").await.expect("user_auth");
    assert_eq!(auth.password_hash, "$argon2id$fake$thu");
    assert_eq!(auth.user, u);
    assert_eq!(store.user(u.id).await.expect("user"), u);
    assert!(matches!(store.user_auth("nobody").await, Err(StorageError::NotFound)));
    expect_conflict(
        store
            .create_user(
                &new_user("thu", a.id, None, vec![Role::ChuyenVien]),
                NOW,
                entry("user.create", "user"),
            )
            .await,
        "duplicate username",
    );
    expect_conflict(
        store
            .create_user(
                &new_user("ghost", 999_999, None, vec![Role::ChuyenVien]),
                NOW,
                entry("user.create", "user"),
            )
            .await,
        "unknown agency (foreign key)",
    );
    let v = user(&store, "minh", a.id, None).await;
    assert_eq!(
        store
            .users(a.id)
            .await
            .expect("users")
            .iter()
            .map(|x| x.id)
            .collect::<Vec<_>>(),
        vec![u.id, v.id]
    );
    assert_eq!(store.user_count().await.expect("count"), 2);

    // A password change replaces the hash.
    store
        .set_password(u.id, "$argon2id$new", NOW + 1, entry("user.password", "user"))
        .await
        .expect("passwd");
    assert_eq!(
        store.user_auth("thu").await.expect("auth").password_hash,
        "$argon2id$new"
    );
    assert!(matches!(
        store
            .set_password(999_999, "h", NOW, entry("user.password", "user"))
            .await,
        Err(StorageError::NotFound)
    ));
    finish(db, store).await;
}

crate::on_both_backends!(sessions_lifecycle, sessions_lifecycle_body);
async fn sessions_lifecycle_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let u = user(&store, "thu", a.id, None).await;
    // A failed login before the session: creating the session resets the counter.
    assert!(!store
        .record_failed_login(u.id, 5, entry("auth.login_failed", "user"))
        .await
        .expect("failed"));
    assert_eq!(store.user(u.id).await.expect("user").failed_logins, 1);

    let exp = NOW + 3_600_000;
    store
        .create_session(
            "hash-1",
            u.id,
            NOW,
            exp,
            Some("10.0.0.1"),
            entry("auth.login", "session"),
        )
        .await
        .expect("session");
    assert_eq!(store.user(u.id).await.expect("user").failed_logins, 0);
    let s = store.session("hash-1").await.expect("fetch");
    assert_eq!(
        (s.user.id, s.created_at, s.last_seen_at, s.expires_at),
        (u.id, NOW, NOW, exp)
    );
    store.touch_session("hash-1", NOW + 60_000).await.expect("touch");
    assert_eq!(store.session("hash-1").await.expect("fetch").last_seen_at, NOW + 60_000);
    assert!(matches!(
        store.session("hash-unknown").await,
        Err(StorageError::NotFound)
    ));
    // The same token hash twice is a conflict.
    expect_conflict(
        store
            .create_session("hash-1", u.id, NOW, exp, None, entry("auth.login", "session"))
            .await,
        "duplicate token hash",
    );

    // A new login after the first expired sweeps the expired session away.
    store
        .create_session(
            "hash-2",
            u.id,
            exp + 1,
            exp + 3_600_000,
            None,
            entry("auth.login", "session"),
        )
        .await
        .expect("session 2");
    assert!(
        matches!(store.session("hash-1").await, Err(StorageError::NotFound)),
        "expired session is swept"
    );
    store.session("hash-2").await.expect("fresh session stays");

    store
        .delete_session("hash-2", Some(entry("auth.logout", "session")))
        .await
        .expect("delete");
    assert!(matches!(store.session("hash-2").await, Err(StorageError::NotFound)));
    // Deleting an unknown session is harmless.
    store.delete_session("hash-2", None).await.expect("delete again");

    // Locking a user and changing a password end their sessions.
    store
        .create_session("hash-3", u.id, NOW, exp, None, entry("auth.login", "session"))
        .await
        .expect("session 3");
    store
        .set_user_locked(u.id, true, entry("user.lock", "user"))
        .await
        .expect("lock");
    assert!(
        matches!(store.session("hash-3").await, Err(StorageError::NotFound)),
        "lock ends sessions"
    );
    store
        .set_user_locked(u.id, false, entry("user.unlock", "user"))
        .await
        .expect("unlock");
    store
        .create_session("hash-4", u.id, NOW, exp, None, entry("auth.login", "session"))
        .await
        .expect("session 4");
    store
        .set_password(u.id, "$argon2id$x", NOW, entry("user.password", "user"))
        .await
        .expect("passwd");
    assert!(
        matches!(store.session("hash-4").await, Err(StorageError::NotFound)),
        "password change ends sessions"
    );

    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!(v.error, None);
    finish(db, store).await;
}

crate::on_both_backends!(failed_logins_lock_at_threshold, failed_logins_lock_at_threshold_body);
async fn failed_logins_lock_at_threshold_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let u = user(&store, "thu", a.id, None).await;
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(
            store
                .record_failed_login(u.id, 3, entry("auth.login_failed", "user"))
                .await
                .expect("record"),
        );
    }
    assert_eq!(
        outcomes,
        vec![false, false, true, true],
        "locks exactly at the third failure and stays locked"
    );
    let after = store.user(u.id).await.expect("user");
    assert!(after.locked);
    assert_eq!(after.failed_logins, 4);
    // Exactly one `user.locked` entry, written in the transaction of the third failure.
    let entries = store.audit_entries(None, None, 100).await.expect("entries");
    let locked: Vec<_> = entries.iter().filter(|e| e.entry.action == "user.locked").collect();
    assert_eq!(locked.len(), 1, "{entries:#?}");
    let failed = entries.iter().filter(|e| e.entry.action == "auth.login_failed").count();
    assert_eq!(failed, 4);
    let third_failure = entries
        .iter()
        .filter(|e| e.entry.action == "auth.login_failed")
        .map(|e| e.seq)
        .min()
        .expect("first")
        + 2;
    assert_eq!(
        locked[0].seq,
        third_failure + 1,
        "the lock entry follows the third failure"
    );

    // Unlocking resets the counter.
    store
        .set_user_locked(u.id, false, entry("user.unlock", "user"))
        .await
        .expect("unlock");
    let unlocked = store.user(u.id).await.expect("user");
    assert_eq!((unlocked.locked, unlocked.failed_logins), (false, 0));
    assert!(!store
        .record_failed_login(u.id, 3, entry("auth.login_failed", "user"))
        .await
        .expect("record"));
    assert!(matches!(
        store.set_user_locked(999_999, true, entry("user.lock", "user")).await,
        Err(StorageError::NotFound)
    ));
    assert_eq!(store.verify_audit(|_, _| {}).await.expect("verify").error, None);
    finish(db, store).await;
}

crate::on_both_backends!(delegations_active_window, delegations_active_window_body);
async fn delegations_active_window_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let vp = unit(&store, a.id, "VP", None).await;
    let boss = store
        .create_user(
            &new_user("lanhdao", a.id, Some(vp.id), vec![Role::LanhDao]),
            NOW,
            entry("user.create", "user"),
        )
        .await
        .expect("boss");
    let deputy = user(&store, "pho", a.id, None).await;
    let from = NOW + 1_000;
    let to = NOW + 2_000;
    let d = store
        .create_delegation(
            &NewDelegation {
                agency_id: a.id,
                delegator_id: boss.id,
                delegate_id: deputy.id,
                roles: vec![Role::LanhDao],
                authority: "kt".into(),
                valid_from: from,
                valid_to: to,
                legal_basis: "Quyết định số 12/QĐ-BTP".into(),
                created_by: boss.id,
            },
            NOW,
            entry("delegation.create", "delegation"),
        )
        .await
        .expect("delegation");
    assert_eq!(d.roles, "lanh_dao");
    assert_eq!(store.delegation(d.id).await.expect("get"), d);
    assert_eq!(store.delegations(a.id).await.expect("list"), vec![d.clone()]);

    let active_at = |t: i64| {
        let store = store.clone();
        async move { store.active_delegations(deputy.id, t).await.expect("active") }
    };
    assert!(active_at(from - 1).await.is_empty(), "not before valid_from");
    let at_start = active_at(from).await;
    assert_eq!(at_start.len(), 1, "valid_from is inclusive");
    assert_eq!(
        (
            at_start[0].delegator_id,
            at_start[0].roles.as_str(),
            at_start[0].delegator_unit_id
        ),
        (boss.id, "lanh_dao", Some(vp.id))
    );
    assert_eq!(active_at(to - 1).await.len(), 1);
    assert!(active_at(to).await.is_empty(), "valid_to is exclusive");
    // Delegations are to the delegate only.
    assert!(store
        .active_delegations(boss.id, from)
        .await
        .expect("active")
        .is_empty());

    // A locked delegator lends nothing.
    store
        .set_user_locked(boss.id, true, entry("user.lock", "user"))
        .await
        .expect("lock");
    assert!(active_at(from + 10).await.is_empty(), "locked delegator");
    store
        .set_user_locked(boss.id, false, entry("user.unlock", "user"))
        .await
        .expect("unlock");
    assert_eq!(active_at(from + 10).await.len(), 1);

    store
        .revoke_delegation(d.id, from + 500, entry("delegation.revoke", "delegation"))
        .await
        .expect("revoke");
    assert!(active_at(from + 10).await.is_empty(), "revoked");
    assert!(active_at(from + 600).await.is_empty(), "revoked");
    assert_eq!(store.delegation(d.id).await.expect("get").revoked_at, Some(from + 500));
    assert!(matches!(
        store
            .revoke_delegation(d.id, from + 700, entry("delegation.revoke", "delegation"))
            .await,
        Err(StorageError::NotFound)
    ));
    finish(db, store).await;
}

crate::on_both_backends!(arrival_numbers_are_per_series_and_year, arrival_numbers_body);
async fn arrival_numbers_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let den = series_id(&store, a.id, "den").await;
    let second_register = store
        .create_series(
            &NewSeries {
                agency_id: a.id,
                code: "den-mat".into(),
                name: "Sổ đến (đơn thư)".into(),
                direction: "incoming".into(),
                document_types: "don_thu".into(),
                advisory_body: None,
            },
            NOW,
            entry("series.create", "series"),
        )
        .await
        .expect("series")
        .id;
    let mut numbers = Vec::new();
    for i in 0..3 {
        let r = store
            .create_document(
                a.id,
                &doc(Direction::Incoming, &format!("Công văn đến {i}"), None),
                "registered",
                None,
                arrival(den, 2026),
                NOW,
                entry("document.create", "document"),
            )
            .await
            .expect("create");
        assert_eq!(r.document.arrival_series_id, Some(den));
        assert_eq!(r.document.arrival_year, Some(2026));
        assert_eq!(r.document.arrived_on.as_deref(), Some("2026-01-06"));
        assert_eq!(r.document.status, "registered");
        numbers.push(r.document.arrival_number);
    }
    assert_eq!(numbers, vec![Some(1), Some(2), Some(3)]);

    // A new year restarts at 1 and does not disturb the old year; another register has its own count.
    let next_year = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Năm mới", None),
            "registered",
            None,
            arrival(den, 2027),
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("create");
    assert_eq!(next_year.document.arrival_number, Some(1));
    let other = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Sổ khác", None),
            "registered",
            None,
            arrival(second_register, 2026),
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("create");
    assert_eq!(other.document.arrival_number, Some(1));
    let back = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Lại năm cũ", None),
            "registered",
            None,
            arrival(den, 2026),
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("create");
    assert_eq!(back.document.arrival_number, Some(4));
    assert_eq!(
        store.series_counters(den).await.expect("counters"),
        vec![(2027, 1), (2026, 4)]
    );

    // Without an arrival there is no arrival number.
    let plain = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Không vào sổ", None),
            "registered",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("create");
    assert_eq!(plain.document.arrival_number, None);
    // The same (number, symbol, issuer) as earlier documents is flagged as a duplicate.
    assert!(
        !plain.duplicates.is_empty(),
        "duplicate of the earlier identical incoming documents"
    );
    assert_eq!(plain.document.duplicate_of, plain.duplicates.first().copied());

    // Register rows come in số đến order for the date range.
    let rows = store
        .register_rows(a.id, "incoming", "2026-01-01", "2026-12-31")
        .await
        .expect("register");
    let got: Vec<(Option<i64>, Option<i64>)> = rows.iter().map(|d| (d.arrival_year, d.arrival_number)).collect();
    assert_eq!(
        got,
        vec![
            (Some(2026), Some(1)),
            (Some(2026), Some(2)),
            (Some(2026), Some(3)),
            (Some(2026), Some(4)),
            (Some(2026), Some(1))
        ]
    );
    finish(db, store).await;
}

crate::on_both_backends!(issue_number_once_and_recall_keeps_it, issue_number_body);
async fn issue_number_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let di = series_id(&store, a.id, "di").await;
    let draft = store
        .create_document(
            a.id,
            &doc(Direction::Outgoing, "Dự thảo công văn", None),
            "draft",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("draft")
        .document;
    assert_eq!(
        (draft.status.as_str(), draft.number, draft.reference.as_deref()),
        ("draft", None, None)
    );

    let issued = store
        .issue_number(
            draft.id,
            di,
            2026,
            "BTP-VP",
            "2026-01-07",
            NOW + 5,
            entry("document.number", "document"),
        )
        .await
        .expect("issue");
    assert_eq!(issued.status, "issued");
    assert_eq!(issued.number, Some(1));
    assert_eq!(issued.reference.as_deref(), Some("01/BTP-VP"));
    assert_eq!(
        (issued.series_id, issued.year, issued.issued_on.as_deref()),
        (Some(di), Some(2026), Some("2026-01-07"))
    );
    assert_eq!(issued.updated_at, NOW + 5);

    // Numbering twice is refused, and the refused attempt takes no number.
    expect_conflict(
        store
            .issue_number(
                draft.id,
                di,
                2026,
                "BTP-VP",
                "2026-01-07",
                NOW,
                entry("document.number", "document"),
            )
            .await,
        "second issue",
    );
    assert_eq!(store.document(draft.id).await.expect("doc").number, Some(1));
    // Only outgoing drafts are numbered.
    let incoming = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Văn bản đến", None),
            "registered",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("incoming")
        .document;
    expect_conflict(
        store
            .issue_number(
                incoming.id,
                di,
                2026,
                "X",
                "2026-01-07",
                NOW,
                entry("document.number", "document"),
            )
            .await,
        "incoming doc",
    );
    expect_conflict(
        store
            .issue_number(
                999_999,
                di,
                2026,
                "X",
                "2026-01-07",
                NOW,
                entry("document.number", "document"),
            )
            .await,
        "unknown doc",
    );
    assert_eq!(
        store.series_counters(di).await.expect("counters"),
        vec![(2026, 1)],
        "refused attempts give numbers back"
    );

    // Recall keeps the number; the next draft gets the next one (never reused).
    let recalled = store
        .recall_document(draft.id, NOW + 10, entry("document.recall", "document"))
        .await
        .expect("recall");
    assert_eq!(
        (recalled.status.as_str(), recalled.number, recalled.reference.as_deref()),
        ("recalled", Some(1), Some("01/BTP-VP"))
    );
    expect_conflict(
        store
            .recall_document(draft.id, NOW, entry("document.recall", "document"))
            .await,
        "recall twice",
    );
    let draft2 = store
        .create_document(
            a.id,
            &doc(Direction::Outgoing, "Dự thảo thứ hai", None),
            "draft",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("draft")
        .document;
    expect_conflict(
        store
            .recall_document(draft2.id, NOW, entry("document.recall", "document"))
            .await,
        "recall a draft",
    );
    let issued2 = store
        .issue_number(
            draft2.id,
            di,
            2026,
            "BTP-VP",
            "2026-01-08",
            NOW,
            entry("document.number", "document"),
        )
        .await
        .expect("issue");
    assert_eq!(issued2.number, Some(2));
    // Registered incoming documents can be recalled too.
    assert_eq!(
        store
            .recall_document(incoming.id, NOW, entry("document.recall", "document"))
            .await
            .expect("recall")
            .status,
        "recalled"
    );

    let rows = store
        .register_rows(a.id, "outgoing", "2026-01-01", "2026-12-31")
        .await
        .expect("register");
    assert_eq!(
        rows.iter().map(|d| d.number).collect::<Vec<_>>(),
        vec![Some(1), Some(2)],
        "recalled documents stay in the register"
    );
    assert_eq!(store.verify_audit(|_, _| {}).await.expect("verify").error, None);
    finish(db, store).await;
}

crate::on_both_backends!(outgoing_number_symbol_is_unique, outgoing_unique_body);
async fn outgoing_unique_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let di = series_id(&store, a.id, "di").await;
    let qd = store
        .create_series(
            &NewSeries {
                agency_id: a.id,
                code: "qd".into(),
                name: "Số quyết định".into(),
                direction: "outgoing".into(),
                document_types: "quyet_dinh".into(),
                advisory_body: None,
            },
            NOW,
            entry("series.create", "series"),
        )
        .await
        .expect("series")
        .id;
    let mk = |subject: &'static str| {
        let store = store.clone();
        async move {
            store
                .create_document(
                    a.id,
                    &doc(Direction::Outgoing, subject, None),
                    "draft",
                    None,
                    None,
                    NOW,
                    entry("document.create", "document"),
                )
                .await
                .expect("draft")
                .document
                .id
        }
    };
    let first = mk("Quyết định A").await;
    let second = mk("Quyết định B").await;
    let issued = store
        .issue_number(
            first,
            di,
            2026,
            "QĐ-BTP",
            "2026-01-07",
            NOW,
            entry("document.number", "document"),
        )
        .await
        .expect("issue");
    assert_eq!(issued.number, Some(1));
    let head = store.verify_audit(|_, _| {}).await.expect("verify").head_seq;
    // Series `qd` also starts at 1: the same (agency, year, number, symbol) is refused by the index.
    expect_conflict(
        store
            .issue_number(
                second,
                qd,
                2026,
                "QĐ-BTP",
                "2026-01-07",
                NOW,
                entry("document.number", "document"),
            )
            .await,
        "duplicate number/symbol",
    );
    // The whole transaction rolled back: still a draft, counter not consumed, no audit entry.
    let still = store.document(second).await.expect("doc");
    assert_eq!((still.status.as_str(), still.number), ("draft", None));
    assert!(
        store
            .series_counters(qd)
            .await
            .expect("counters")
            .iter()
            .all(|(_, n)| *n == 0),
        "number given back"
    );
    assert_eq!(store.verify_audit(|_, _| {}).await.expect("verify").head_seq, head);
    // Another symbol, or another year, is a different identity.
    let ok = store
        .issue_number(
            second,
            qd,
            2026,
            "QĐ-BTP-VP",
            "2026-01-07",
            NOW,
            entry("document.number", "document"),
        )
        .await
        .expect("issue");
    assert_eq!(
        ok.number,
        Some(1),
        "the rolled-back number 1 is handed out again (gapless)"
    );
    let third = mk("Quyết định C").await;
    let ok = store
        .issue_number(
            third,
            di,
            2027,
            "QĐ-BTP",
            "2027-01-02",
            NOW,
            entry("document.number", "document"),
        )
        .await
        .expect("issue");
    assert_eq!((ok.number, ok.year), (Some(1), Some(2027)));
    // Direct insert of a duplicate outgoing row is refused too (the index itself, not the code).
    let dup = store
        .tamper_audit_for_test(&format!(
            "INSERT INTO documents (agency_id, direction, document_type, status, subject, number, symbol, year, urgency, recipients, created_at, updated_at) \
             VALUES ({}, 'outgoing', 'quyet_dinh', 'issued', 'chép', 1, 'QĐ-BTP', 2026, 'thuong', '[]', 0, 0)",
            a.id
        ))
        .await;
    expect_conflict(dup, "direct duplicate insert");
    finish(db, store).await;
}

crate::on_both_backends!(list_documents_respects_scope, list_scope_body);
async fn list_scope_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let other_agency = agency(&store, "000.00.00.H99", "CTHA").await;
    let vp = unit(&store, a.id, "VP", None).await;
    let nv = unit(&store, a.id, "NV", None).await;
    let author = user(&store, "chuyenvien", a.id, Some(nv.id)).await;
    let stranger = user(&store, "khac", a.id, Some(vp.id)).await;
    let create = |subject: &'static str, unit_id: Option<i64>, created_by: Option<i64>, agency_id: i64| {
        let store = store.clone();
        async move {
            store
                .create_document(
                    agency_id,
                    &doc(Direction::Outgoing, subject, unit_id),
                    "draft",
                    created_by,
                    None,
                    NOW,
                    entry("document.create", "document"),
                )
                .await
                .expect("create")
                .document
                .id
        }
    };
    let in_nv = create("Của phòng nghiệp vụ", Some(nv.id), Some(stranger.id), a.id).await;
    let in_vp_by_author = create("Do chuyên viên soạn cho văn phòng", Some(vp.id), Some(author.id), a.id).await;
    let in_vp = create("Của văn phòng", Some(vp.id), Some(stranger.id), a.id).await;
    let no_unit = create("Không có đơn vị", None, None, a.id).await;
    let elsewhere = create("Cơ quan khác", None, Some(author.id), other_agency.id).await;

    let all = DocumentFilter {
        limit: 100,
        ..DocumentFilter::default()
    };
    let ids = |docs: &[vanthu::storage::Document]| docs.iter().map(|d| d.id).collect::<BTreeSet<_>>();

    let (docs, total) = store
        .list_documents(&ReadScope::Agency { agency_id: a.id }, &all)
        .await
        .expect("agency");
    assert_eq!(ids(&docs), BTreeSet::from([in_nv, in_vp_by_author, in_vp, no_unit]));
    assert_eq!(total, 4);
    assert!(!ids(&docs).contains(&elsewhere));

    let scope = ReadScope::Units {
        agency_id: a.id,
        unit_ids: vec![nv.id],
        user_id: author.id,
    };
    let (docs, total) = store.list_documents(&scope, &all).await.expect("units");
    assert_eq!(
        ids(&docs),
        BTreeSet::from([in_nv, in_vp_by_author]),
        "own unit plus own documents"
    );
    assert_eq!(total, 2);
    // The agency bound also applies to one's own documents in another agency.
    assert!(!ids(&docs).contains(&elsewhere));
    // Scope and filter combine: own unit only.
    let (docs, total) = store
        .list_documents(
            &scope,
            &DocumentFilter {
                unit_id: Some(vp.id),
                ..all.clone()
            },
        )
        .await
        .expect("units+filter");
    assert_eq!((ids(&docs), total), (BTreeSet::from([in_vp_by_author]), 1));
    // Several units.
    let scope2 = ReadScope::Units {
        agency_id: a.id,
        unit_ids: vec![nv.id, vp.id],
        user_id: stranger.id,
    };
    assert_eq!(store.list_documents(&scope2, &all).await.expect("units").1, 3);
    // No unit at all: only own documents.
    let own_only = ReadScope::Units {
        agency_id: a.id,
        unit_ids: vec![],
        user_id: author.id,
    };
    let (docs, total) = store.list_documents(&own_only, &all).await.expect("own");
    assert_eq!((ids(&docs), total), (BTreeSet::from([in_vp_by_author]), 1));

    let (docs, total) = store.list_documents(&ReadScope::Nothing, &all).await.expect("nothing");
    assert!(docs.is_empty());
    assert_eq!(total, 0);

    // Paging: total counts all matches, the page is limited; order newest first / oldest first.
    let page = DocumentFilter {
        limit: 2,
        offset: 1,
        ..all.clone()
    };
    let (docs, total) = store
        .list_documents(&ReadScope::Agency { agency_id: a.id }, &page)
        .await
        .expect("page");
    assert_eq!(total, 4);
    assert_eq!(
        docs.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![in_vp, in_vp_by_author]
    );
    let oldest = DocumentFilter {
        limit: 1,
        sort: vanthu::storage::SortOrder::OldestFirst,
        ..all.clone()
    };
    assert_eq!(
        store
            .list_documents(&ReadScope::Agency { agency_id: a.id }, &oldest)
            .await
            .expect("oldest")
            .0[0]
            .id,
        in_nv
    );
    finish(db, store).await;
}

crate::on_both_backends!(list_documents_filters, list_filters_body);
async fn list_filters_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let den = series_id(&store, a.id, "den").await;
    let scope = ReadScope::Agency { agency_id: a.id };
    let subjects = [
        "Về việc tổ chức Hội nghị tổng kết công tác năm 2025",
        "Kế hoạch phòng, chống thiên tai năm 2026",
        "Báo cáo tình hình thi hành án dân sự",
        "100% hồ sơ_đúng hạn",
    ];
    let mut ids = Vec::new();
    for s in subjects {
        let r = store
            .create_document(
                a.id,
                &doc(Direction::Incoming, s, None),
                "registered",
                None,
                arrival(den, 2026),
                NOW,
                entry("document.create", "document"),
            )
            .await
            .expect("create");
        ids.push(r.document.id);
    }
    let draft = store
        .create_document(
            a.id,
            &doc(Direction::Outgoing, "Dự thảo tờ trình", None),
            "draft",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("draft")
        .document
        .id;
    let find = |text: &'static str| {
        let store = store.clone();
        let scope = scope.clone();
        async move {
            let f = DocumentFilter {
                text: Some(text.into()),
                limit: 50,
                ..DocumentFilter::default()
            };
            let (docs, total) = store.list_documents(&scope, &f).await.expect("list");
            assert_eq!(total as usize, docs.len());
            docs.into_iter().map(|d| d.id).collect::<BTreeSet<_>>()
        }
    };
    assert_eq!(
        find("hội nghị").await,
        BTreeSet::from([ids[0]]),
        "lower-case Vietnamese"
    );
    assert_eq!(find("Hội nghị").await, BTreeSet::from([ids[0]]), "as written");
    assert_eq!(find("thiên tai").await, BTreeSet::from([ids[1]]));
    assert_eq!(
        find("THI HÀNH ÁN").await,
        BTreeSet::from([ids[2]]),
        "upper-case query against lower-case subject"
    );
    assert_eq!(find("tờ trình").await, BTreeSet::from([draft]));
    assert_eq!(find("năm 202").await, BTreeSet::from([ids[0], ids[1]]));
    // LIKE wildcards in the query are literal characters.
    assert_eq!(find("100%").await, BTreeSet::from([ids[3]]));
    assert_eq!(find("%").await, BTreeSet::from([ids[3]]));
    assert_eq!(find("sơ_đ").await, BTreeSet::from([ids[3]]));
    assert_eq!(find("_").await, BTreeSet::from([ids[3]]));
    assert!(
        find("h_ sơ").await.is_empty(),
        "'_' must not match any one character (hồ sơ)"
    );
    // Symbol and issuer are searched too.
    assert_eq!(find("btp-vp").await.len(), 4);
    assert_eq!(find("bộ tư pháp").await.len(), 4);
    assert!(find("không có văn bản nào").await.is_empty());

    // Structured filters.
    let f = DocumentFilter {
        direction: Some("outgoing".into()),
        limit: 50,
        ..DocumentFilter::default()
    };
    assert_eq!(store.list_documents(&scope, &f).await.expect("list").1, 1);
    let f = DocumentFilter {
        status: Some("registered".into()),
        arrived_from: Some("2026-01-06".into()),
        arrived_to: Some("2026-01-06".into()),
        limit: 50,
        ..DocumentFilter::default()
    };
    assert_eq!(store.list_documents(&scope, &f).await.expect("list").1, 4);
    let f = DocumentFilter {
        issued_from: Some("2026-01-06".into()),
        limit: 50,
        ..DocumentFilter::default()
    };
    assert_eq!(
        store.list_documents(&scope, &f).await.expect("list").1,
        0,
        "all incoming were issued on 2026-01-05"
    );
    let f = DocumentFilter {
        document_type: Some("quyet_dinh".into()),
        limit: 50,
        ..DocumentFilter::default()
    };
    assert_eq!(store.list_documents(&scope, &f).await.expect("list").1, 0);
    assert_eq!(store.document_count().await.expect("count"), 5);
    finish(db, store).await;
}

crate::on_both_backends!(text_filter_folds_vietnamese_capitals, text_filter_capitals_body);
async fn text_filter_capitals_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let scope = ReadScope::Agency { agency_id: a.id };
    // Subjects commonly start with a capital non-ASCII letter: Đề án, Ủy ban, Điều lệ.
    let id = store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Đề án Ủy ban nhân dân tỉnh về Điều lệ", None),
            "registered",
            None,
            None,
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("create")
        .document
        .id;
    for q in ["đề án", "ủy ban", "điều lệ", "ĐỀ ÁN"] {
        let f = DocumentFilter {
            text: Some(q.into()),
            limit: 10,
            ..DocumentFilter::default()
        };
        let (docs, total) = store.list_documents(&scope, &f).await.expect("list");
        assert_eq!(
            (docs.iter().map(|d| d.id).collect::<Vec<_>>(), total),
            (vec![id], 1),
            "search {q:?} on {b:?}"
        );
    }
    finish(db, store).await;
}

// ------------------------------------------------------------------------------------ audit chain

/// A database with a few audited operations (at least 5 entries).
async fn audited(b: Backend) -> Option<(TestDb, Db)> {
    let (db, store) = open(b).await?;
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let vp = unit(&store, a.id, "VP", None).await;
    let u = user(&store, "thu", a.id, Some(vp.id)).await;
    let den = series_id(&store, a.id, "den").await;
    store
        .create_document(
            a.id,
            &doc(Direction::Incoming, "Công văn", Some(vp.id)),
            "registered",
            Some(u.id),
            arrival(den, 2026),
            NOW,
            entry("document.create", "document"),
        )
        .await
        .expect("doc");
    store
        .record_failed_login(u.id, 5, entry("auth.login_failed", "user"))
        .await
        .expect("failed");
    store
        .append_audit(&[entry("document.read", "document"), entry("document.read", "document")])
        .await
        .expect("append");
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!(v.error, None, "intact before tampering");
    assert_eq!(v.checked as i64, v.head_seq);
    assert_eq!(v.head_seq, 7);
    Some((db, store))
}

crate::on_both_backends!(guarded_audit_append_writes_only_on_the_current_head, audit_guarded_body);
async fn audit_guarded_body(b: Backend) {
    let Some((_db, store)) = audited(b).await else {
        return;
    };
    let read = || entry("document.read", "document");
    // The locking path returns the head it wrote.
    let head = store.append_audit(&[read()]).await.expect("append");
    assert_eq!(head.seq, 8);
    // On the current head, the guarded append writes and moves the head.
    let next = store
        .append_audit_if_head(&head, &[read(), read(), read()])
        .await
        .expect("guarded")
        .expect("head was current");
    assert_eq!(next.seq, 11);
    // On a stale head (another appender moved it) it writes nothing.
    assert_eq!(store.append_audit_if_head(&head, &[read()]).await.expect("stale"), None);
    let forged = vanthu::storage::AuditHead {
        seq: next.seq,
        hash: head.hash.clone(),
    };
    assert_eq!(
        store
            .append_audit_if_head(&forged, &[read()])
            .await
            .expect("wrong hash"),
        None
    );
    // Bad sizes are refused before anything is sent.
    assert!(store.append_audit_if_head(&next, &[]).await.is_err());
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!((v.error, v.head_seq, v.checked), (None, 11, 11));
    let entries = store.audit_entries(None, None, 1).await.expect("entries");
    assert_eq!(entries[0].hash, next.hash);
}

crate::on_both_backends!(
    concurrent_guarded_and_locking_appends_keep_one_chain,
    audit_concurrent_body
);
async fn audit_concurrent_body(b: Backend) {
    let Some((_db, store)) = audited(b).await else {
        return;
    };
    // Four appenders race, each as the read-event writer does: the guarded statement on the head
    // it last wrote, the locking transaction when that head is stale.
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut head = None;
            let mut guarded_writes = 0;
            for i in 0..40usize {
                let batch: Vec<_> = (0..1 + (i + t) % 4)
                    .map(|_| entry("document.read", "document"))
                    .collect();
                if let Some(known) = &head {
                    if let Some(next) = store.append_audit_if_head(known, &batch).await.expect("guarded") {
                        head = Some(next);
                        guarded_writes += batch.len();
                        continue;
                    }
                }
                head = Some(store.append_audit(&batch).await.expect("locking"));
            }
            guarded_writes
        }));
    }
    let mut guarded_total = 0;
    for t in tasks {
        guarded_total += t.await.expect("task");
    }
    // On PostgreSQL the appenders overlap and some find their head current. SQLite's single
    // writer connection serves them in turn, and in strict turns every head is stale, so there
    // the race may take the locking path only (the guarded path has its own test above).
    if b == Backend::Postgres {
        assert!(guarded_total > 0, "the guarded path was taken");
    }
    let expected: i64 = 7
        + (0..4)
            .map(|t| (0..40).map(|i| 1 + (i + t) % 4).sum::<i64>())
            .sum::<i64>();
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!(v.error, None, "the chain never forks");
    assert_eq!(v.head_seq, expected, "every entry written exactly once");
    assert_eq!(v.checked as i64, expected);
}

crate::on_both_backends!(audit_chain_is_intact_and_ordered, audit_intact_body);
async fn audit_intact_body(b: Backend) {
    let Some((db, store)) = audited(b).await else {
        return;
    };
    let entries = store.audit_entries(None, None, 100).await.expect("entries");
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![7, 6, 5, 4, 3, 2, 1], "newest first");
    let actions: Vec<&str> = entries.iter().rev().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "agency.create",
            "unit.create",
            "user.create",
            "document.create",
            "auth.login_failed",
            "document.read",
            "document.read"
        ]
    );
    // Each entry links to the previous one.
    for w in entries.windows(2) {
        assert_eq!(w[0].prev_hash, w[1].hash);
    }
    assert_eq!(
        entries.last().expect("first").prev_hash,
        vanthu::audit::chain::GENESIS_HASH
    );
    // Paging and per-target queries.
    assert_eq!(
        store
            .audit_entries(Some(3), None, 100)
            .await
            .expect("page")
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    let doc_entries = store
        .audit_entries(None, Some(("document", "1")), 100)
        .await
        .expect("target");
    assert_eq!(doc_entries.len(), 1);
    assert_eq!(doc_entries[0].entry.action, "document.create");
    let details: serde_json::Value = serde_json::from_str(&doc_entries[0].entry.details).expect("details json");
    assert_eq!(details["arrival_number"], 1);
    // The progress callback is told about the pages.
    let mut seen = Vec::new();
    store
        .verify_audit(|done, total| seen.push((done, total)))
        .await
        .expect("verify");
    assert_eq!(seen.last().copied(), Some((7, 7)));
    finish(db, store).await;
}

crate::on_both_backends!(audit_edit_is_detected, audit_edit_body);
async fn audit_edit_body(b: Backend) {
    let Some((db, store)) = audited(b).await else {
        return;
    };
    let n = store
        .tamper_audit_for_test("UPDATE audit_log SET actor = 'x' WHERE seq = 2")
        .await
        .expect("tamper");
    assert_eq!(n, 1);
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    let err = v.error.expect("edit must be detected");
    assert!(err.contains("entry 2"), "{err}");
    assert_eq!(v.checked, 1, "entry 1 is still fine");
    // Re-hashing the edited entry does not help: the next entry no longer links to it.
    let entries = store.audit_entries(None, None, 100).await.expect("entries");
    let e2 = entries.iter().find(|e| e.seq == 2).expect("entry 2");
    let rehash = vanthu::audit::chain::entry_hash(2, &e2.prev_hash, &e2.entry);
    store
        .tamper_audit_for_test(&format!("UPDATE audit_log SET hash = '{rehash}' WHERE seq = 2"))
        .await
        .expect("tamper");
    let err = store
        .verify_audit(|_, _| {})
        .await
        .expect("verify")
        .error
        .expect("still detected");
    assert!(err.contains("entry 3"), "{err}");
    finish(db, store).await;
}

crate::on_both_backends!(audit_truncation_is_detected, audit_truncation_body);
async fn audit_truncation_body(b: Backend) {
    let Some((db, store)) = audited(b).await else {
        return;
    };
    let n = store
        .tamper_audit_for_test("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .await
        .expect("tamper");
    assert_eq!(n, 1);
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    let err = v.error.expect("truncation must be detected");
    assert!(err.contains('6') && err.contains('7'), "{err}");
    assert_eq!(v.checked, 6);
    finish(db, store).await;
}

crate::on_both_backends!(audit_middle_deletion_is_detected, audit_middle_body);
async fn audit_middle_body(b: Backend) {
    let Some((db, store)) = audited(b).await else {
        return;
    };
    store
        .tamper_audit_for_test("DELETE FROM audit_log WHERE seq = 4")
        .await
        .expect("tamper");
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    let err = v.error.expect("deletion must be detected");
    assert!(err.contains('4') && err.contains("missing"), "{err}");
    assert_eq!(v.checked, 3);
    // Renumbering the rest to close the gap is caught by the hash links.
    store
        .tamper_audit_for_test("UPDATE audit_log SET seq = seq - 1 WHERE seq > 4")
        .await
        .expect("renumber");
    let err = store
        .verify_audit(|_, _| {})
        .await
        .expect("verify")
        .error
        .expect("renumbering detected");
    assert!(err.contains("entry 4"), "{err}");
    finish(db, store).await;
}

// ------------------------------------------------------------------------------------ concurrency

crate::on_both_backends!(concurrent_arrivals_are_gapless, concurrent_arrivals_body);
async fn concurrent_arrivals_body(b: Backend) {
    let Some((db, store)) = open(b).await else {
        return;
    };
    let a = agency(&store, "000.00.00.G12", "BTP").await;
    let den = series_id(&store, a.id, "den").await;
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut d = doc(Direction::Incoming, &format!("Công văn đến số {i}"), None);
                d.external_id = Some(format!("ext-{i}"));
                d.number = Some(1000 + i);
                store
                    .create_document(
                        a.id,
                        &d,
                        "registered",
                        None,
                        arrival(den, 2026),
                        NOW,
                        entry("document.create", "document"),
                    )
                    .await
                    .map(|r| r.document.arrival_number)
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.expect("task").expect("create").expect("arrival number"));
    }
    eprintln!("200 concurrent registrations on {b:?}: {:?}", started.elapsed());
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=200).collect::<Vec<i64>>());
    assert_eq!(store.series_counters(den).await.expect("counters"), vec![(2026, 200)]);
    let v = store.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!(
        (v.error, v.head_seq),
        (None, 201),
        "one audit entry per registration, chain intact"
    );
    finish(db, store).await;
}

/// Two pools on one SQLite file stand for two processes (a server and a CLI command, or two
/// servers): each has its own writer connection. Transactions that read before they write (the
/// audit append reads the chain head first) must wait for each other instead of failing with
/// "database is locked", which is what a deferred `BEGIN` does when the other writer commits
/// between the read and the write. With `BEGIN IMMEDIATE` every write transaction takes the
/// write lock first, so the busy timeout applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_writer_pools_on_one_file() {
    let Some((db, first)) = open(Backend::Sqlite).await else {
        return;
    };
    let second = Db::connect(&db.url, &ConnectSettings::default())
        .await
        .expect("second pool");
    let a = agency(&first, "000.00.00.G12", "BTP").await;
    let den = series_id(&first, a.id, "den").await;
    let head0 = first.verify_audit(|_, _| {}).await.expect("verify").head_seq;
    const ROUNDS: i64 = 60;
    let mut tasks = Vec::new();
    for (p, store) in [first.clone(), second.clone()].into_iter().enumerate() {
        for i in 0..ROUNDS {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Reads first (the chain head), then writes.
                store
                    .append_audit(&[entry("document.read", "document"), entry("document.read", "document")])
                    .await?;
                let mut d = doc(Direction::Incoming, &format!("Công văn {p}-{i}"), None);
                d.number = Some(p as i64 * 1000 + i);
                store
                    .create_document(
                        a.id,
                        &d,
                        "registered",
                        None,
                        arrival(den, 2026),
                        NOW,
                        entry("document.create", "document"),
                    )
                    .await
                    .map(|r| r.document.arrival_number)
            }));
        }
    }
    let mut numbers = Vec::new();
    for t in tasks {
        match t.await.expect("task") {
            Ok(n) => numbers.push(n.expect("arrival number")),
            Err(e) => panic!("a write through the second pool failed: {e}"),
        }
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=2 * ROUNDS).collect::<Vec<i64>>(),
        "gapless across two writers"
    );
    let v = second.verify_audit(|_, _| {}).await.expect("verify");
    assert_eq!(v.error, None, "chain intact with two writers");
    assert_eq!(v.head_seq, head0 + 2 * ROUNDS * 3, "every entry appended once");
    second.close().await;
    finish(db, first).await;
}
