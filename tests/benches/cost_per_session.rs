//! What AWS bills for 1,000 completed sessions: N sessions of Sarah's
//! journey walked through the stand-ins (moto, PostgreSQL), everything
//! billed counted, priced at shared/src/domain/cost/prices.rs.
//!
//!   eval "$(scripts/standins/moto.sh start)"; eval "$(scripts/standins/postgres.sh start)"
//!   cargo bench --workspace --all-features --locked --profile dev --bench cost_per_session -- --sessions 20
//!
//! Not run by CI (tests/cost_per_session.rs walks one session there).

use petraf_tests::cost::{Bench, report, standins_from_env};

fn sessions_from_args() -> Result<u64, String> {
    let mut sessions = 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sessions" => {
                sessions = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--sessions takes a positive number")?;
            }
            // What `cargo bench` passes to every bench binary.
            "--bench" => {}
            other => return Err(format!("unknown argument {other} (usage: --sessions N)")),
        }
    }
    Ok(sessions)
}

#[tokio::main]
async fn main() {
    let sessions = match sessions_from_args() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let standins = match standins_from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let mut bench = Bench::start(&standins).await;
    let documents = bench.upload_documents().await as u64;
    let uploads = bench.take();
    for n in 0..sessions {
        bench.session(n as usize).await;
    }
    let walked = bench.take();
    println!("{}", report::render(sessions, &walked, documents, &uploads));
}
