//! The agent inside the guest serves snapshots from the modules (`"source":"kmod"`).

use crate::CheckError;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One plain HTTP/1.1 GET; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

/// Decodes a chunked body.
pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Starts the agent on `listen` with `--source source`.
pub fn spawn_agent(bin: &str, listen: &str, source: &str) -> Result<Child, CheckError> {
    Command::new(bin)
        .args([
            "--listen",
            listen,
            "--source",
            source,
            "--hostname",
            "kmod-guest",
        ])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|source| CheckError::Io {
            path: bin.into(),
            source,
        })
}

/// GETs `/api/v1/snapshot` until it answers 200 (at most `wait`), returning the body.
pub fn wait_snapshot(listen: &str, wait: Duration) -> Result<String, CheckError> {
    let deadline = Instant::now() + wait;
    loop {
        match http_get(listen, "/api/v1/snapshot") {
            Ok((200, body)) => return Ok(body),
            Ok((status, body)) if Instant::now() > deadline => {
                return Err(CheckError::Mismatch(format!(
                    "GET /api/v1/snapshot: {status} {body}"
                )));
            }
            Err(e) if Instant::now() > deadline => {
                return Err(CheckError::Mismatch(format!(
                    "agent never answered on {listen}: {e}"
                )));
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Parses a snapshot body.
pub fn parse_snapshot(body: &str) -> Result<serde_json::Value, CheckError> {
    serde_json::from_str(body).map_err(|e| CheckError::Format {
        file: "snapshot".into(),
        msg: format!("{e}: {body}"),
    })
}

/// Starts the agent, waits for it, and checks one snapshot says `"source":"kmod"`.
pub fn check(bin: &str, listen: &str) -> Result<String, CheckError> {
    let mut agent = spawn_agent(bin, listen, "auto")?;
    let result = wait_snapshot(listen, Duration::from_secs(60));
    let _ = agent.kill();
    let _ = agent.wait();
    let body = result?;
    let v = parse_snapshot(&body)?;
    if v["source"] != "kmod" {
        return Err(CheckError::Mismatch(format!(
            "snapshot source is {}, want \"kmod\"",
            v["source"]
        )));
    }
    if v["procs"]["total"].as_u64().unwrap_or(0) == 0 {
        return Err(CheckError::Mismatch(format!(
            "snapshot has no processes: {body}"
        )));
    }
    Ok(format!(
        "source=kmod procs.total={} ram.total_kb={}",
        v["procs"]["total"], v["ram"]["total_kb"]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dechunk_two_chunks() {
        assert_eq!(
            super::dechunk("4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"),
            "{\"a\":1}"
        );
    }
}
