//! The built functions (`cargo lambda build`'s `lambda/<name>/bootstrap`)
//! and how to run them here: natively, or under qemu-user when they are
//! built for another architecture (arm64 on an x86_64 machine).

use std::path::{Path, PathBuf};

/// Where `scripts/lambda/build.sh` leaves the bootstraps:
/// `PETRAF_LAMBDA_ARTIFACTS`, else `$CARGO_TARGET_DIR/lambda`, else the
/// workspace's `target/lambda`.
pub fn artifacts_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PETRAF_LAMBDA_ARTIFACTS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("lambda")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    fn of_this_host() -> Machine {
        if cfg!(target_arch = "aarch64") {
            Machine::Aarch64
        } else {
            Machine::X86_64
        }
    }

    pub fn lambda_name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "arm64",
        }
    }
}

/// One function's bootstrap.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub bootstrap: PathBuf,
    pub machine: Machine,
}

impl Artifact {
    /// The bootstrap of binary `name`, if built.
    pub fn find(name: &str) -> Option<Artifact> {
        let bootstrap = artifacts_dir().join(name).join("bootstrap");
        let header = std::fs::read(&bootstrap).ok()?;
        // ELF e_machine, little endian, at byte 18.
        let machine = match header.get(18..20)? {
            [0x3e, 0] => Machine::X86_64,
            [0xb7, 0] => Machine::Aarch64,
            other => panic!(
                "{}: not an x86_64 or aarch64 ELF ({other:?})",
                bootstrap.display()
            ),
        };
        Some(Artifact { bootstrap, machine })
    }

    pub fn dir(&self) -> &Path {
        self.bootstrap.parent().expect("lambda/<name>/bootstrap")
    }

    pub fn emulated(&self) -> bool {
        self.machine != Machine::of_this_host()
    }

    /// The program and arguments that run this bootstrap here.
    pub fn argv(&self) -> Vec<String> {
        let bootstrap = self.bootstrap.display().to_string();
        if !self.emulated() {
            return vec![bootstrap];
        }
        assert_eq!(
            self.machine,
            Machine::Aarch64,
            "only arm64 artifacts are emulated"
        );
        // qemu-user with the Debian arm64 cross libraries as the sysroot
        // (apt-get install qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross).
        let qemu =
            std::env::var("PETRAF_QEMU_AARCH64").unwrap_or_else(|_| "qemu-aarch64-static".into());
        let sysroot = std::env::var("PETRAF_QEMU_SYSROOT")
            .unwrap_or_else(|_| "/usr/aarch64-linux-gnu".into());
        vec![qemu, "-L".into(), sysroot, bootstrap]
    }

    pub fn command(&self) -> std::process::Command {
        let argv = self.argv();
        let mut command = std::process::Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }

    /// The document extraction worker re-runs the function's own
    /// executable; under emulation that needs qemu in front, so this writes
    /// a wrapper for `PETRAF_EXTRACT_WORKER`. None when run natively.
    pub fn extract_worker_wrapper(&self, dir: &Path) -> Option<PathBuf> {
        if !self.emulated() {
            return None;
        }
        let name = self
            .dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let wrapper = dir.join(format!("{name}-extract-worker.sh"));
        let quoted: Vec<String> = self.argv().iter().map(|a| format!("'{a}'")).collect();
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec {} \"$@\"\n", quoted.join(" ")),
        )
        .expect("write the worker wrapper");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Some(wrapper)
    }
}
