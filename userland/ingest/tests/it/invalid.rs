//! Every fixture under tests/fixtures/invalid/ is a request that breaks one rule (the
//! file is named after it): it must get its status, code and field in the JSON error
//! shape, and leave the table exactly as it was — on every backend and write mode.

use crate::common::{self, Server, body, snapshot};
use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
struct Fixture {
    breaks: String,
    request: Request,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
struct Request {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Option<serde_json::Value>,
    raw_body: Option<String>,
    body_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
struct Expect {
    status: u16,
    code: String,
    field: Option<String>,
}

fn fixtures() -> Vec<(String, Fixture)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut out: Vec<(String, Fixture)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let f: Fixture = serde_json::from_slice(&std::fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, f)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn request_body(r: &Request) -> Bytes {
    if let Some(n) = r.body_bytes {
        return vec![b' '; n].into();
    }
    if let Some(raw) = &r.raw_body {
        return raw.clone().into_bytes().into();
    }
    match &r.body {
        Some(v) => serde_json::to_vec(v).unwrap().into(),
        None => Bytes::new(),
    }
}

#[test]
fn the_corpus_is_big_enough_and_well_formed() {
    let all = fixtures();
    assert!(all.len() >= 40, "only {} fixtures", all.len());
    for (name, f) in &all {
        assert!(!f.breaks.is_empty(), "{name}: say what it breaks");
        assert!(f.expect.status >= 400, "{name}");
    }
}

#[tokio::test]
async fn every_bad_request_gets_its_error_and_changes_nothing() {
    let all = fixtures();
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let mut c = s.conn().await;
        let seed = serde_json::json!([snapshot("seed-1", "h1"), snapshot("seed-2", "h2")]);
        assert_eq!(
            c.post_json("/api/v1/metrics", body(&seed))
                .await
                .unwrap()
                .status,
            200
        );
        let before = c.get("/api/v1/stats").await.unwrap().json();

        for (name, f) in &all {
            let ctx = format!("{kind:?}/{mode:?}/{name}");
            let method = Method::from_bytes(f.request.method.as_bytes()).unwrap();
            let mut headers = Vec::new();
            if let Some(ct) = &f.request.content_type {
                headers.push(("content-type", ct.as_str()));
            }
            // A fresh connection per case: a refused large body may close the old one.
            let mut one = s.conn().await;
            let a = one
                .send(method, &f.request.path, &headers, request_body(&f.request))
                .await
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(a.status.as_u16(), f.expect.status, "{ctx}: {:?}", a.body);
            assert_eq!(
                a.headers.get("content-type").map(|v| v.to_str().unwrap()),
                Some("application/json"),
                "{ctx}"
            );
            let err = &a.json()["error"];
            assert_eq!(err["code"], f.expect.code.as_str(), "{ctx}: {err}");
            assert!(
                err["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{ctx}"
            );
            match &f.expect.field {
                Some(field) => assert_eq!(err["field"], field.as_str(), "{ctx}: {err}"),
                None => assert!(err.get("field").is_none(), "{ctx}: {err}"),
            }
        }

        // Nothing changed, and the service still takes good input.
        let after = c.get("/api/v1/stats").await.unwrap().json();
        assert_eq!(before, after, "{kind:?}/{mode:?}");
        assert_eq!(common::count(s.db()).await, 2);
        let ok = c
            .post_json("/api/v1/metrics", body(&snapshot("seed-3", "h1")))
            .await
            .unwrap();
        assert_eq!(ok.status, 200);
        s.stop().await;
    }
}
