//! Data export (GDPR arts. 15 and 20): the employee's own session as one
//! JSON document, and a tenant's data for its admin as newline-delimited
//! JSON, produced a page at a time while it is sent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::goals::{GoalView, SessionGoals, session_goals};
use super::sessions::SessionView;
use super::tenants::Admin;
use super::transcript::{self, TranscriptMessage};
use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::document::DocumentRecord;
use crate::domain::ids::new_id;
use crate::domain::tenant::Tenant;
use crate::ports::state_store::{AuditQuery, SessionSnapshot};

/// Sessions and audit entries read per page of a tenant export.
const PAGE: u32 = 100;
/// Lines buffered ahead of a slow reader.
const LINES_AHEAD: usize = 64;

/// Everything stored about one session, for its employee.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeeExport {
    pub exported_at: DateTime<Utc>,
    pub session: SessionView,
    /// The whole conversation, oldest first.
    pub messages: Vec<TranscriptMessage>,
    /// Every version of every goal, with links and a summary.
    pub goals: SessionGoals,
}

pub fn employee_export(app: &App, snapshot: &SessionSnapshot) -> AppResult<EmployeeExport> {
    let messages = transcript::page(snapshot, None, snapshot.messages.len().max(1))?.messages;
    Ok(EmployeeExport {
        exported_at: app.clock.now(),
        session: SessionView::new(&snapshot.session, &snapshot.state),
        messages,
        goals: session_goals(app, snapshot, false),
    })
}

/// One line of a tenant export: `{"type": …, "data": …}`. The first line is
/// the tenant, the last `end` (a stream without it was cut short).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ExportLine {
    Tenant(ExportHeader),
    Session(SessionView),
    Goal(ExportedGoal),
    /// A document's record; `object_key` names its stored original.
    Document(DocumentRecord),
    /// Newest first, addresses masked as in the listing.
    AuditEntry(AuditEntry),
    End(ExportCounts),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportHeader {
    pub tenant: Tenant,
    pub exported_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportedGoal {
    pub session_id: String,
    #[serde(flatten)]
    pub goal: GoalView,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct ExportCounts {
    pub sessions: u64,
    pub goals: u64,
    pub documents: u64,
    pub audit_entries: u64,
}

/// The tenant's export, as lines (each ending in `\n`) produced while
/// they are read; an `Err` ends the stream early. Recorded in the audit
/// log before anything is read.
pub async fn tenant_export(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    origin: &RequestOrigin,
) -> AppResult<mpsc::Receiver<Result<String, AppError>>> {
    let record =
        app.store.tenant(tenant_id).await?.ok_or_else(|| {
            AppError::not_found("tenant_not_found", format!("no tenant {tenant_id}"))
        })?;
    let now = app.clock.now();
    app.store
        .append_audit(&AuditEntry::new(
            new_id(),
            tenant_id,
            None,
            admin.actor(),
            action::TENANT_DATA_EXPORTED,
            ("tenant", tenant_id),
            json!({"format": "ndjson"}),
            origin,
            now,
        ))
        .await?;
    let (tx, rx) = mpsc::channel(LINES_AHEAD);
    let app = app.clone();
    let tenant = record.tenant;
    tokio::spawn(async move {
        if let Err(e) = write_export(&app, tenant, now, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(rx)
}

/// Why writing stopped: the reader left, or a read failed.
enum Stop {
    ReaderGone,
    Failed(AppError),
}

impl<E: Into<AppError>> From<E> for Stop {
    fn from(e: E) -> Self {
        Stop::Failed(e.into())
    }
}

async fn send(tx: &mpsc::Sender<Result<String, AppError>>, line: ExportLine) -> Result<(), Stop> {
    let mut text = serde_json::to_string(&line)
        .map_err(|e| Stop::Failed(AppError::internal("export_failed", e.to_string())))?;
    text.push('\n');
    tx.send(Ok(text)).await.map_err(|_| Stop::ReaderGone)
}

async fn write_export(
    app: &App,
    tenant: Tenant,
    exported_at: DateTime<Utc>,
    tx: &mpsc::Sender<Result<String, AppError>>,
) -> AppResult<()> {
    match write_lines(app, tenant, exported_at, tx).await {
        Ok(()) | Err(Stop::ReaderGone) => Ok(()),
        Err(Stop::Failed(e)) => Err(e),
    }
}

async fn write_lines(
    app: &App,
    tenant: Tenant,
    exported_at: DateTime<Utc>,
    tx: &mpsc::Sender<Result<String, AppError>>,
) -> Result<(), Stop> {
    let tenant_id = tenant.id.clone();
    let mut counts = ExportCounts::default();
    send(
        tx,
        ExportLine::Tenant(ExportHeader {
            tenant,
            exported_at,
        }),
    )
    .await?;
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .sessions_page(&tenant_id, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last().map(|s| s.id.clone()) else {
            break;
        };
        for session in page {
            // Erased or expired meanwhile: nothing to export.
            let Some(snapshot) = app.store.session_snapshot(&tenant_id, &session.id).await? else {
                continue;
            };
            send(
                tx,
                ExportLine::Session(SessionView::new(&snapshot.session, &snapshot.state)),
            )
            .await?;
            counts.sessions += 1;
            for goal in session_goals(app, &snapshot, false).goals {
                send(
                    tx,
                    ExportLine::Goal(ExportedGoal {
                        session_id: session.id.clone(),
                        goal,
                    }),
                )
                .await?;
                counts.goals += 1;
            }
        }
        after = Some(last);
    }
    for document in app.store.documents(&tenant_id).await? {
        send(tx, ExportLine::Document(document)).await?;
        counts.documents += 1;
    }
    let mut page = 1;
    loop {
        let entries = app
            .store
            .audit_log(&AuditQuery {
                tenant_id: Some(tenant_id.clone()),
                page,
                per_page: PAGE,
                ..Default::default()
            })
            .await?
            .entries;
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            send(tx, ExportLine::AuditEntry(entry.masked_for_listing())).await?;
            counts.audit_entries += 1;
        }
        page += 1;
    }
    send(tx, ExportLine::End(counts)).await
}
