//! The query parser of every agent route is total: arbitrary query strings (multi-byte
//! characters, stray `%`, repeated and unknown keys, huge numbers) sent as raw request
//! lines get 200 or a 4xx in the JSON error shape — never a 5xx, a panic or a dropped
//! connection (issue 14, class 4).

use crate::support::*;
use procpulse_agent::SourceMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deterministic xorshift, so a failure names a reproducible case.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "top",
    "sort",
    "n",
    "=",
    "&",
    "cpu",
    "rss",
    "%",
    "%C3%A9",
    "%C3",
    "%ZZ",
    "%00",
    "é",
    "+",
    "-1",
    "0",
    "1",
    "50",
    "100001",
    "18446744073709551616",
    "9999999999999999999999",
    "top=",
    "sort=",
    "=&",
    "&&",
    "%26",
    "%3D",
    "x",
    "Rss",
    "CPU",
    "\u{1F600}",
    ";",
    "[]",
];

fn query(rng: &mut Rng) -> String {
    let n = 1 + rng.next() % 8;
    (0..n).map(|_| rng.pick(PIECES)).collect()
}

/// Sends one raw GET and returns (status, body).
async fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("{target}: no answer within 5 s"))
        .unwrap_or_else(|e| panic!("{target}: connection dropped: {e}"));
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{target}: no status line in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_queries_get_200_or_a_json_4xx() {
    let a = start(config(&fixture("procfs"), SourceMode::Procfs)).await;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for path in [
        "/api/v1/processes",
        "/api/v1/snapshot",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        for _ in 0..120 {
            let q = query(&mut rng);
            // Raw bytes that are not allowed in a request line are percent-encoded, as
            // a client would; everything else goes as generated.
            let q: String = q
                .chars()
                .flat_map(|c| {
                    if c.is_ascii_graphic() {
                        vec![c.to_string()]
                    } else {
                        c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
                    }
                })
                .collect();
            let target = format!("{path}?{q}");
            let (status, body) = raw_get(a.addr, &target).await;
            assert!(
                status == 200 || (400..500).contains(&status),
                "{target}: {status} {body}"
            );
            if status != 200 {
                let v: serde_json::Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("{target}: {status} body not JSON ({e}): {body}"));
                assert!(v["error"]["code"].is_string(), "{target}: {body}");
            }
        }
    }
    // The agent still serves normally afterwards.
    let (s, _) = get_json(&a.url("/api/v1/processes?top=3")).await;
    assert_eq!(s, 200);
}
