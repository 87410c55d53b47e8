//! Reading an exported PDF back as a person's PDF reader would, for the
//! tests of this crate and of the end-to-end suite (feature `conformance`).

use std::sync::atomic::{AtomicU32, Ordering};

/// The text poppler's `pdftotext` reads from a PDF; `None` (the test is
/// skipped) where poppler-utils is not installed.
pub fn pdftotext(pdf: &[u8]) -> Option<String> {
    if std::process::Command::new("pdftotext")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: pdftotext is not installed (apt-get install poppler-utils)");
        return None;
    }
    assert!(
        std::path::Path::new("/usr/share/poppler/cMap/Adobe-GB1").exists(),
        "pdftotext reads the predefined CJK fonts with poppler-data: apt-get install poppler-data"
    );
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "petraf-export-{}-{}.pdf",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}
