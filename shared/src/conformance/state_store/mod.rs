//! The state-store suite, one file per aggregate: tenants, sessions and
//! their history, the audit log, counters and limits, documents.

use std::sync::Arc;

use crate::ports::state_store::StateStore;

mod audit;
mod counters;
mod documents;
mod erasure;
mod sessions;
mod tenant_versions;
mod tenants;

/// Runs every state-store promise against `store`.
pub async fn state_store(store: Arc<dyn StateStore>) {
    let store = store.as_ref();
    store.ping().await.expect("ping");
    tenants::tenants(store).await;
    sessions::sessions_and_guards(store).await;
    sessions::history(store).await;
    sessions::phase_restarts(store).await;
    audit::audit_log(store).await;
    counters::counters(store).await;
    counters::monthly_counters(store).await;
    counters::budget_alerts(store).await;
    counters::window_charges(store).await;
    tenants::tenant_config_updates(store).await;
    tenant_versions::settings_versions_and_keys(store).await;
    tenants::isolation(store).await;
    sessions::one_winner_per_version(store).await;
    sessions::touches_never_conflict(store).await;
    documents::documents(store).await;
    erasure::erasure(store).await;
    erasure::tenant_purge(store).await;
}
