//! The extraction worker for the end-to-end tests: their harness binary
//! cannot re-run itself as a worker, so the test server points here.

fn main() {
    petraf_core::extraction::worker::run_if_worker();
    eprintln!(
        "usage: petraf-extract-worker {} <format> <limits-json>",
        petraf_core::extraction::worker::WORKER_FLAG
    );
    std::process::exit(2);
}
