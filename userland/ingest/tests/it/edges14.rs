//! Issue 14, classes 2, 3 and 8 through the real server: sample_ids that differ only by
//! trailing spaces, one request the database refuses among 100 innocent concurrent ones,
//! and `/readyz` reporting a server that does not flush every commit.

use crate::common::{self, Kind, Server, body, snapshot};
use diesel_async::SimpleAsyncConnection;
use procpulse_ingest::WriteMode;
use procpulse_storage::{StorageError, with_conn};
use serde_json::json;
use std::time::Duration;

/// `x`, `x ` and `x  ` are three samples on every backend and write mode (MySQL's PAD
/// SPACE column made them one key: 503 + Retry-After forever); a replay of `x ` is a
/// duplicate of `x ` only; SQLite and MySQL answer the same.
#[tokio::test]
async fn sample_ids_that_differ_only_by_trailing_spaces_are_distinct() {
    let mut answers = Vec::new();
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let mut c = s.conn().await;
        let ctx = format!("{kind:?}/{mode:?}");
        let mut got = Vec::new();
        for id in ["x", "x ", "x  ", "x "] {
            let a = c
                .post_json("/api/v1/metrics", body(&snapshot(id, "h1")))
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{ctx} {id:?}: {:?}", a.body);
            got.push((a.json()["accepted"].clone(), a.json()["duplicates"].clone()));
        }
        // One request holding all of them (a batch of its own on the batched writer).
        let arr = json!([
            snapshot("y", "h1"),
            snapshot("y ", "h1"),
            snapshot("y", "h1")
        ]);
        let a = c.post_json("/api/v1/metrics", body(&arr)).await.unwrap();
        assert_eq!(a.status, 200, "{ctx}: {:?}", a.body);
        got.push((a.json()["accepted"].clone(), a.json()["duplicates"].clone()));
        assert_eq!(common::count(s.db()).await, 5, "{ctx}");
        let ids: Vec<String> = ["x", "x ", "x  ", "y", "y "].map(String::from).into();
        let copies = common::copies_of(s.db(), &ids).await;
        assert!(
            ids.iter().all(|i| copies.get(i) == Some(&1)),
            "{ctx}: {copies:?}"
        );
        answers.push((ctx, got));
        s.stop().await;
    }
    let expect = [(1, 0), (1, 0), (1, 0), (0, 1), (2, 1)].map(|(a, d)| (json!(a), json!(d)));
    for (ctx, got) in answers {
        assert_eq!(got, expect, "{ctx}");
    }
}

/// A real refusal at the database for one sample_id: MySQL/MariaDB a CHECK constraint,
/// SQLite (which cannot add one to a table) a trigger that writes the id into a table
/// whose CHECK refuses it. The request passes validation and fails only at the insert.
async fn poison(s: &Server, kind: Kind) {
    let ddl = match kind {
        Kind::Sqlite => {
            "CREATE TABLE poison_guard (v TEXT CHECK (v <> 'poison')); \
             CREATE TRIGGER poison BEFORE INSERT ON samples WHEN NEW.sample_id = 'poison' \
             BEGIN INSERT INTO poison_guard VALUES (NEW.sample_id); END"
        }
        Kind::Mysql => "ALTER TABLE samples ADD CONSTRAINT poison CHECK (sample_id <> 'poison')",
    };
    with_conn!(s.db().write_pool(), c => Ok::<_, StorageError>(c.batch_execute(ddl).await?))
        .expect("add the poison constraint");
}

/// One poison request among 100 innocent concurrent ones: exactly one failure, a 422
/// `rejected_by_database` without Retry-After; the 100 are stored once each, on both
/// backends and in both write modes (in batched mode the poison shares group commits
/// with innocent requests, which are then written one by one).
#[tokio::test]
async fn one_poison_request_among_100_concurrent_ones_fails_alone() {
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let ctx = format!("{kind:?}/{mode:?}");
        poison(&s, kind).await;
        let mut tasks = Vec::new();
        for i in 0..101 {
            let id = if i == 50 {
                "poison".to_owned()
            } else {
                format!("ok-{i}")
            };
            let mut c = s.conn().await;
            tasks.push(tokio::spawn(async move {
                let a = c
                    .post_json("/api/v1/metrics", body(&snapshot(&id, "h1")))
                    .await
                    .unwrap();
                (id, a)
            }));
        }
        let mut failures = Vec::new();
        for t in tasks {
            let (id, a) = tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("answer within 60 s")
                .unwrap();
            if a.status != 200 {
                failures.push((id, a));
            }
        }
        assert_eq!(
            failures.len(),
            1,
            "{ctx}: {:?}",
            failures
                .iter()
                .map(|f| (&f.0, f.1.status, &f.1.body))
                .collect::<Vec<_>>()
        );
        let (id, a) = &failures[0];
        assert_eq!(id, "poison", "{ctx}");
        assert_eq!(a.status, 422, "{ctx}: {:?}", a.body);
        assert_eq!(
            a.json()["error"]["code"],
            "rejected_by_database",
            "{ctx}: {:?}",
            a.body
        );
        assert!(a.headers.get("retry-after").is_none(), "{ctx}");
        assert_eq!(common::count(s.db()).await, 100, "{ctx}");
        // A retry of the poison fails the same way and alone.
        let mut c = s.conn().await;
        let a = c
            .post_json("/api/v1/metrics", body(&snapshot("poison", "h1")))
            .await
            .unwrap();
        assert_eq!(a.status, 422, "{ctx}");
        s.stop().await;
    }
}

/// Sets a global on the private MariaDB through its root socket (ci/mariadb.sh), for
/// the one test that needs SUPER; restores it when dropped.
struct Global {
    sock: std::path::PathBuf,
    restore: String,
}

fn root_sql(sock: &std::path::Path, sql: &str) -> bool {
    std::process::Command::new("mariadb")
        .args(["--no-defaults", "--protocol=socket", "-uroot", "-e", sql])
        .arg(format!("--socket={}", sock.display()))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Drop for Global {
    fn drop(&mut self) {
        assert!(
            root_sql(&self.sock, &self.restore),
            "restore: {}",
            self.restore
        );
    }
}

/// With `innodb_flush_log_at_trx_commit=2` on the server, ingest still starts and is
/// ready, and `/readyz` says durability is reduced, naming the setting.
#[tokio::test]
async fn readyz_reports_a_server_that_does_not_flush_every_commit() {
    if common::mysql_url().is_none() {
        return;
    }
    let dir = std::env::var_os("PROCPULSE_MARIADB_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/mariadb")
        });
    let sock = dir.join("mysqld.sock");
    if !sock.exists() || !root_sql(&sock, "SELECT 1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the private MariaDB's root socket {} does not answer",
            sock.display()
        );
        eprintln!("no root socket at {}: skipped", sock.display());
        return;
    }
    assert!(root_sql(
        &sock,
        "SET GLOBAL innodb_flush_log_at_trx_commit = 2"
    ));
    let _restore = Global {
        sock,
        restore: "SET GLOBAL innodb_flush_log_at_trx_commit = 1".into(),
    };
    let s = Server::start(Kind::Mysql, WriteMode::Direct).await;
    let a = s.conn().await.get("/readyz").await.unwrap();
    assert_eq!(a.status, 200, "{:?}", a.body);
    let v = a.json();
    assert_eq!(v["durability"]["reduced"], true, "{v}");
    let detail = v["durability"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("innodb_flush_log_at_trx_commit=2"), "{v}");
    s.stop().await;
}
