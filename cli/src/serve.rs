//! `petraf serve`: every route group on one local server, with the limits
//! of `petraf_core::http::server`, stopped gracefully by SIGTERM or Ctrl-C.

use anyhow::Context;
use petraf_core::app::{App, demo, documents, retention, tenants};
use petraf_core::config::{self, ProcessEnv};
use petraf_core::http::server;
use petraf_core::http::web;
use std::net::SocketAddr;

pub async fn serve() -> anyhow::Result<()> {
    petraf_core::telemetry::init();
    keep_new_files_private();
    let limits = config::server_limits(&ProcessEnv).context("configuration")?;
    let app = config::from_env(&ProcessEnv)
        .await
        .context("configuration")?;
    let serve_settings = config::serve_settings(&ProcessEnv);
    let addr = serve_settings.addr;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("PETRAF_ADDR: cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    documents::remove_uncommitted_objects(&app)
        .await
        .map_err(|e| anyhow::anyhow!("sweeping interrupted uploads: {e}"))?;
    let seeded = demo::seed_if_empty(&app)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo tenant: {e}"))?;
    print_banner(&app, local, seeded.as_ref());
    // Expired sessions go within the hour (DynamoDB's TTL deletes them as
    // well; the sweep removes every item of the session at once).
    tokio::spawn(retention::sweep_periodically(
        app.clone(),
        std::time::Duration::from_secs(3600),
    ));
    // The web app's assets beside the API (API routes keep theirs).
    let web = web::WebConfig::local(
        serve_settings
            .web_tenant
            .or_else(|| Some(tenants::DEMO_TENANT_ID.to_string())),
    );
    let router = web::router(web).merge(petraf_core::http::full_api(app.clone()));
    server::serve_router(listener, app, router, limits, stop_requested()).await;
    eprintln!("Petraf stopped.");
    Ok(())
}

/// Files and directories this process creates are its owner's alone
/// (0600/0700): the data directory holds personal data and secrets.
fn keep_new_files_private() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file mode mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop`, systemd and
/// Kubernetes send).
async fn stop_requested() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    eprintln!("Stopping: finishing running requests…");
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
