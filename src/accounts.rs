//! Login, sessions and the principal behind a token.

use serde::Serialize;

use crate::audit::Actor;
use crate::auth::{password, token, Grant, Principal};
use crate::error::{AppError, AppResult, ErrorKind};
use crate::model::Role;
use crate::services::Services;
use crate::session_cache::CachedSession;
use crate::storage::{StorageError, User};

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResult {
    /// Bearer token; shown once, stored only as a hash.
    pub token: String,
    /// Absolute expiry, ms since the epoch.
    pub expires_at: i64,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: u64,
    pub user: User,
}

/// Only refresh `last_seen_at` in the database when it is older than this.
const TOUCH_EVERY_MS: i64 = 30_000;

pub async fn login(s: &Services, username: &str, pw: &str, ip: Option<String>) -> AppResult<LoginResult> {
    let sec = &s.config.security;
    let invalid = || {
        AppError::new(
            ErrorKind::Unauthenticated,
            "auth.invalid_credentials",
            "wrong user name or password",
        )
    };
    let now = s.clock.now_ms();
    let auth = match s.db.user_auth(username).await {
        Ok(a) => a,
        Err(StorageError::NotFound) => {
            // Spend the same time as a real check so that user names cannot be probed by timing.
            let (m, t) = (sec.argon2_memory_kib, sec.argon2_iterations);
            let decoy = password::decoy_hash(m, t);
            let pw = pw.to_string();
            let _ = tokio::task::spawn_blocking(move || password::verify(&pw, &decoy)).await;
            let actor = Actor {
                user_id: None,
                name: username.chars().take(100).collect(),
                ip,
            };
            s.db.append_audit(&[actor.entry(
                now,
                "auth.login_failed",
                "user",
                None,
                serde_json::json!({"reason": "unknown user"}),
            )])
            .await?;
            return Err(invalid());
        }
        Err(e) => return Err(e.into()),
    };
    let actor = Actor {
        user_id: Some(auth.user.id),
        name: auth.user.username.clone(),
        ip: ip.clone(),
    };
    if auth.user.locked {
        return Err(AppError::new(
            ErrorKind::Locked,
            "auth.account_locked",
            "this account is locked; ask an administrator to unlock it",
        ));
    }
    let stored = auth.password_hash.clone();
    let candidate = pw.to_string();
    let ok = tokio::task::spawn_blocking(move || password::verify(&candidate, &stored))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    if !ok {
        let entry = actor.entry(
            now,
            "auth.login_failed",
            "user",
            Some(auth.user.id.to_string()),
            serde_json::json!({"reason": "wrong password"}),
        );
        let locked =
            s.db.record_failed_login(auth.user.id, sec.max_failed_logins, entry)
                .await?;
        if locked {
            return Err(AppError::new(
                ErrorKind::Locked,
                "auth.account_locked",
                format!(
                    "too many failed logins ({}); the account is now locked",
                    sec.max_failed_logins
                ),
            ));
        }
        return Err(invalid());
    }
    let (tok, hash) = token::generate();
    let expires_at = now + i64::try_from(sec.session_absolute_secs).unwrap_or(i64::MAX / 4) * 1000;
    let entry = actor.entry(
        now,
        "auth.login",
        "user",
        Some(auth.user.id.to_string()),
        serde_json::json!({}),
    );
    s.db.create_session(&hash, auth.user.id, now, expires_at, ip.as_deref(), entry)
        .await?;
    Ok(LoginResult {
        token: tok,
        expires_at,
        idle_timeout_secs: sec.session_idle_secs,
        user: auth.user,
    })
}

