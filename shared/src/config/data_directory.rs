//! The data directory: where it is, and keeping it and what Petraf writes there its owner's alone.

use std::path::{Path, PathBuf};

use super::env::Env;

pub const DEFAULT_DATA_DIR: &str = ".petraf";

pub fn data_dir(env: &dyn Env) -> PathBuf {
    env.get("PETRAF_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// A scratch data directory named `name` under the system's temporary
/// directory (`TMPDIR` on Unix): where `petraf eval` runs when it is not
/// pointed at a deployed tenant.
pub fn scratch_data_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(name)
}

/// What Petraf keeps in its data directory, tightened at start.
const DATA_ENTRIES: [&str; 7] = [
    "state.db",
    "state.db-wal",
    "state.db-shm",
    "jwt-secret",
    "vectors.jsonl",
    "vectors.jsonl.imported",
    "objects",
];

/// Makes the data directory its owner's alone: the directory 0700 and what
/// Petraf keeps in it (directories 0700, files 0600), since a data
/// directory from an earlier version may be world-readable. Nothing else
/// in the directory is touched.
pub fn keep_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |m| std::fs::Permissions::from_mode(m);
        std::fs::set_permissions(dir, mode(0o700))?;
        let mut pending: Vec<PathBuf> = DATA_ENTRIES.iter().map(|e| dir.join(e)).collect();
        while let Some(path) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                std::fs::set_permissions(&path, mode(0o700))?;
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
            } else if meta.is_file() {
                std::fs::set_permissions(&path, mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Writes a new file readable by its owner only (0600); an existing file
/// is kept.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(contents.as_bytes()),
        // Another process (petraf tenant create) wrote it first: keep theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_made_private_and_nothing_else_is_touched() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        std::fs::create_dir_all(dir.join("objects/t1")).unwrap();
        for file in ["state.db", "objects/t1/doc.md", "notes.txt"] {
            std::fs::write(dir.join(file), "x").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        keep_private(&dir).unwrap();
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("objects/t1"), 0o700);
        assert_eq!(mode("state.db"), 0o600);
        assert_eq!(mode("objects/t1/doc.md"), 0o600);
        assert_eq!(mode("notes.txt"), 0o644, "not ours: left alone");
    }
}
