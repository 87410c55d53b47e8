//! Extraction in an isolated worker process.
//!
//! The worker is the same executable re-run with [`WORKER_FLAG`]: the
//! document's bytes arrive on stdin, the outcome leaves as JSON on stdout.
//! The worker caps its own address space and CPU time (setrlimit) before it
//! reads anything and runs the engine on a thread with a large stack; the
//! parent kills it after a wall-clock limit. A stack overflow, an
//! allocation abort or an endless loop in an engine therefore ends only the
//! worker, and becomes a typed [`ExtractFailure`].
//!
//! Every binary that extracts documents calls [`run_if_worker`] first thing
//! in `main`. Where the running executable is not such a binary (a test
//! harness), the settings name one (`PETRAF_EXTRACT_WORKER`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{DocumentFormat, ExtractFailure, Extracted, Limits, engines};

/// The first argument that turns a Petraf binary into an extraction worker.
pub const WORKER_FLAG: &str = "--petraf-extract-worker";
/// Workers running at once in one process; more wait their turn.
const MAX_CONCURRENT_WORKERS: usize = 2;
static WORKER_SLOTS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(MAX_CONCURRENT_WORKERS);

/// What a worker prints.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerReply {
    pub outcome: Result<Extracted, ExtractFailure>,
    /// The worker's peak resident memory.
    pub peak_rss_kib: u64,
}

/// If this process was started as a worker, runs the extraction and exits;
/// otherwise returns at once.
pub fn run_if_worker() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(WORKER_FLAG) {
        return;
    }
    let code = match worker_main(&args[2..]) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("petraf extract worker: {message}");
            2
        }
    };
    std::process::exit(code);
}

fn worker_main(args: &[String]) -> Result<(), String> {
    let [format, limits] = args else {
        return Err(format!("usage: {WORKER_FLAG} <format> <limits-json>"));
    };
    let format = DocumentFormat::parse(format).ok_or("unknown format")?;
    let limits: Limits = serde_json::from_str(limits).map_err(|e| e.to_string())?;
    confine(&limits);
    let mut bytes = vec![];
    std::io::stdin()
        .take(super::MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    let engine_limits = limits.clone();
    let engine = std::thread::Builder::new()
        .name("extract".into())
        .stack_size(limits.stack_bytes)
        .spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                engines::extract(format, &bytes, &engine_limits)
            }))
        });
    let outcome = match engine {
        Err(_) => Err(ExtractFailure::TooLarge(
            "no memory for the extraction thread".into(),
        )),
        Ok(handle) => match handle.join() {
            Ok(Ok(outcome)) => outcome,
            _ => Err(ExtractFailure::Corrupt(
                "its structure broke the reader".into(),
            )),
        },
    };
    let reply = WorkerReply {
        outcome,
        peak_rss_kib: peak_rss_kib(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &reply).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// Caps the worker's address space and CPU time, and turns core dumps off.
#[cfg(unix)]
fn confine(limits: &Limits) {
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit reads a valid rlimit struct; it has no other effect on memory.
        unsafe { libc::setrlimit(resource, &limit) };
    };
    set(libc::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes);
    set(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1);
    set(libc::RLIMIT_CORE, 0, 0);
}

#[cfg(not(unix))]
fn confine(_limits: &Limits) {}

#[cfg(unix)]
fn peak_rss_kib() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss.max(0) as u64
}

#[cfg(not(unix))]
fn peak_rss_kib() -> u64 {
    0
}

/// The executable to run as the worker: the one configured, else the
/// running one.
pub fn worker_program(configured: Option<&PathBuf>) -> std::io::Result<PathBuf> {
    match configured {
        Some(path) => Ok(path.clone()),
        None => std::env::current_exe(),
    }
}

/// Extracts `bytes` in a worker; waits for a free worker slot first. The
/// outer error means the worker could not be run at all (our fault).
pub async fn extract_isolated(
    program: PathBuf,
    format: DocumentFormat,
    bytes: Vec<u8>,
    limits: Limits,
) -> std::io::Result<WorkerReply> {
    let _slot = WORKER_SLOTS
        .acquire()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tokio::task::spawn_blocking(move || run_worker(&program, format, &bytes, &limits))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?
}

/// Runs one worker to completion or to its wall-clock limit.
pub fn run_worker(
    program: &Path,
    format: DocumentFormat,
    bytes: &[u8],
    limits: &Limits,
) -> std::io::Result<WorkerReply> {
    let mut child = Command::new(program)
        .arg(WORKER_FLAG)
        .arg(format.name())
        .arg(serde_json::to_string(limits).map_err(std::io::Error::other)?)
        // Fewer malloc arenas: less address space reserved under RLIMIT_AS.
        .env("MALLOC_ARENA_MAX", "2")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || {
        // A worker that dies early closes the pipe; its status tells why.
        let _ = stdin.write_all(&input);
    });
    let stdout_cap = limits.max_chars as u64 * 8 + (1 << 20);
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || read_capped(stdout, stdout_cap));
    let stderr = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || read_capped(stderr, 64 * 1024));

    let deadline = Instant::now() + Duration::from_millis(limits.wall_millis);
    let mut pause = Duration::from_millis(1);
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (status, false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break (child.wait()?, true);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let _ = writer.join();
    let (stdout, overflow) = reader.join().unwrap_or_default();
    let (stderr, _) = err_reader.join().unwrap_or_default();
    let failure = |f: ExtractFailure| WorkerReply {
        outcome: Err(f),
        peak_rss_kib: 0,
    };
    if timed_out {
        return Ok(failure(ExtractFailure::TooLarge(format!(
            "reading it took longer than {} s",
            limits.wall_millis as f64 / 1000.0
        ))));
    }
    if overflow {
        return Ok(failure(ExtractFailure::TooLarge(
            "it holds more text than the limit".into(),
        )));
    }
    if status.success() {
        return serde_json::from_slice(&stdout).map_err(|e| {
            std::io::Error::other(format!("the extraction worker answered nonsense: {e}"))
        });
    }
    let stderr = String::from_utf8_lossy(&stderr);
    tracing::warn!(%status, stderr = %stderr.chars().take(400).collect::<String>(), "extraction worker died");
    Ok(failure(died(status, &stderr, limits)))
}

fn read_capped(mut from: impl Read, cap: u64) -> (Vec<u8>, bool) {
    let mut out = vec![];
    let _ = (&mut from).take(cap + 1).read_to_end(&mut out);
    let overflow = out.len() as u64 > cap;
    // Drain the rest so the worker never blocks on a full pipe.
    let _ = std::io::copy(&mut from, &mut std::io::sink());
    (out, overflow)
}

/// Why a worker that did not answer died.
#[cfg_attr(not(unix), allow(unused_variables))]
fn died(status: ExitStatus, stderr: &str, limits: &Limits) -> ExtractFailure {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if matches!(status.signal(), Some(libc::SIGXCPU | libc::SIGKILL)) {
            return ExtractFailure::TooLarge(format!(
                "reading it took more than {} s of CPU time",
                limits.cpu_seconds
            ));
        }
    }
    if stderr.contains("memory allocation of") || stderr.contains("capacity overflow") {
        return ExtractFailure::TooLarge(format!(
            "reading it needed more than {} MiB of memory",
            limits.memory_bytes >> 20
        ));
    }
    ExtractFailure::Corrupt("its structure crashed the reader".into())
}
