//! The `petraf` command as a user runs it: `serve` on the embedded default,
//! and `tenant create` on the same data directory while it runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Served {
    child: Child,
    base: String,
    stderr_lines: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn petraf(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_petraf"));
    cmd.env("PETRAF_DATA_DIR", data_dir)
        .env_remove("PETRAF_JWT_SECRET")
        .env_remove("PETRAF_STATE_STORE");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `petraf serve` and reads its banner until it says where it listens.
fn serve(data_dir: &std::path::Path) -> Served {
    let port = free_port();
    let mut child = petraf(data_dir)
        .arg("serve")
        .env("PETRAF_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("petraf serve starts");
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut lines = vec![];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
            panic!("petraf serve stopped before printing its banner: {lines:?}");
        }
        lines.push(line.trim_end().to_string());
        if line.contains("README walks through") {
            break;
        }
    }
    // Keep draining so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Served {
        child,
        base: format!("http://127.0.0.1:{port}"),
        stderr_lines: lines,
    }
}

fn http(method: &str, url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // reqwest's rustls has no crypto provider of its own (petraf-core's features).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap(), url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        (resp.status().as_u16(), resp.text().await.unwrap())
    })
}

#[test]
fn serve_seeds_the_demo_tenant_once_and_tenant_create_works_alongside() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let banner = served.stderr_lines.join("\n");
    assert!(banner.contains(
        "created the demo tenant Sunrise Corporation (550e8400-e29b-41d4-a716-446655440000)"
    ));
    let key_line = served
        .stderr_lines
        .iter()
        .find(|l| l.contains("admin key"))
        .expect("the admin key is printed");
    let demo_key = key_line.rsplit(' ').next().unwrap().to_string();
    assert!(demo_key.starts_with("admin_sk_sunrise_"));
    assert!(banner.contains(&format!("curl -s {}/api/health", served.base)));

    let (status, body) = http("GET", &format!("{}/api/health", served.base), &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"state_store\":\"embedded-sqlite\""));
    let (status, _) = http(
        "GET",
        &format!("{}/api/admin/stats/overview", served.base),
        &[("X-Admin-Key", &demo_key)],
    );
    assert_eq!(status, 200, "the printed key works");

    // A second tenant, created by another process on the same data directory.
    let out = petraf(dir.path())
        .args([
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Acme Inc",
            "--domain",
            "acme.petraf.com",
        ])
        .args(["--admin-email", "hr@acme.com", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tenant_id = created["tenant_id"].as_str().unwrap();
    let admin_key = created["admin_key"].as_str().unwrap();
    assert!(admin_key.starts_with("admin_sk_acme_"));
    let (status, body) = http(
        "POST",
        &format!("{}/api/session/create", served.base),
        &[("Host", "acme.petraf.com")],
    );
    assert_eq!(
        status, 201,
        "the running server sees the new tenant at once: {body}"
    );
    let (status, body) = http(
        "GET",
        &format!("{}/api/admin/audit-logs", served.base),
        &[("X-Admin-Key", admin_key)],
    );
    assert_eq!(status, 200);
    assert!(body.contains("tenant.created") && body.contains(tenant_id));

    // Bad input to the command fails with a message and creates nothing.
    let out = petraf(dir.path())
        .args([
            "tenant",
            "create",
            "--slug",
            "Bad Slug",
            "--name",
            "X",
            "--domain",
            "x.com",
            "--admin-email",
            "a@b.co",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("slug"));
    let out = petraf(dir.path())
        .args([
            "tenant",
            "create",
            "--slug",
            "acme",
            "--name",
            "Again",
            "--domain",
            "other.com",
            "--admin-email",
            "a@b.co",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a taken slug is refused");

    // Deactivation is seen by the running server.
    let out = petraf(dir.path())
        .args(["tenant", "set-status", tenant_id, "inactive"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (status, _) = http(
        "POST",
        &format!("{}/api/session/create", served.base),
        &[("X-Tenant-ID", tenant_id)],
    );
    assert_eq!(status, 403);
    drop(served);

    // A restart keeps everything and seeds nothing.
    let served = serve(dir.path());
    assert!(
        served
            .stderr_lines
            .iter()
            .any(|l| l.contains("kept from earlier runs"))
    );
    let (status, _) = http(
        "GET",
        &format!("{}/api/admin/stats/overview", served.base),
        &[("X-Admin-Key", &demo_key)],
    );
    assert_eq!(status, 200, "keys and the JWT secret survive restarts");
    let list = petraf(dir.path())
        .args(["tenant", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("sunrise-corp") && listed.contains("acme"));
}

#[test]
fn a_misconfiguration_fails_at_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = petraf(dir.path())
        .arg("serve")
        .env("PETRAF_STATE_STORE", "mongodb")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PETRAF_STATE_STORE"));
}

/// Every file under `dir` is its owner's alone (0600, directories 0700).
#[cfg(unix)]
fn shared_with_others(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut open = vec![];
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode();
            if mode & 0o077 != 0 {
                open.push(format!("{} {:o}", entry.path().display(), mode & 0o777));
            }
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            }
        }
    }
    open
}

#[cfg(unix)]
#[test]
fn sigterm_stops_serve_cleanly_and_the_data_stays_private() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let mut served = serve(&dir);
    let (status, _) = http("GET", &format!("{}/api/health", served.base), &[]);
    assert_eq!(status, 200);
    let open = shared_with_others(&dir);
    assert!(open.is_empty(), "readable by others: {open:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the data directory itself");

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean exit: {status:?}");
}
