//! `petraf eval`: wiring for the eval use case (`petraf_core::app::eval`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use petraf_core::app::eval::DraftSet;
use petraf_core::app::tenants::Admin;
use petraf_core::app::{demo, eval, eval_report, settings_preview};
use petraf_core::config::{self, ProcessEnv};
use petraf_core::domain::audit::RequestOrigin;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SetArg {
    /// Every bundled set, then tuning (shared + own) beside held-out.
    All,
    Shared,
    Own,
    HeldOut,
}

#[derive(Args)]
pub struct EvalArgs {
    /// A `.jsonl` file of labelled drafts (default: the bundled sets).
    file: Option<PathBuf>,
    /// Which bundled set: `all` (default; with `--tenant`, when the tenant
    /// has no example drafts) reports shared, own and held-out drafts and
    /// puts tuning (shared + own) beside held-out.
    #[arg(long, value_enum, conflicts_with = "file")]
    set: Option<SetArg>,
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
    /// threshold and documents; without configuration the embedded data
    /// directory `petraf serve` uses). Without a drafts file or `--set`:
    /// its example drafts (`example_drafts` of its settings), when it has
    /// any. Default: the demo tenant in a temporary data directory, so
    /// nothing is written to your data.
    #[arg(long)]
    tenant: Option<String>,
    /// A JSON merge patch of the tenant's settings (a file; `-`: standard
    /// input): its example drafts are judged under the settings in force
    /// and under the patched ones, side by side. Nothing is saved; the
    /// tokens count against the tenant's budget and the run is audited
    /// `tenant.settings_previewed`, as the console's "Try these settings".
    #[arg(long, requires = "tenant", conflicts_with_all = ["file", "set", "own_drafts", "runs"])]
    settings: Option<PathBuf>,
    /// Same as `--set own`.
    #[arg(long, conflicts_with_all = ["file", "set"])]
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
    if let Some(id) = &args.tenant
        && args.file.is_none()
        && args.set.is_none()
        && !args.own_drafts
        && let Some(done) = example_drafts(id, &args).await?
    {
        return done;
    }
    let sets: Vec<(String, String)> = match (&args.file, args.set.unwrap_or(SetArg::All)) {
        (Some(path), _) => vec![(
            path.display().to_string(),
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        )],
        (None, _) if args.own_drafts => vec![bundled(DraftSet::Own)],
        (None, SetArg::Shared) => vec![bundled(DraftSet::Shared)],
        (None, SetArg::Own) => vec![bundled(DraftSet::Own)],
        (None, SetArg::HeldOut) => vec![bundled(DraftSet::HeldOut)],
        (None, SetArg::All) => DraftSet::ALL.into_iter().map(bundled).collect(),
    };
    let mut parsed = vec![];
    for (name, text) in &sets {
        let cases =
            eval::parse_cases(text).map_err(|e| anyhow::anyhow!("the drafts ({name}): {e}"))?;
        parsed.push((name.clone(), cases));
    }

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

    let mut reports = vec![];
    for (name, cases) in &parsed {
        let report = eval::evaluate(&app, &tenant, cases, args.runs)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
        if !args.json {
            if parsed.len() > 1 {
                println!("== {name}");
            }
            print!("{}", eval_report::render_table(&report, args.min_agreement));
            println!();
        }
        reports.push((name.clone(), report));
    }
    // Tuning (shared + own) beside held-out, when every bundled set ran.
    let comparison = (parsed.len() == DraftSet::ALL.len()).then(|| {
        let tuning = eval::combined(
            &tenant,
            &[
                (&parsed[0].1[..], &reports[0].1),
                (&parsed[1].1[..], &reports[1].1),
            ],
        );
        (
            tuning,
            reports[2].1.summary.clone(),
            reports[0].1.summary.clone(),
        )
    });
    if args.json {
        let sets: serde_json::Map<String, serde_json::Value> = reports
            .iter()
            .map(|(n, r)| Ok((n.clone(), serde_json::to_value(r)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let mut out = serde_json::json!({ "sets": sets });
        if let Some((tuning, held_out, _)) = &comparison {
            out["tuning"] = serde_json::to_value(tuning)?;
            out["held_out"] = serde_json::to_value(held_out)?;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if let Some((tuning, held_out, shared)) = &comparison {
        println!("== tuning (shared + own) beside held-out (never tuned on)");
        print!(
            "{}",
            eval_report::render_comparison(&[
                ("shared", shared),
                ("tuning", tuning),
                ("held-out", held_out),
            ])
        );
    }
    if let Some(floor) = args.min_agreement {
        let under: Vec<String> = reports
            .iter()
            .filter(|(_, r)| !r.meets(floor))
            .map(|(n, r)| format!("{n} {:.1}%", r.summary.agreement.agreement * 100.0))
            .collect();
        if !under.is_empty() {
            eprintln!(
                "petraf eval: under the floor {:.1}%, or a gaming/injection draft passed: {}",
                floor * 100.0,
                under.join(", ")
            );
            std::process::exit(1);
        }
    }
    Ok(())
}

/// The tenant's example drafts under its settings (and, with
/// `--settings`, beside the patched ones); `None` when it has no example
/// drafts and no patch: the bundled sets are scored instead.
async fn example_drafts(
    tenant_id: &str,
    args: &EvalArgs,
) -> anyhow::Result<Option<anyhow::Result<()>>> {
    let patch: serde_json::Value = match &args.settings {
        None => serde_json::json!({}),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("reading the patch")?
            } else {
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
            };
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?
        }
    };
    let app = config::from_env(&ProcessEnv)
        .await
        .context("configuration")?;
    let record = app
        .store
        .tenant(tenant_id)
        .await?
        .with_context(|| format!("no tenant {tenant_id}"))?;
    if record.config.example_drafts.is_empty() && args.settings.is_none() {
        eprintln!(
            "petraf eval: tenant {tenant_id} has no example drafts (example_drafts in its \
             settings): scoring the bundled drafts on its settings"
        );
        return Ok(None);
    }
    let preview = settings_preview::preview(
        &app,
        &Admin::Platform,
        tenant_id,
        &patch,
        "platform_operator (cli eval)",
        &RequestOrigin::default(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&preview)?);
    } else {
        print!(
            "{}",
            eval_report::render_preview(&preview, args.settings.is_some())
        );
    }
    let s = &preview.summary;
    if let Some(floor) = args.min_agreement
        && s.labelled > 0
    {
        let agreeing = if args.settings.is_some() {
            s.proposed_agreeing
        } else {
            s.current_agreeing
        };
        let share = agreeing as f64 / s.labelled as f64;
        if share < floor {
            eprintln!(
                "petraf eval: agreement with the expected verdicts {:.1}% is under the floor {:.1}%",
                share * 100.0,
                floor * 100.0
            );
            std::process::exit(1);
        }
    }
    Ok(Some(Ok(())))
}

fn bundled(set: DraftSet) -> (String, String) {
    (set.name().to_string(), set.text().to_string())
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