/// The principal behind a bearer token, with delegations in force now.
pub async fn authenticate(s: &Services, bearer: &str) -> AppResult<Principal> {
    let hash = token::hash(bearer);
    let now = s.clock.now_ms();
    let idle_ms = i64::try_from(s.config.security.session_idle_secs).unwrap_or(i64::MAX / 4) * 1000;
    let expired = || {
        AppError::new(
            ErrorKind::Unauthenticated,
            "auth.session_expired",
            "the session has expired; log in again",
        )
    };
    if let Some(c) = s.sessions.get(&hash) {
        let fresh = c.recheck_at.is_none_or(|t| now < t);
        if fresh && now < c.expires_at && now - c.last_seen_at < idle_ms {
            if now - c.last_seen_at > TOUCH_EVERY_MS {
                s.db.touch_session(&hash, now).await?;
                s.sessions.put(
                    &hash,
                    CachedSession {
                        last_seen_at: now,
                        ..c.clone()
                    },
                );
            }
            return Ok(c.principal);
        }
        s.sessions.remove(&hash);
    }
    let session = match s.db.session(&hash).await {
        Ok(v) => v,
        Err(StorageError::NotFound) => {
            return Err(AppError::unauthenticated(
                "unknown or revoked session token; log in again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if now >= session.expires_at || now - session.last_seen_at >= idle_ms {
        s.db.delete_session(&hash, None).await?;
        return Err(expired());
    }
    if session.user.locked {
        return Err(AppError::new(
            ErrorKind::Locked,
            "auth.account_locked",
            "this account is locked",
        ));
    }
    let (principal, recheck_at) = principal_for(s, &session.user, now).await?;
    let mut last_seen_at = session.last_seen_at;
    if now - last_seen_at > TOUCH_EVERY_MS {
        s.db.touch_session(&hash, now).await?;
        last_seen_at = now;
    }
    s.sessions.put(
        &hash,
        CachedSession {
            principal: principal.clone(),
            recheck_at,
            last_seen_at,
            expires_at: session.expires_at,
        },
    );
    Ok(principal)
}

/// Builds the principal: the user's own roles plus roles lent by delegations in force, and the
/// next instant at which a delegation starts or ends (when the principal must be rebuilt).
pub async fn principal_for(s: &Services, user: &User, now_ms: i64) -> AppResult<(Principal, Option<i64>)> {
    let mut grants: Vec<Grant> = user
        .roles
        .iter()
        .map(|r| Grant {
            role: *r,
            unit_id: user.unit_id,
            delegated_by: None,
        })
        .collect();
    let recheck_at = s.db.next_delegation_change(user.id, now_ms).await?;
    for d in s.db.active_delegations(user.id, now_ms).await? {
        for role in Role::parse_list(&d.roles) {
            grants.push(Grant {
                role,
                unit_id: d.delegator_unit_id,
                delegated_by: Some(d.delegator_id),
            });
        }
    }
    let principal = Principal {
        user_id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        agency_id: user.agency_id,
        unit_id: user.unit_id,
        grants,
    };
    Ok((principal, recheck_at))
}

pub async fn logout(s: &Services, bearer: &str, principal: &Principal, ip: Option<String>) -> AppResult<()> {
    let hash = token::hash(bearer);
    s.sessions.remove(&hash);
    let actor = Actor {
        user_id: Some(principal.user_id),
        name: principal.username.clone(),
        ip,
    };
    let entry = actor.entry(
        s.clock.now_ms(),
        "auth.logout",
        "user",
        Some(principal.user_id.to_string()),
        serde_json::json!({}),
    );
    s.db.delete_session(&hash, Some(entry)).await?;
    Ok(())
}

/// Hashes a new password after checking the policy (on a blocking thread).
pub async fn hash_new_password(s: &Services, pw: &str) -> AppResult<String> {
    password::check_policy(pw).map_err(|e| AppError::bad_request("auth.weak_password", e.to_string()))?;
    let (m, t) = (s.config.security.argon2_memory_kib, s.config.security.argon2_iterations);
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || password::hash(&pw, m, t))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?
        .map_err(|e| AppError::internal(e.to_string()))
}

pub async fn change_own_password(
    s: &Services,
    p: &Principal,
    current: &str,
    new: &str,
    ip: Option<String>,
) -> AppResult<()> {
    let auth = s.db.user_auth(&p.username).await?;
    let stored = auth.password_hash.clone();
    let cur = current.to_string();
    let ok = tokio::task::spawn_blocking(move || password::verify(&cur, &stored))
        .await
        .map_err(|e| AppError::internal(e.to_string()))?;
    if !ok {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "auth.invalid_credentials",
            "the current password is wrong",
        ));
    }
    let hash = hash_new_password(s, new).await?;
    let actor = Actor {
        user_id: Some(p.user_id),
        name: p.username.clone(),
        ip,
    };
    let now = s.clock.now_ms();
    s.db.set_password(
        p.user_id,
        &hash,
        now,
        actor.entry(
            now,
            "user.password_changed",
            "user",
            Some(p.user_id.to_string()),
            serde_json::json!({}),
        ),
    )
    .await?;
    s.sessions.remove_user(p.user_id);
    Ok(())
}
