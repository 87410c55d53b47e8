//! Reads documents in an isolated worker process (`extraction::worker`):
//! this executable re-run, or the one `PETRAF_EXTRACT_WORKER` names.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::extraction::worker::{self, WorkerReply};
use crate::extraction::{DocumentFormat, Limits};
use crate::ports::DocumentReader;

pub struct WorkerProcess {
    /// `None`: the running executable.
    program: Option<PathBuf>,
}

impl WorkerProcess {
    pub fn new(program: Option<PathBuf>) -> Self {
        WorkerProcess { program }
    }

    /// Whether this build can be its own worker: it links the parser
    /// engines, or is pointed at an executable that does.
    pub fn can_read(&self) -> bool {
        cfg!(feature = "extraction") || self.program.is_some()
    }
}

#[async_trait]
impl DocumentReader for WorkerProcess {
    fn name(&self) -> &'static str {
        "worker-process"
    }

    async fn read(
        &self,
        format: DocumentFormat,
        bytes: Vec<u8>,
        limits: &Limits,
    ) -> std::io::Result<WorkerReply> {
        let program = worker::worker_program(self.program.as_ref())?;
        worker::extract_isolated(program, format, bytes, limits.clone()).await
    }
}
