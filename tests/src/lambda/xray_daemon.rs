//! The X-Ray daemon Lambda runs beside a traced function, as a stand-in:
//! it receives the subsegments the functions send (UDP, a JSON header line
//! then the document) and keeps them for the tests to read. With the trace
//! headers the Runtime API emulator issues, each subsegment can be traced
//! back to the invocation that sent it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// An invocation's trace as the emulator issued it to a function.
#[derive(Debug, Clone)]
pub struct IssuedTrace {
    pub function: String,
    pub root: String,
    pub parent: String,
}

pub struct XrayDaemon {
    pub address: SocketAddr,
    documents: Arc<Mutex<Vec<Value>>>,
    issued: Mutex<Vec<IssuedTrace>>,
}

impl XrayDaemon {
    /// The one daemon of this test process, listening from first use.
    pub fn shared() -> &'static XrayDaemon {
        static DAEMON: OnceLock<XrayDaemon> = OnceLock::new();
        DAEMON.get_or_init(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the X-Ray daemon");
            let address = socket.local_addr().unwrap();
            let documents = Arc::new(Mutex::new(vec![]));
            let received = documents.clone();
            std::thread::spawn(move || {
                let mut buffer = vec![0u8; 65536];
                while let Ok(n) = socket.recv(&mut buffer) {
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    // `{"format": "json", "version": 1}` then the document.
                    let document = text
                        .split_once('\n')
                        .filter(|(header, _)| header.contains("\"format\": \"json\""))
                        .and_then(|(_, body)| serde_json::from_str(body).ok());
                    received
                        .lock()
                        .unwrap()
                        .push(document.unwrap_or(Value::Null));
                }
            });
            XrayDaemon {
                address,
                documents,
                issued: Mutex::new(vec![]),
            }
        })
    }

    /// A sampled trace header for an invocation of `function`, remembered.
    pub fn issue(&self, function: &str) -> String {
        static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        // Unique is all a trace id must be: the clock, and a count for
        // invocations within one nanosecond.
        let nanos = now.as_nanos() as u64;
        let trace = IssuedTrace {
            function: function.to_string(),
            root: format!("1-{:08x}-{:08x}{nanos:016x}", now.as_secs(), n as u32),
            parent: format!("{:016x}", nanos.wrapping_add(n)),
        };
        let header = format!("Root={};Parent={};Sampled=1", trace.root, trace.parent);
        self.issued.lock().unwrap().push(trace);
        header
    }

    /// Every document received so far (`null` for a datagram that was none).
    pub fn documents(&self) -> Vec<Value> {
        self.documents.lock().unwrap().clone()
    }

    pub fn issued(&self) -> Vec<IssuedTrace> {
        self.issued.lock().unwrap().clone()
    }
}
