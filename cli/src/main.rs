//! `petraf`: run the whole product locally, and manage tenants.

mod eval;
mod serve;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use petraf_core::app::tenants::Admin;
use petraf_core::app::{
    App, admin_keys, data_export, erasure, offboarding, retention, settings, tenants,
};
use petraf_core::config::{self, ProcessEnv};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::tenant::{DocumentLimits, TenantConfig, TenantStatus};

/// Who the audit log names for a change made with this command.
const CLI_ACTOR: &str = "platform_operator (cli)";

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
    /// Show a tenant's settings (limits, document limits, coach retrieval,
    /// threshold, rubrics, prompts, model) as JSON, or change them with a
    /// JSON merge patch (the platform key's rights; a new version, audited).
    Settings {
        tenant_id: String,
        /// A merge patch, e.g. '{"limits": {"monthly_token_budget": 20000000}}';
        /// `-` reads it from standard input.
        #[arg(long)]
        patch: Option<String>,
        /// Only apply it if the settings are still at this version.
        #[arg(long)]
        if_version: Option<u32>,
    },
    /// List a tenant's settings versions, newest first (who, when, what changed).
    SettingsVersions { tenant_id: String },
    /// A tenant's admin keys: list (prefix and dates), create (shown once), revoke.
    Keys {
        tenant_id: String,
        #[command(subcommand)]
        command: KeyCommand,
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
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Prefixes and dates, never the keys.
    List,
    /// A new key, printed once (a tenant holds at most two active keys).
    Create,
    /// Revoke the key with this prefix: it is refused from now on.
    Revoke { prefix: String },
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
        TenantCommand::Settings {
            tenant_id,
            patch,
            if_version,
        } => {
            let shown = match patch {
                None => settings::settings(&app, &Admin::Platform, &tenant_id).await,
                Some(text) => {
                    let text = if text == "-" {
                        std::io::read_to_string(std::io::stdin())?
                    } else {
                        text
                    };
                    let patch: serde_json::Value =
                        serde_json::from_str(&text).context("the patch is not JSON")?;
                    let origin = RequestOrigin::default();
                    let change = settings::SettingsChange {
                        if_match: if_version,
                        ..settings::SettingsChange::by(&Admin::Platform, CLI_ACTOR, &origin)
                    };
                    settings::update(&app, &Admin::Platform, &tenant_id, &patch, change).await
                }
            }
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
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
        TenantCommand::SettingsVersions { tenant_id } => {
            let list = settings::versions(&app, &Admin::Platform, &tenant_id)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            for v in list.versions {
                let paths: Vec<&str> = v.changes.iter().map(|c| c.path.as_str()).collect();
                println!(
                    "v{}\t{}\t{}\t{}",
                    v.version,
                    v.changed_at.to_rfc3339(),
                    v.changed_by,
                    paths.join(", ")
                );
            }
        }
        TenantCommand::Keys { tenant_id, command } => {
            let origin = RequestOrigin::default();
            let platform = Admin::Platform;
            let fail = |e: petraf_core::app::AppError| anyhow::anyhow!("{}: {}", e.code, e.message);
            match command {
                KeyCommand::List => {
                    let list = admin_keys::list(&app, &platform, &tenant_id)
                        .await
                        .map_err(fail)?;
                    for k in list.keys {
                        let state = match k.revoked_at {
                            Some(at) => format!("revoked {}", at.to_rfc3339()),
                            None => "active".into(),
                        };
                        println!(
                            "{}\tcreated {}\t{state}",
                            k.prefix,
                            k.created_at.to_rfc3339()
                        );
                    }
                }
                KeyCommand::Create => {
                    let created = admin_keys::create(&app, &platform, &tenant_id, &origin)
                        .await
                        .map_err(fail)?;
                    println!(
                        "Admin key (shown once; only its hash is kept): {}",
                        created.key
                    );
                }
                KeyCommand::Revoke { prefix } => {
                    let key = admin_keys::revoke(&app, &platform, &tenant_id, &prefix, &origin)
                        .await
                        .map_err(fail)?;
                    println!("{} revoked", key.prefix);
                }
            }
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
