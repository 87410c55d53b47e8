//! Trying settings before saving them: the proposed merge patch is checked
//! as a change would be, then the tenant's example drafts are judged under
//! the settings in force and under the proposed ones — the chat's judging
//! path (retrieval for the phase, the configured model, the domain's
//! checks). Nothing is saved and no version made; the tokens count against
//! the tenant's budget like any model use, in one write with the audit
//! entry `tenant.settings_previewed` (a read that spends the tenant's money,
//! so it is recorded, like the data export).

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::eval::context;
use super::judging::{judge_goal, retrieve_documents};
use super::limits::{budget_alerts, check_budget};
use super::settings::{SettingsChange, refusal};
use super::tenants::{Admin, existing};
use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::example_drafts::ExampleDraft;
use crate::domain::goal::fit_goal_text;
use crate::domain::ids::new_id;
use crate::domain::message::Usage;
use crate::domain::phase::Phase;
use crate::domain::settings::{FieldChange, apply_patch};
use crate::domain::settings_preview::{DraftComparison, Judged, PreviewSummary, compare};
use crate::domain::tenant::{TenantConfig, TenantRecord};
use crate::ports::state_store::SessionChange;

/// Drafts judged at once (each under both settings at once): a hosted
/// model answers in seconds, and forty judgements one after another would
/// outlast an API gateway's 29-second timeout.
const CONCURRENT_DRAFTS: usize = 5;

/// The example drafts judged under both settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsPreview {
    pub tenant_id: String,
    /// The version in force the drafts were compared against.
    #[schema(minimum = 1)]
    pub current_version: u32,
    /// What the proposed patch changes (prompts summarised); empty: the
    /// patch changes nothing, both columns are the settings in force.
    pub changes: Vec<FieldChange>,
    /// The model that judged under each version (`llm_model`).
    pub current_model: String,
    pub proposed_model: String,
    /// One row per example draft, in their order (those of the proposed
    /// settings, so a patch may add drafts and try them at once).
    pub drafts: Vec<DraftComparison>,
    pub summary: PreviewSummary,
    /// Model tokens the preview spent (counted against the monthly budget).
    pub tokens: u64,
    /// Set when there was nothing to judge: how to add example drafts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Judges the tenant's example drafts under its settings and under
