//! Grounding: the company passages the coach's reply draws on. Under the
//! tenant's `ahead` choice no model call waits in front of the reply: the
//! phase's remembered query finds the passages (reranked by the latest
//! message's words) while the turn's own retrieval runs alongside; under
//! `per_turn`, and for an edited goal, the turn retrieves first.

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tracing::Instrument;

use super::admission::AdmittedTurn;
use super::halt::Halt;
use crate::app::App;
use crate::app::judging::{self, Retrieved};
use crate::domain::coaching::PhaseContext;
use crate::domain::conversation::TurnKind;
use crate::domain::grounding::QuantizedVector;
use crate::domain::phase::Phase;
use crate::domain::tenant::{CoachRetrieval, TenantRecord};

/// Sets the passages of the coach's reply in `ctx`, and in `next_query`
/// the embedding this turn retrieved by (which the phase's next turn
/// starts from). Returns the turn's own retrieval when it still runs.
pub(super) async fn ground(
    turn: &AdmittedTurn,
    ctx: &mut PhaseContext,
    next_query: &mut Option<Vec<f32>>,
) -> Result<Option<FreshRetrieval>, Halt> {
    match (&turn.kind, turn.tenant.config.coach_retrieval) {
        (TurnKind::Collect, CoachRetrieval::Ahead) => ground_ahead(turn, ctx, next_query).await,
        (TurnKind::Collect, CoachRetrieval::PerTurn) => {
            ground_per_turn(turn, ctx, next_query).await?;
            Ok(None)
        }
        (TurnKind::EditGoal, _) => {
            ground_now(turn, ctx, next_query).await?;
            Ok(None)
        }
    }
}

/// Grounds the coach's reply by this turn's own retrieval, waited for
/// (the tenant chose `per_turn`). Should it fail, the remembered
/// query's passages stand in, as they do under `ahead`: the turn goes
/// on rather than end on a fault it can work around.
async fn ground_per_turn(
    turn: &AdmittedTurn,
    ctx: &mut PhaseContext,
    next_query: &mut Option<Vec<f32>>,
) -> Result<(), Halt> {
    let failed = match ground_now(turn, ctx, next_query).await {
        Err(Halt::Storage(e)) => e,
        other => return other,
    };
    let Some(vector) = remembered_query(turn, ctx.phase) else {
        return Err(Halt::Storage(failed));
    };
    tracing::warn!(error = %failed.message, "the turn's retrieval failed; the coach starts from the remembered query");
    ground_by_remembered(turn, ctx, &vector).await
}

/// The passages the remembered query finds, reranked by the latest message.
async fn ground_by_remembered(
    turn: &AdmittedTurn,
    ctx: &mut PhaseContext,
    vector: &[f32],
) -> Result<(), Halt> {
    ctx.documents = judging::search_for_message(
        &turn.app,
        &turn.tenant,
        ctx.phase,
        vector,
        ctx.latest_user_message(),
    )
    .await?;
    Ok(())
}

/// The phase's query embedded before this turn, if it is usable.
fn remembered_query(turn: &AdmittedTurn, phase: Phase) -> Option<Vec<f32>> {
    turn.state
        .query_for(phase)
        .and_then(QuantizedVector::to_vec)
        .filter(|v| v.len() == turn.app.embedder.dimension())
}

/// Grounds the coach's reply without an embedding call in front of it:
/// the passages the phase's remembered query finds in the index now,
/// reranked by the latest message's words, while the turn's own
/// retrieval starts alongside. With no query
/// remembered (a state stored before there were any, or the profile's
/// embedding failed) the turn retrieves first.
async fn ground_ahead(
    turn: &AdmittedTurn,
    ctx: &mut PhaseContext,
    next_query: &mut Option<Vec<f32>>,
) -> Result<Option<FreshRetrieval>, Halt> {
    let Some(vector) = remembered_query(turn, ctx.phase) else {
        ground_now(turn, ctx, next_query).await?;
        return Ok(None);
    };
    let fresh = FreshRetrieval::start(
        turn.app.clone(),
        turn.tenant.clone(),
        ctx.phase,
        ctx.user_text(),
    );
    ground_by_remembered(turn, ctx, &vector).await?;
    Ok(Some(fresh))
}

/// Retrieves by the phase's answers, this message included.
async fn ground_now(
    turn: &AdmittedTurn,
    ctx: &mut PhaseContext,
    next_query: &mut Option<Vec<f32>>,
) -> Result<(), Halt> {
    let retrieved = judging::retrieve(&turn.app, &turn.tenant, ctx.phase, &ctx.user_text()).await?;
    ctx.documents = retrieved.documents;
    *next_query = retrieved.query;
    Ok(())
}

