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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::Settings;
    use crate::app::chat::test_support::{FIRST_ANSWER, Fixture};

    #[tokio::test]
    async fn a_running_turn_s_lease_is_renewed_until_the_keeper_stops() {
        let settings = Settings::default().with_turn_lease(Duration::from_millis(400));
        let fx = Fixture::with_settings(settings).await;
        let turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let leased_until = turn.state.lease.clone().unwrap().expires_at;
        let keeper = LeaseKeeper::start(&fx.app, turn.state.clone());
        // A renewal is due every 100 ms; a busy machine may take longer.
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if fx.conversation().await.version > turn.state.version {
                break;
            }
        }
        let last = keeper.stop().await;
        let stored = fx.conversation().await;
        assert!(stored.version > turn.state.version, "renewed at least once");
        assert_eq!(
            last.version, stored.version,
            "the keeper knows the version the commit guards"
        );
        assert!(stored.lease.unwrap().expires_at > leased_until);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(fx.conversation().await.version, stored.version, "stopped");
    }

    #[tokio::test]
    async fn a_lost_lease_is_not_renewed() {
        let settings = Settings::default().with_turn_lease(Duration::from_millis(400));
        let fx = Fixture::with_settings(settings).await;
        let turn = fx.admit(FIRST_ANSWER).await.unwrap();
        // Another writer takes the conversation (as after an expiry).
        let mut taken = turn.state.clone();
        taken.version += 1;
        let mut change = SessionChange::new(&taken.tenant_id, &taken.session_id);
        change.state = Some(Guarded::replacing(turn.state.version, taken.clone()));
        fx.app.store.apply(change).await.unwrap();
        let keeper = LeaseKeeper::start(&fx.app, turn.state.clone());
        tokio::time::sleep(Duration::from_millis(250)).await;
        let kept = keeper.stop().await;
        assert_eq!(kept.version, turn.state.version, "nothing renewed");
        assert_eq!(fx.conversation().await.version, taken.version);
    }
}
