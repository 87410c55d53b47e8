//! A running turn's lease: renewed while the turn runs, so that it can be
//! short — a process that dies mid-turn locks its session for one term at
//! most — without ever expiring under a turn that is still working.

use std::sync::Arc;

use crate::app::App;
use crate::domain::conversation::ConversationState;
use crate::ports::state_store::{Guarded, SessionChange, StoreError};

/// A lease term as the settings configure it.
pub fn lease_term(app: &App) -> chrono::Duration {
    chrono::Duration::from_std(app.settings.turn_lease).unwrap_or(chrono::Duration::seconds(
        crate::domain::conversation::DEFAULT_TURN_LEASE_SECONDS,
    ))
}

/// Renews a running turn's lease until the turn ends, and knows the
/// version of the conversation as stored (which the turn's commit guards).
pub struct LeaseKeeper {
    stored: Arc<tokio::sync::Mutex<ConversationState>>,
    renewing: tokio::task::JoinHandle<()>,
}

impl LeaseKeeper {
    pub fn start(app: &App, leased: ConversationState) -> Self {
        let stored = Arc::new(tokio::sync::Mutex::new(leased));
        let (app, kept) = (app.clone(), stored.clone());
        let renewing = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(app.settings.lease_renewal);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let mut current = kept.lock().await;
                let mut renewed = current.clone();
                if !renewed.renew_lease(app.clock.now(), lease_term(&app)) {
                    return;
                }
                renewed.version += 1;
                let mut change = SessionChange::new(&renewed.tenant_id, &renewed.session_id);
                change.state = Some(Guarded::replacing(current.version, renewed.clone()));
                match app.store.apply(change).await {
                    Ok(()) => *current = renewed,
                    Err(StoreError::Conflict(_)) => {
                        tracing::warn!("a running turn lost its lease; its commit will fail");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew a turn's lease; retrying")
                    }
                }
            }
        });
        LeaseKeeper { stored, renewing }
    }

    /// Stops renewing; returns the leased state as last stored.
    pub async fn stop(self) -> ConversationState {
        let current = self.stored.lock().await;
        self.renewing.abort();
        current.clone()
    }
}
