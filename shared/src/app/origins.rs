//! Which active tenant a web origin's domain belongs to: looked up in the
//! state store and kept briefly, so a page's requests cost one read. CORS
//! (in `http::cors`) asks; what the answer means for headers stays there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::App;
use crate::domain::tenant::TenantStatus;

/// How long a look-up's answer is reused.
const LOOKUP_TTL: Duration = Duration::from_secs(60);
const LOOKUP_CACHE_ENTRIES: usize = 1024;

/// Tenant-domain answers (the active tenant whose domain the origin is),
/// kept briefly so a page's requests cost one read.
#[derive(Default)]
pub struct OriginCache {
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl OriginCache {
    fn get(&self, origin: &str) -> Option<Option<String>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(origin)
            .filter(|(_, at)| at.elapsed() < LOOKUP_TTL)
            .map(|(tenant, _)| tenant.clone())
    }

    fn put(&self, origin: &str, tenant: Option<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= LOOKUP_CACHE_ENTRIES {
            entries.clear();
        }
        entries.insert(origin.to_string(), (tenant, Instant::now()));
    }
}

/// The id of the active tenant whose domain is `domain` (the host of
/// `origin`), from the cache or the store; `None` when there is none, or
/// when the store could not answer (then the next request asks again).
pub async fn active_tenant_of(app: &App, origin: &str, domain: &str) -> Option<String> {
    if let Some(known) = app.cors_cache.get(origin) {
        return known;
    }
    match app.store.tenant_by_domain(domain).await {
        Ok(found) => {
            let active = found
                .filter(|t| t.tenant.status == TenantStatus::Active)
                .map(|t| t.tenant.id);
            app.cors_cache.put(origin, active.clone());
            active
        }
        Err(e) => {
            tracing::warn!(error = %e, "CORS: could not look up the origin's tenant");
            None
        }
    }
}
