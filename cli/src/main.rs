//! `petraf`: run the whole product locally, and manage tenants.

mod eval;
mod serve;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use petraf_core::app::{
    App, data_export, erasure, ingestion, limits, offboarding, retention, tenants,
};
use petraf_core::config::{self, ProcessEnv};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::tenant::{CoachRetrieval, DocumentLimits, TenantConfig, TenantStatus};

#[derive(Parser)]
#[command(
    name = "petraf",
    version,
    about = "Petraf: the AI goal-setting assistant backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route group on one local server (PETRAF_ADDR, default 127.0.0.1:8080).
    Serve,
    /// Create what the configured stores need (the DynamoDB table, the
    /// pgvector schema); safe to run again.
    Migrate,
    /// Score labelled goal drafts through the chat's scoring path and report
    /// how often the verdicts agree with the labels.
    Eval(eval::EvalArgs),
    /// Print the API's OpenAPI document (the repository's `openapi.json`:
    /// `petraf openapi > openapi.json`).
    Openapi,
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Delete every session past its tenant's retention, with everything
    /// derived from it (`petraf serve` does this hourly); prints the counts.
    RetentionSweep,
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant with the default configuration; prints its admin key once.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        contact_name: Option<String>,
        /// A fixed tenant id (default: a new ULID).
        #[arg(long)]
        id: Option<String>,
        /// Passing score, 0-10.
        #[arg(long)]
        threshold: Option<f64>,
        /// Most documents the tenant may keep (default 200).
        #[arg(long)]
        max_documents: Option<u32>,
        /// Most chunks across the tenant's documents (default 50000).
        #[arg(long)]
        max_chunks: Option<u32>,
        /// Print {"tenant_id", "admin_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List,
    /// Activate or deactivate a tenant.
    SetStatus {
        tenant_id: String,
        status: StatusArg,
    },
    /// Show a tenant's limits, or change those given (audited); prints them as JSON.
    Limits {
        tenant_id: String,
        /// Sessions one client address may create per hour (0: no limit).
        #[arg(long)]
        sessions_per_address_per_hour: Option<u32>,
        /// Chat turns one client address may send per minute (0: no limit).
        #[arg(long)]
        turns_per_address_per_minute: Option<u32>,
        /// Turns a session may take per phase beyond max_collect_turns.
        #[arg(long)]
        extra_turns_per_phase: Option<u32>,
        /// Scored attempts below threshold in a phase after which the
        /// employee may keep their best draft or start over (0: only the cap).
        #[arg(long)]
        keep_best_after_attempts: Option<u32>,
        /// Model tokens per calendar month (UTC), input + output (0: no budget).
        #[arg(long)]
        monthly_token_budget: Option<u64>,
        /// Percent of the budget from which stats and the audit log warn.
        #[arg(long)]
        budget_warning_percent: Option<u8>,
    },
    /// Show what grounds a tenant's coach replies, or choose it (audited).
    CoachRetrieval {
        tenant_id: String,
        /// `ahead`: no model call before the reply (the default);
        /// `per_turn`: the turn's answers are embedded and searched first.
        #[arg(long)]
        set: Option<CoachRetrievalArg>,
    },
    /// Show a tenant's retention (days a session is kept after its last
    /// activity), or set it (30-3650, audited).
    Retention {
        tenant_id: String,
        #[arg(long)]
        set: Option<u32>,
    },
    /// Erase a session, or every session of an employee code, with
    /// everything derived from it (audited `session.erased`).
    Erase {
        tenant_id: String,
        #[arg(
            long,
            conflicts_with = "employee_code",
            required_unless_present = "employee_code"
        )]
        session: Option<String>,
        #[arg(long)]
        employee_code: Option<String>,
    },
    /// Write the tenant's data as newline-delimited JSON to standard output.
    Export { tenant_id: String },
    /// Remove a tenant that leaves and everything it holds (sessions,
    /// documents with their files and vectors, settings, key, counters,
    /// audit log); one `tenant.offboarded` record stays under the
    /// pseudo-tenant `platform`. Safe to run again: an interrupted run
    /// resumes.
    Offboard {
        tenant_id: String,
        /// List what would go, remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Set how much a tenant's document library may hold (unset: unchanged).
    DocumentLimits {
        tenant_id: String,
        #[arg(long)]
        max_documents: Option<u32>,
        #[arg(long)]
        max_chunks: Option<u32>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CoachRetrievalArg {
    Ahead,
    #[value(name = "per_turn")]
    PerTurn,
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusArg {
    Active,
    Inactive,
}

fn main() -> anyhow::Result<()> {
    // Re-run as the isolated document extraction worker, when asked to.
    petraf_core::extraction::worker::run_if_worker();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve => serve::serve().await,
            Command::Migrate => migrate().await,
            Command::Eval(args) => eval::run(args).await,
            Command::Openapi => {
                print!("{}", petraf_core::http::openapi::document_text());
                Ok(())
            }
            Command::Tenant { command } => tenant(command).await,
            Command::RetentionSweep => {
                let app = app().await?;
                let report = petraf_core::app::retention::sweep(&app)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
                println!("{}", serde_json::to_string(&report)?);
                Ok(())
            }
        }
    })
}

async fn app() -> anyhow::Result<App> {
    config::from_env(&ProcessEnv).await.context("configuration")
}

async fn migrate() -> anyhow::Result<()> {
    for line in config::migrate(&ProcessEnv).await.context("migrate")? {
        println!("{line}");
    }
    Ok(())
}

