//! The chat turns running in this process, so that a shutdown can let them
//! finish for a bounded time, then stop the rest (each releases its
//! session) instead of leaving their leases to expire.

use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug)]
pub struct TurnRegistry {
    /// Set once: new turns are refused, running ones asked to stop.
    stop: watch::Sender<bool>,
    /// Set once: new turns are refused; running ones may still finish.
    draining: watch::Sender<bool>,
    running: watch::Sender<usize>,
}

impl Default for TurnRegistry {
    fn default() -> Self {
        TurnRegistry {
            stop: watch::channel(false).0,
            draining: watch::channel(false).0,
            running: watch::channel(0).0,
        }
    }
}

/// A running turn's place in the registry; dropping it (however the turn
/// ends) takes it out.
#[derive(Debug)]
pub struct TurnTicket {
    running: watch::Sender<usize>,
    stop: watch::Receiver<bool>,
}

impl TurnTicket {
    /// Resolves when the process asks running turns to stop.
    pub async fn stop_requested(&mut self) {
        let _ = self.stop.wait_for(|stop| *stop).await;
    }
}

impl Drop for TurnTicket {
    fn drop(&mut self) {
        self.running.send_modify(|n| *n -= 1);
    }
}

impl TurnRegistry {
    /// Registers a new turn; `None` once the process is shutting down.
    pub fn enter(&self) -> Option<TurnTicket> {
        if *self.draining.borrow() {
            return None;
        }
        self.running.send_modify(|n| *n += 1);
        Some(TurnTicket {
            running: self.running.clone(),
            stop: self.stop.subscribe(),
        })
    }

    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    /// Refuses new turns, waits up to `grace` for the running ones to end,
    /// then asks the rest to stop and waits up to `release` for them to
    /// release their sessions. Returns how many were still running at the end.
    pub async fn shut_down(&self, grace: Duration, release: Duration) -> usize {
        self.draining.send_replace(true);
        let mut running = self.running.subscribe();
        let finished = tokio::time::timeout(grace, running.wait_for(|n| *n == 0))
            .await
            .is_ok();
        if !finished {
            self.stop.send_replace(true);
            let _ = tokio::time::timeout(release, running.wait_for(|n| *n == 0)).await;
        }
        self.running()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_waits_for_turns_then_stops_the_rest() {
        let registry = std::sync::Arc::new(TurnRegistry::default());
        let quick = registry.enter().unwrap();
        let mut slow = registry.enter().unwrap();
        assert_eq!(registry.running(), 2);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(quick);
        });
        // The slow turn ends only when asked to stop.
        tokio::spawn(async move {
            slow.stop_requested().await;
            drop(slow);
        });
        let left = registry
            .shut_down(Duration::from_millis(100), Duration::from_secs(5))
            .await;
        assert_eq!(left, 0);
        assert!(registry.enter().is_none(), "no new turn after a shutdown");
    }
}
