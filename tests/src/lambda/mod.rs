//! The deployed artifacts under emulation: the bootstraps `sam build`
//! produces (`scripts/lambda/build.sh`) run against a Runtime API emulator
//! on the stand-ins, behind emulated HTTP API and Function URL front doors.
//! Used by the artifacts' end-to-end test and the Lambda benchmark.

pub mod artifacts;
pub mod front_door;
pub mod runtime_api;
pub mod stack;
pub mod template;
pub mod xray_daemon;
