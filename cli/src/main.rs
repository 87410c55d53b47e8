//! `petraf`: run the whole product locally, and manage tenants.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use petraf_core::app::{App, demo, tenants};
use petraf_core::config::{self, DEFAULT_ADDR, ProcessEnv};
use petraf_core::domain::tenant::{TenantConfig, TenantStatus};
use petraf_core::http::web;

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
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
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
}

#[derive(Clone, Copy, ValueEnum)]
enum StatusArg {
    Active,
    Inactive,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve => serve().await,
            Command::Migrate => migrate().await,
            Command::Tenant { command } => tenant(command).await,
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

async fn serve() -> anyhow::Result<()> {
    petraf_core::telemetry::init();
    let app = app().await?;
    let addr = std::env::var("PETRAF_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("PETRAF_ADDR: cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let seeded = demo::seed_if_empty(&app)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo tenant: {e}"))?;
    print_banner(&app, local, seeded.as_ref());
    let web = web::WebConfig::local(Some(tenants::DEMO_TENANT_ID));
    let router = web::router(web).merge(petraf_core::http::full_api(app));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn print_banner(app: &App, addr: SocketAddr, seeded: Option<&tenants::CreatedTenant>) {
    let data_dir = config::data_dir(&ProcessEnv);
    eprintln!();
    eprintln!(
        "Petraf {} is listening on http://{addr}",
        app.settings.version
    );
    eprintln!(
        "  adapters: state={} vectors={} objects={} model={} embedder={}",
        app.store.name(),
        app.vectors.name(),
        app.objects.name(),
        app.model.provider(),
        app.embedder.name()
    );
    eprintln!("  data directory: {}", data_dir.display());
    match seeded {
        Some(created) => {
            let t = &created.record.tenant;
            eprintln!(
                "  created the demo tenant {} ({}) with three documents",
                t.name, t.id
            );
            eprintln!(
                "  its admin key (shown once, keep it): {}",
                created.admin_key
            );
        }
        None => eprintln!("  tenants: kept from earlier runs (petraf tenant list)"),
    }
    eprintln!();
    eprintln!("Try it:");
    eprintln!("  curl -s http://{addr}/api/health");
    eprintln!(
        "  curl -s -X POST http://{addr}/api/session/create -H 'X-Tenant-ID: {}'",
        seeded
            .map(|c| c.record.tenant.id.as_str())
            .unwrap_or(tenants::DEMO_TENANT_ID)
    );
    eprintln!("The README walks through a whole session.");
    eprintln!();
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
            json,
        } => {
            let mut config = TenantConfig::defaults();
            if let Some(t) = threshold {
                config.threshold = t;
            }
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
    }
    Ok(())
}