/// A retrieval's result, awaited by as many as need it.
pub(super) type SharedRetrieval = Shared<BoxFuture<'static, Option<Retrieved>>>;

/// The turn's own retrieval (the phase's answers, this message included),
/// running in a task of its own while the coach streams from the passages
/// the phase's remembered query found. Dropping it (the client left, the
/// turn failed) cancels its embedding call.
pub(super) struct FreshRetrieval {
    result: SharedRetrieval,
    _cancel: CancelOnDrop,
}

struct CancelOnDrop(tokio::task::AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FreshRetrieval {
    fn start(app: App, tenant: TenantRecord, phase: Phase, query: String) -> Self {
        let task = tokio::spawn(
            async move { judging::retrieve(&app, &tenant, phase, &query).await }.in_current_span(),
        );
        let cancel = CancelOnDrop(task.abort_handle());
        let result = async move {
            match task.await {
                Ok(Ok(retrieved)) => Some(retrieved),
                Ok(Err(e)) => {
                    // The coach's passages stand in; the next turn tries again.
                    tracing::warn!(error = %e.message, "the turn's own retrieval failed");
                    None
                }
                Err(_) => None,
            }
        }
        .boxed()
        .shared();
        FreshRetrieval {
            result,
            _cancel: cancel,
        }
    }

    /// The retrieval's result, for a task that outlives this borrow.
    pub(super) fn shared(&self) -> SharedRetrieval {
        self.result.clone()
    }

    /// Waits for the retrieval; `None` if it failed.
    pub(super) async fn finish(&self) -> Option<Retrieved> {
        self.result.clone().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::chat::test_support::{FIRST_ANSWER, Fixture, down, rewired};

    async fn grounded(
        turn: &AdmittedTurn,
    ) -> Result<(PhaseContext, Option<FreshRetrieval>, Option<Vec<f32>>), Halt> {
        let mut ctx = turn.coaching_context();
        let mut next_query = None;
        let fresh = ground(turn, &mut ctx, &mut next_query).await?;
        Ok((ctx, fresh, next_query))
    }

    #[tokio::test]
    async fn ahead_starts_from_the_remembered_query_and_retrieves_alongside() {
        let fx = Fixture::new().await;
        fx.index("career_framework", "A senior engineer leads a small team.")
            .await;
        let turn = fx.admit(FIRST_ANSWER).await.unwrap();
        assert!(remembered_query(&turn, Phase::G4Future).is_some());
        let (ctx, fresh, next_query) = grounded(&turn).await.unwrap();
        assert_eq!(ctx.documents.len(), 1, "the remembered query found it");
        assert!(next_query.is_none(), "the turn's own query is still coming");
        let retrieved = fresh.expect("retrieving alongside").finish().await.unwrap();
        assert_eq!(retrieved.documents.len(), 1);
        assert!(retrieved.query.is_some());
    }

    #[tokio::test]
    async fn without_a_remembered_query_ahead_retrieves_first() {
        let fx = Fixture::new().await;
        fx.index(
            "values",
            "Leading a small team as a senior engineer is valued.",
        )
        .await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        turn.state.queries.clear();
        let (ctx, fresh, next_query) = grounded(&turn).await.unwrap();
        assert!(fresh.is_none());
        assert_eq!(ctx.documents.len(), 1);
        assert_eq!(
            next_query.map(|q| q.len()),
            Some(fx.app.embedder.dimension())
        );
    }

    #[tokio::test]
    async fn per_turn_retrieves_before_the_coach_within_the_phase_s_categories() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.coach_retrieval = CoachRetrieval::PerTurn;
        fx.index(
            "performance_guidelines",
            "A senior engineer leads a small team.",
        )
        .await;
        let turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let (ctx, fresh, next_query) = grounded(&turn).await.unwrap();
        assert!(fresh.is_none());
        assert!(
            next_query.is_some(),
            "the turn's own query, kept for the next"
        );
        assert!(ctx.documents.is_empty(), "not a category of g4_future");
    }

    #[tokio::test]
    async fn a_failed_retrieval_with_no_usable_remembered_query_halts_the_turn() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.coach_retrieval = CoachRetrieval::PerTurn;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        // The embedder fails, and its dimension (0) fits no remembered query.
        turn.app = rewired(&turn.app, |ports| ports.embedder = down());
        assert!(matches!(grounded(&turn).await, Err(Halt::Storage(_))));
    }
}
