//! What a cold start spends on the AWS SDK's trust roots: the system store
//! (read as the SDK's rustls client reads it, `rustls-native-certs`, then
//! parsed into trust anchors) against the five Amazon Trust Services roots
//! the functions now trust (`adapters::tls`). Both are built once per
//! process, before its first AWS call.
//!
//! Run: `cargo bench --workspace --all-features --bench trust_roots`
//! (`SSL_CERT_FILE` unset reads the platform's file and directory, as a
//! process with no such variable does; set, only that bundle).

use std::time::{Duration, Instant};

use petraf_core::adapters::tls::AMAZON_TRUST_SERVICES_ROOTS;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

const ROUNDS: usize = 50;

fn system_roots() -> (usize, RootCertStore) {
    let loaded = rustls_native_certs::load_native_certs();
    let read = loaded.certs.len();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(loaded.certs);
    (read, roots)
}

fn amazon_roots() -> (usize, RootCertStore) {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
            .collect::<Result<_, _>>()
            .expect("PEM");
    let read = certificates.len();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certificates);
    (read, roots)
}

fn median(build: fn() -> (usize, RootCertStore)) -> (usize, usize, Duration) {
    let mut times = Vec::with_capacity(ROUNDS);
    let mut counts = (0, 0);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let (read, roots) = build();
        times.push(started.elapsed());
        counts = (read, roots.len());
    }
    times.sort();
    (counts.0, counts.1, times[ROUNDS / 2])
}

fn main() {
    println!(
        "SSL_CERT_FILE={:?} SSL_CERT_DIR={:?}, median of {ROUNDS} builds\n",
        std::env::var("SSL_CERT_FILE").ok(),
        std::env::var("SSL_CERT_DIR").ok()
    );
    println!("| trust store | certificates read | trust anchors | time to build |");
    println!("|---|---:|---:|---:|");
    for (name, build) in [
        ("system (rustls-native-certs)", system_roots as fn() -> _),
        ("Amazon Trust Services roots", amazon_roots),
    ] {
        let (read, anchors, time) = median(build);
        println!(
            "| {name} | {read} | {anchors} | {:.2} ms |",
            time.as_secs_f64() * 1000.0
        );
    }
}