async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    let app = app().await?;
    match command {
        TenantCommand::Create {
            slug,
            name,
            domain,
            admin_email,
            contact_name,
            id,
            threshold,
            max_documents,
            max_chunks,
            json,
        } => {
            let mut config = TenantConfig::defaults();
            if let Some(t) = threshold {
                config.threshold = t;
            }
            config.document_limits = limits_with(config.document_limits, max_documents, max_chunks);
            let new = tenants::NewTenant {
                id,
                slug,
                name,
                domain,
                admin_email,
                contact_name,
                config,
            };
            let created = tenants::create_tenant(&app, new)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let t = &created.record.tenant;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"tenant_id": t.id, "admin_key": created.admin_key})
                );
            } else {
                println!("Created tenant {} ({}) for {}", t.name, t.id, t.domain);
                println!(
                    "Admin key (shown once; only its hash is kept): {}",
                    created.admin_key
                );
            }
        }
        TenantCommand::List => {
            for t in app.store.list_tenants().await? {
                println!("{}\t{}\t{}\t{:?}", t.id, t.slug, t.domain, t.status);
            }
        }
        TenantCommand::SetStatus { tenant_id, status } => {
            let status = match status {
                StatusArg::Active => TenantStatus::Active,
                StatusArg::Inactive => TenantStatus::Inactive,
            };
            let t = tenants::set_status(&app, &tenant_id, status)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{} is now {:?}", t.id, t.status);
        }
        TenantCommand::Limits {
            tenant_id,
            sessions_per_address_per_hour,
            turns_per_address_per_minute,
            extra_turns_per_phase,
            keep_best_after_attempts,
            monthly_token_budget,
            budget_warning_percent,
        } => {
            let mut patch = serde_json::Map::new();
            let mut set = |name: &str, value: Option<serde_json::Value>| {
                if let Some(v) = value {
                    patch.insert(name.to_string(), v);
                }
            };
            set(
                "sessions_per_address_per_hour",
                sessions_per_address_per_hour.map(Into::into),
            );
            set(
                "turns_per_address_per_minute",
                turns_per_address_per_minute.map(Into::into),
            );
            set(
                "extra_turns_per_phase",
                extra_turns_per_phase.map(Into::into),
            );
            set(
                "keep_best_after_attempts",
                keep_best_after_attempts.map(Into::into),
            );
            set("monthly_token_budget", monthly_token_budget.map(Into::into));
            set(
                "budget_warning_percent",
                budget_warning_percent.map(Into::into),
            );
            let limits = if patch.is_empty() {
                limits::limits_of(&app, &tenant_id).await
            } else {
                let origin = petraf_core::domain::audit::RequestOrigin::default();
                let patch = serde_json::Value::Object(patch);
                limits::update_limits(&app, &tenant_id, patch, "platform_operator", &origin).await
            }
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::to_string_pretty(&limits)?);
        }
        TenantCommand::CoachRetrieval { tenant_id, set } => {
            let mode = match set {
                None => tenants::coach_retrieval(&app, &tenant_id).await,
                Some(arg) => {
                    let mode = match arg {
                        CoachRetrievalArg::Ahead => CoachRetrieval::Ahead,
                        CoachRetrievalArg::PerTurn => CoachRetrieval::PerTurn,
                    };
                    let origin = RequestOrigin::default();
                    tenants::set_coach_retrieval(&app, &tenant_id, mode, "system_admin", &origin)
                        .await
                }
            }
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::json!({ "coach_retrieval": mode }));
        }
        TenantCommand::Retention { tenant_id, set } => {
            let days = match set {
                None => retention::retention_days(&app, &tenant_id).await,
                Some(days) => {
                    retention::set_retention_days(
                        &app,
                        &tenant_id,
                        days,
                        "system_admin",
                        &RequestOrigin::default(),
                    )
                    .await
                }
            }
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::json!({ "retention_days": days }));
        }
        TenantCommand::Erase {
            tenant_id,
            session,
            employee_code,
        } => {
            tenants::existing_tenant(&app, &tenant_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let request = erasure::ErasureRequest {
                session_id: session,
                employee_code,
            };
            let report =
                erasure::erase_for_admin(&app, &tenants::Admin::Platform, &tenant_id, request)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        TenantCommand::Offboard { tenant_id, dry_run } => {
            let options = offboarding::OffboardOptions {
                dry_run,
                ..Default::default()
            };
            let report = offboarding::offboard(&app, &tenant_id, options, "platform_operator")
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        TenantCommand::Export { tenant_id } => {
            use std::io::Write;
            let mut lines = data_export::tenant_export(
                &app,
                &tenants::Admin::Platform,
                &tenant_id,
                &RequestOrigin::default(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            let mut out = std::io::stdout().lock();
            while let Some(line) = lines.recv().await {
                let line = line.map_err(|e| anyhow::anyhow!(e.message))?;
                out.write_all(line.as_bytes())?;
            }
            out.flush()?;
        }
        TenantCommand::DocumentLimits {
            tenant_id,
            max_documents,
            max_chunks,
        } => {
            let current = ingestion::document_limits(&app, &tenant_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let limits = limits_with(current, max_documents, max_chunks);
            let set = tenants::set_document_limits(
                &app,
                &tenant_id,
                limits,
                "system_admin",
                &RequestOrigin::default(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!(
                "{tenant_id} may keep {} documents and {} chunks",
                set.max_documents, set.max_chunks
            );
        }
    }
    Ok(())
}

fn limits_with(
    limits: DocumentLimits,
    max_documents: Option<u32>,
    max_chunks: Option<u32>,
) -> DocumentLimits {
    DocumentLimits {
        max_documents: max_documents.unwrap_or(limits.max_documents),
        max_chunks: max_chunks.unwrap_or(limits.max_chunks),
    }
}
