//! `petraf eval`: wiring for the eval use case (`petraf_core::app::eval`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use petraf_core::app::{demo, eval};
use petraf_core::config::{self, ProcessEnv};

#[derive(Args)]
pub struct EvalArgs {
    /// A `.jsonl` file of labelled drafts (default: the bundled shared set).
    file: Option<PathBuf>,
    /// Judge each draft this many times, to see how much scores spread.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Print the whole report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Exit with status 1 when agreement falls under this share (0-1), or a
    /// gaming or injection draft passes.
    #[arg(long)]
    min_agreement: Option<f64>,
    /// Evaluate this tenant of the configured stores (its rubrics, prompts,
    /// threshold and documents). Default: the demo tenant in a temporary
    /// data directory, so nothing is written to your data.
    #[arg(long)]
    tenant: Option<String>,
    /// Use the bundled drafts written beside the shared set instead.
    #[arg(long, conflicts_with = "file")]
    own_drafts: bool,
}

pub async fn run(args: EvalArgs) -> anyhow::Result<()> {
    if let Some(floor) = args.min_agreement
        && !(0.0..=1.0).contains(&floor)
    {
        bail!("--min-agreement is a share between 0 and 1, e.g. 0.9");
    }
    if !(1..=20).contains(&args.runs) {
        bail!("--runs must be within 1-20");
    }
    let text = match &args.file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None if args.own_drafts => eval::OWN_DRAFTS.to_string(),
        None => eval::SHARED_DRAFTS.to_string(),
    };
    let cases = eval::parse_cases(&text).map_err(|e| anyhow::anyhow!("the drafts: {e}"))?;

    let scratch_dir;
    let (app, tenant) = match &args.tenant {
        Some(id) => {
            let app = config::from_env(&ProcessEnv)
                .await
                .context("configuration")?;
            let tenant = app
                .store
                .tenant(id)
                .await?
                .with_context(|| format!("no tenant {id}"))?;
            (app, tenant)
        }
        None => {
            scratch_dir = ScratchDir::new()?;
            let app = config::scratch_app(&ProcessEnv, &scratch_dir.0)
                .await
                .context("configuration")?;
            let created = demo::seed_if_empty(&app)
                .await
                .map_err(|e| anyhow::anyhow!("seeding the demo tenant: {e}"))?
                .context("the scratch data directory was not empty")?;
            (app, created.record)
        }
    };

    let report = eval::evaluate(&app, &tenant, &cases, args.runs)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", eval::render_table(&report, args.min_agreement));
    }
    if let Some(floor) = args.min_agreement
        && !report.meets(floor)
    {
        eprintln!(
            "petraf eval: agreement {:.1}% is under the floor {:.1}%, or a gaming/injection draft passed",
            report.agreement.agreement * 100.0,
            floor * 100.0
        );
        std::process::exit(1);
    }
    Ok(())
}

/// A temporary data directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let dir = config::scratch_data_dir(&format!(
            "petraf-eval-{}-{}",
            std::process::id(),
            petraf_core::domain::ids::new_id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
