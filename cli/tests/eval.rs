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

/// `petraf` on the embedded store in `data_dir`, as `petraf serve` uses it.
fn petraf_in(data_dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_petraf"))
        .args(args)
        .env("PETRAF_DATA_DIR", data_dir)
        .env_remove("PETRAF_MODEL_PROVIDER")
        .env_remove("PETRAF_STATE_STORE")
        .env_remove("PETRAF_VECTOR_STORE")
        .env_remove("PETRAF_DOCUMENT_BUCKET")
        .env_remove("PETRAF_JWT_SECRET")
        .output()
        .expect("run petraf")
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn a_tenants_example_drafts_are_scored_under_its_settings_and_a_proposed_patch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&petraf_in(
        &data,
        &[
            "tenant",
            "create",
            "--id",
            "acme",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--domain",
            "acme.example.com",
            "--admin-email",
            "hr@acme.example.com",
        ],
    ));
    // No example drafts: the bundled drafts are scored on its settings.
    let bundled = petraf_in(&data, &["eval", "--tenant", "acme", "--set", "shared"]);
    assert!(ok(&bundled).contains("g4_future-15"));
    let patch = serde_json::json!({"example_drafts": [
        {"phase": "g4_future", "expect": "pass", "goal": "Within 24 months, become a Senior Engineer (L5): technically lead 2 payment-platform projects end to end, mentor 2 junior developers to independent delivery, and own the system design of our distributed services."},
        {"phase": "g4_future", "expect": "fail", "goal": "I want to grow a lot and become better at my job in the future."}
    ]});
    ok(&petraf_in(
        &data,
        &["tenant", "settings", "acme", "--patch", &patch.to_string()],
    ));

    let current = ok(&petraf_in(&data, &["eval", "--tenant", "acme"]));
    assert!(
        current.contains("2 example draft(s) of tenant acme"),
        "{current}"
    );
    assert!(
        current.contains("agreement with the expected verdicts: 2/2"),
        "{current}"
    );
    assert!(!current.contains("proposed"), "{current}");

    let stricter = dir.path().join("stricter.json");
    std::fs::write(&stricter, r#"{"threshold": 9.9}"#).unwrap();
    let compared = ok(&petraf_in(
        &data,
        &[
            "eval",
            "--tenant",
            "acme",
            "--settings",
            stricter.to_str().unwrap(),
        ],
    ));
    assert!(
        compared.contains("beside the proposed (gpt-4o-mini; threshold)"),
        "{compared}"
    );
    let strong = compared.lines().find(|l| l.starts_with("0 ")).unwrap();
    let words = strong.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.starts_with("0 g4_future pass ")
            && words.contains(" pass ")
            && words.contains(" fail * "),
        "{strong}"
    );
    assert!(
        compared.contains("verdicts changed: 1 (0 newly passing, 1 newly failing)"),
        "{compared}"
    );
    assert!(compared.contains("current 2/2, proposed 1/2"), "{compared}");
    // A floor on the proposed settings' agreement: 1/2 is under 0.9.
    let floored = petraf_in(
        &data,
        &[
            "eval",
            "--tenant",
            "acme",
            "--settings",
            stricter.to_str().unwrap(),
            "--min-agreement",
            "0.9",
        ],
    );
    assert_eq!(floored.status.code(), Some(1));

    // Nothing was saved; an invalid patch is refused as the API refuses it.
    let shown = ok(&petraf_in(&data, &["tenant", "settings", "acme"]));
    let settings: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(settings["version"], 2, "{shown}");
    assert_eq!(settings["settings"]["threshold"], 7.0);
    std::fs::write(&stricter, r#"{"threshold": 11}"#).unwrap();
    let refused = petraf_in(
        &data,
        &[
            "eval",
            "--tenant",
            "acme",
            "--settings",
            stricter.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("invalid_settings"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let without_tenant = petraf_in(&data, &["eval", "--settings", "x.json"]);
    assert!(
        !without_tenant.status.success(),
        "--settings needs --tenant"
    );
}
