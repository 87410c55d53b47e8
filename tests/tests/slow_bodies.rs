//! Slow request bodies over raw sockets: a body must arrive whole within
//! its deadline and at a minimum rate however steadily it trickles, and one
//! address holds only its share of the connections, so `/api/health`
//! answers other clients while an address runs a slow-body attack. The
//! attacker speaks from 127.0.0.2 (all of 127.0.0.0/8 is loopback).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use petraf_core::app::Settings;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config::ServerLimits;
use petraf_tests::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const ATTACKER: &str = "127.0.0.2";
const CLIENT: &str = "127.0.0.1";

async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{source}:0").parse().unwrap())
        .expect("bind a loopback source address");
    socket.connect(server).await.expect("connect")
}

/// Sends a create request announcing a 1000-byte body, then one byte of it
/// every `every` until the server closes (or `give_up` passes). How long
/// the connection lived after the head, and whether the server closed it.
async fn dribble(
    mut socket: TcpStream,
    tenant: &str,
    every: Duration,
    give_up: Duration,
) -> (Duration, bool) {
    let head = format!(
        "POST /api/session/create HTTP/1.1\r\nhost: localhost\r\nx-tenant-id: {tenant}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut read, mut write) = socket.into_split();
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if write.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    // An orderly close or a reset: either way the server let go.
    let closed = tokio::time::timeout(give_up, read.read_to_end(&mut answer))
        .await
        .is_ok();
    writer.abort();
    (started.elapsed(), closed)
}

/// A raw request from `source`: the status code and the body, or `None` if
/// the connection closed without an answer.
async fn raw(source: &str, server: SocketAddr, request: &str) -> Option<(u16, String)> {
    let mut socket = connect_from(source, server).await;
    socket.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

async fn health(source: &str, server: SocketAddr) -> Option<u16> {
    let request = "GET /api/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    raw(source, server, request).await.map(|(status, _)| status)
}

#[tokio::test]
async fn a_slow_body_attack_from_one_address_is_cut_and_health_answers_meanwhile() {
    let deadline = Duration::from_secs(2);
    let limits = ServerLimits {
        max_connections: 8,
        max_connections_per_address: 4,
        body_deadline: deadline,
        // The deadline alone must cut them: bytes keep coming every 250 ms,
        // well within the per-piece timeout, and no minimum rate applies.
        body_min_rate: 0,
        ..ServerLimits::default()
    };
    let server = TestServer::embedded_with(Settings::default(), limits).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let addr = server.addr();

    // Ten slow bodies from one address, more than the whole cap: four are
    // served (its share), the rest refused at once.
    let mut attacks = vec![];
    let mut refused = 0;
    for _ in 0..10 {
        let socket = connect_from(ATTACKER, addr).await;
        let tenant = tenant.clone();
        attacks.push(tokio::spawn(async move {
            dribble(
                socket,
                &tenant,
                Duration::from_millis(250),
                Duration::from_secs(10),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = connect_from(ATTACKER, addr).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), extra.read_to_end(&mut answer))
        .await
        .expect("a connection over the address's share is answered at once")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");

    // Meanwhile another client is served.
    for _ in 0..3 {
        assert_eq!(
            health(CLIENT, addr).await,
            Some(200),
            "health answers during the attack"
        );
    }

    for attack in attacks {
        let (lived, closed) = attack.await.unwrap();
        assert!(closed, "a slow body keeps its connection open");
        if lived > Duration::from_millis(500) {
            assert!(
                lived < deadline + Duration::from_millis(1500),
                "cut after {lived:?}, the deadline is {deadline:?}"
            );
            assert!(lived >= deadline - Duration::from_millis(300), "{lived:?}");
        } else {
            refused += 1;
        }
    }
    assert_eq!(refused, 6, "one address holds four connections");

    // The attacker's slots are free again, and a body sent at once is served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(health(ATTACKER, addr).await, Some(200));
    let body = r#"{"metadata":{"source":"raw"}}"#;
    let create = format!(
        "POST /api/session/create HTTP/1.1\r\nhost: localhost\r\nx-tenant-id: {tenant}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = raw(ATTACKER, addr, &create).await.expect("an answer");
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn a_body_below_the_minimum_rate_is_cut_after_the_grace() {
    let limits = ServerLimits {
        body_min_rate: 1024,
        ..ServerLimits::default()
    };
    let server = TestServer::embedded_with(Settings::default(), limits).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let socket = connect_from(ATTACKER, server.addr()).await;
    // Four bytes a second: never idle for the per-piece timeout, and far
    // from the two-minute deadline, but under 1 KiB/s.
    let (lived, closed) = dribble(
        socket,
        &tenant,
        Duration::from_millis(250),
        Duration::from_secs(15),
    )
    .await;
    assert!(closed, "a body under the minimum rate keeps its connection");
    let grace = petraf_core::http::server::BODY_RATE_GRACE;
    assert!(
        lived >= grace - Duration::from_millis(300) && lived < grace + Duration::from_secs(2),
        "cut after {lived:?}; the rate applies after {grace:?}"
    );
}
