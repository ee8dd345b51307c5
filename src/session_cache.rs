//! A short-lived in-process cache of authenticated sessions, so that a read does not cost two
//! extra queries. Entries live a few seconds; logout, lock and password changes in this process
//! evict at once, and in other processes take effect within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::Principal;

#[derive(Clone, Debug)]
pub struct CachedSession {
    pub principal: Principal,
    /// When a delegation of this user starts or ends: the principal must be rebuilt then.
    pub recheck_at: Option<i64>,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    map: Mutex<HashMap<String, (Instant, CachedSession)>>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, token_hash: &str) -> Option<CachedSession> {
        let map = self.map.lock().ok()?;
        map.get(token_hash)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone())
    }

    pub fn put(&self, token_hash: &str, session: CachedSession) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() > 50_000 {
                let ttl = self.ttl;
                map.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            map.insert(token_hash.to_string(), (Instant::now(), session));
        }
    }

    pub fn remove(&self, token_hash: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(token_hash);
        }
    }

    /// Drops every cached session of a user (lock, password change).
    pub fn remove_user(&self, user_id: i64) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, (_, s)| s.principal.user_id != user_id);
        }
    }
}