/// `patch` applied to them, refused exactly as the change would be.
pub async fn preview(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    patch: &Value,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<SettingsPreview> {
    admin.scope(Some(tenant_id))?;
    let record = existing(app, tenant_id).await?;
    let editor = SettingsChange::by(admin, actor, origin).editor;
    let patched = apply_patch(&record.config, patch, editor).map_err(refusal)?;
    let mut proposed = record.clone();
    proposed.config = patched.config;
    let drafts = proposed.config.example_drafts.clone();
    let mut result = SettingsPreview {
        tenant_id: tenant_id.to_string(),
        current_version: record.settings.version,
        changes: patched.changes,
        current_model: record.config.llm_model.clone(),
        proposed_model: proposed.config.llm_model.clone(),
        drafts: vec![],
        summary: PreviewSummary::default(),
        tokens: 0,
        note: None,
    };
    if drafts.is_empty() {
        result.note = Some(
            "no example drafts to judge: add some to the settings' example_drafts \
             (in the same patch to try them at once)"
                .into(),
        );
        return Ok(result);
    }
    let tokens_seen = check_budget(app, &record).await?;
    let (current, proposed_judged, usage) = judge_all(app, &record, &proposed, &drafts).await?;
    let (rows, summary) = compare(&drafts, current, proposed_judged);
    result.drafts = rows;
    result.summary = summary;
    result.tokens = u64::from(usage.total());
    record_preview(app, &record, &result, actor, origin, tokens_seen).await?;
    Ok(result)
}

/// Each draft under both configs, in the drafts' order, and what it cost.
pub async fn judge_all(
    app: &App,
    current: &TenantRecord,
    proposed: &TenantRecord,
    drafts: &[ExampleDraft],
) -> AppResult<(Vec<Judged>, Vec<Judged>, Usage)> {
    // Owned drafts: a stream of borrowed ones trips the handler's `Send`
    // check (a closure over a reference of any lifetime).
    let judged: Vec<AppResult<(Judged, Judged, Usage)>> = futures::stream::iter(drafts.to_vec())
        .map(|draft| async move { judge_both(app, current, proposed, &draft).await })
        .buffered(CONCURRENT_DRAFTS)
        .collect()
        .await;
    let (mut before, mut after, mut usage) = (vec![], vec![], Usage::default());
    for outcome in judged {
        let (b, a, spent) = outcome?;
        before.push(b);
        after.push(a);
        usage += spent;
    }
    Ok((before, after, usage))
}

async fn judge_both(
    app: &App,
    current: &TenantRecord,
    proposed: &TenantRecord,
    draft: &ExampleDraft,
) -> AppResult<(Judged, Judged, Usage)> {
    let (mut usage, mut proposed_usage) = (Usage::default(), Usage::default());
    // Nothing that judging reads differs: the same verdict, for free (and
    // no run-to-run noise of a hosted model shown as a change).
    if judged_alike(&current.config, &proposed.config, draft.phase) {
        let before = judge(app, current, draft, &mut usage).await?;
        return Ok((before.clone(), before, usage));
    }
    // Both at once: a preview's wait is its slowest round of model calls.
    let (before, after) = futures::join!(
        judge(app, current, draft, &mut usage),
        judge(app, proposed, draft, &mut proposed_usage)
    );
    usage += proposed_usage;
    Ok((before?, after?, usage))
}

/// Whether judging a draft of `phase` reads the same settings in both.
fn judged_alike(a: &TenantConfig, b: &TenantConfig, phase: Phase) -> bool {
    a.rubric(phase) == b.rubric(phase)
        && a.threshold == b.threshold
        && a.prompts == b.prompts
        && a.llm_model == b.llm_model
        && a.rag_enabled == b.rag_enabled
        && a.categories(phase) == b.categories(phase)
}

/// One draft as an edited goal is judged in the chat under `tenant`'s config.
async fn judge(
    app: &App,
    tenant: &TenantRecord,
    draft: &ExampleDraft,
    usage: &mut Usage,
) -> AppResult<Judged> {
    let config = &tenant.config;
    let rubric = config.rubric(draft.phase).cloned().ok_or_else(|| {
        AppError::internal("rubric_missing", format!("no rubric for {}", draft.phase))
    })?;
    let goal = fit_goal_text(&draft.goal);
    let documents = retrieve_documents(app, tenant, draft.phase, &goal).await?;
    let ctx = context(tenant, draft.phase, &goal, documents);
    let judged = judge_goal(
        app.model.as_ref(),
        &ctx,
        &goal,
        &rubric,
        config.threshold,
        usage,
    )
    .await;
    Ok(match judged {
        Ok(card) => Judged::of(&card),
        // Unscored, as the chat would not keep it; the row says why (and
        // the tokens other drafts spent are still counted).
        Err(e) => Judged::unscored(config.threshold, format!("{}: {e}", e.code())),
    })
}

/// The tokens, counted in the month like a turn's (with the budget alerts
/// they reach), and the audit entry, in one write.
async fn record_preview(
    app: &App,
    record: &TenantRecord,
    preview: &SettingsPreview,
    actor: &str,
    origin: &RequestOrigin,
    tokens_seen: Option<i64>,
) -> AppResult<()> {
    let now = app.clock.now();
    let tenant_id = &record.tenant.id;
    // A change of its own (no session), spread over the counter shards.
    let mut change = SessionChange::new(tenant_id, &new_id());
    change.counters.tokens = i64::try_from(preview.tokens).unwrap_or(i64::MAX);
    change.counters.month_of = Some(now.date_naive());
    change.budget = budget_alerts(record, tokens_seen, &change.session_id, now);
    let paths: Vec<&str> = preview.changes.iter().map(|c| c.path.as_str()).collect();
    change.audit.push(AuditEntry::new(
        new_id(),
        tenant_id,
        None,
        actor,
        action::TENANT_SETTINGS_PREVIEWED,
        ("tenant", tenant_id),
        json!({
            "version": record.settings.version,
            "proposed_paths": paths,
            "drafts": preview.summary.drafts,
            "verdicts_changed": preview.summary.verdicts_changed,
            "tokens": preview.tokens,
        }),
        origin,
        now,
    ));
    app.store.apply(change).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_is_judged_again_only_when_what_judging_reads_changes() {
        let current = TenantConfig::defaults();
        let alike = |edit: &dyn Fn(&mut TenantConfig), phase| {
            let mut proposed = current.clone();
            edit(&mut proposed);
            judged_alike(&current, &proposed, phase)
        };
        assert!(alike(
            &|c| c.limits.monthly_token_budget = 5,
            Phase::G4Future
        ));
        assert!(alike(&|c| c.example_drafts.clear(), Phase::G4Future));
        assert!(alike(&|c| c.max_collect_turns = 5, Phase::G4Future));
        assert!(!alike(&|c| c.threshold = 8.0, Phase::G4Future));
        assert!(!alike(&|c| c.llm_model = "gpt-4o".into(), Phase::G8Actions));
        assert!(!alike(&|c| c.rag_enabled = false, Phase::G6Values));
        let reweigh = |c: &mut TenantConfig| {
            let rubric = c.scoring_rubrics.get_mut("g6_values").unwrap();
            rubric.criteria[0].weight += 5.0;
            rubric.criteria[1].weight -= 5.0;
        };
        assert!(!alike(&reweigh, Phase::G6Values));
        assert!(alike(&reweigh, Phase::G4Future), "another phase's rubric");
    }
}
