//! Document readers: a worker process beside the server (`petraf serve`,
//! the extract function itself), or the extract function, invoked by the
//! Lambda functions that leave the parser engines out.

#[cfg(feature = "extract-function")]
pub mod extract_function;
pub mod worker_process;

#[cfg(feature = "extract-function")]
pub use extract_function::ExtractFunction;
pub use worker_process::WorkerProcess;
