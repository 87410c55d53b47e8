//! `petraf eval` as a deployer runs it: on the embedded default, with a floor.

use std::process::{Command, Output};

fn petraf_eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_petraf"))
        .arg("eval")
        .args(args)
        .env_remove("PETRAF_MODEL_PROVIDER")
        .env_remove("PETRAF_STATE_STORE")
        .env_remove("PETRAF_VECTOR_STORE")
        .env_remove("PETRAF_DOCUMENT_BUCKET")
        .output()
        .expect("run petraf eval")
}

#[test]
fn the_shared_set_clears_the_floor_on_the_offline_model() {
    let out = petraf_eval(&["--set", "shared", "--min-agreement", "0.9"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(table.contains("g4_future-15"), "{table}");
    assert!(table.contains("let through: none"), "{table}");
}

#[test]
fn json_output_and_a_missed_floor_exit_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drafts.jsonl");
    // One draft labelled against the scorer's verdict: agreement 0 of 1.
    std::fs::write(
        &file,
        r#"{"id":"x","phase":"g4_future","goal":"I want to do better.","expect":"pass","kind":"normal"}"#,
    )
    .unwrap();
    let out = petraf_eval(&[file.to_str().unwrap(), "--json", "--min-agreement", "0.5"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    // One report per set, named by the file.
    let set = &report["sets"][file.to_str().unwrap()];
    assert_eq!(set["agreement"]["agreed"], 0);
    assert_eq!(set["results"][0]["id"], "x");

    let out = petraf_eval(&["--min-agreement", "90"]);
    assert_eq!(out.status.code(), Some(1), "a floor outside 0-1 is refused");
    let out = petraf_eval(&[dir.path().join("missing.jsonl").to_str().unwrap()]);
    assert!(!out.status.success());
}
