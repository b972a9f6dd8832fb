//! collect → replay against the real agent and two real ingest routes (a direct, b
//! batched) on one SQLite file behind the real nginx split: every collected sample_id is
//! stored exactly once, and the loadgen's per-route tally equals ingest's own stats.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use procpulse_loadgen::records::read_records;

use crate::support::{Service, free_port, http_get, repo_root, run_loadgen, workspace_bin};

/// Records collected (and replayed): enough for several progress lines and a split
/// that a 5% tolerance judges meaningfully.
const RECORDS: usize = 400;

/// The nginx split started by ci/nginx-split.sh, stopped on drop.
struct Split {
    dir: String,
}

impl Split {
    fn start(port: u16, a: u16, b: u16) -> Split {
        let out = Command::new(repo_root().join("ci/nginx-split.sh"))
            .args([
                port.to_string(),
                format!("127.0.0.1:{a}"),
                format!("127.0.0.1:{b}"),
            ])
            .output()
            .expect("run ci/nginx-split.sh");
        assert!(
            out.status.success(),
            "ci/nginx-split.sh failed (is nginx installed? ci/deps.sh db): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let dir = text
            .lines()
            .find_map(|l| l.strip_prefix("NGINX_SPLIT_DIR="))
            .expect("NGINX_SPLIT_DIR line")
            .to_owned();
        Split { dir }
    }
}

impl Drop for Split {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("ci/nginx-split.sh"))
            .args(["--stop", &self.dir])
            .status();
    }
}

/// Rows per route from ingest's `GET /api/v1/stats`; accepts `routes` as a list of
/// `{route, rows}` or as a map `{route: rows}`.
fn stats_per_route(port: u16) -> (u64, BTreeMap<String, u64>) {
    let (status, body) = http_get(port, "/api/v1/stats").expect("GET /api/v1/stats");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("stats JSON");
    let mut routes = BTreeMap::new();
    match &v["routes"] {
        serde_json::Value::Array(items) => {
            for r in items {
                let name = r["route"].as_str().expect("route name").to_owned();
                let rows = r["rows"]
                    .as_u64()
                    .or_else(|| r["count"].as_u64())
                    .expect("rows");
                routes.insert(name, rows);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, n) in map {
                routes.insert(k.clone(), n.as_u64().expect("rows"));
            }
        }
        other => panic!("stats has no routes: {other}"),
    }
    let total = v["total_rows"]
        .as_u64()
        .unwrap_or_else(|| routes.values().sum());
    (total, routes)
}

/// `route -> (records, accepted, duplicates)` from the loadgen's final table.
fn printed_tally(stdout: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in stdout.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"route") && cols.get(1) == Some(&"records") {
            in_table = true;
            rows.clear();
            continue;
        }
        if in_table {
            if cols.first() == Some(&"total") {
                in_table = false;
                continue;
            }
            if cols.len() == 5 {
                let n = |i: usize| cols[i].parse::<u64>().expect("number in table");
                rows.insert(cols[0].to_owned(), (n(1), n(3), n(4)));
            }
        }
    }
    rows
}

fn sqlite_ids(db: &Path) -> Vec<String> {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg("SELECT sample_id FROM samples ORDER BY sample_id;")
        .output()
        .expect("sqlite3 (ci/deps.sh db installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn sqlite_routes(db: &Path) -> BTreeMap<String, u64> {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg("SELECT route, COUNT(*) FROM samples GROUP BY route;")
        .output()
        .expect("sqlite3");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(r, n)| (r.to_owned(), n.trim().parse().expect("count")))
        .collect()
}

#[test]
fn collect_then_replay_stores_every_record_exactly_once_and_tallies_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = dir.join("procpulse.db");
    let db_url = format!("sqlite://{}", db.display());

    let (agent_port, a_port, b_port, split_port) =
        (free_port(), free_port(), free_port(), free_port());
    let mut agent = Service::start(
        "agent",
        &workspace_bin("procpulse-agent"),
        &[
            "--listen",
            &format!("127.0.0.1:{agent_port}"),
            "--source",
            "procfs",
            "--hostname",
            "loadgen-e2e",
        ],
        dir,
    );
    agent.wait_ready(agent_port, "/healthz");
    let ingest = workspace_bin("procpulse-ingest");
    let mut route_a = Service::start(
        "ingest-a",
        &ingest,
        &[
            "--listen",
            &format!("127.0.0.1:{a_port}"),
            "--database-url",
            &db_url,
            "--route",
            "a",
            "--write-mode",
            "direct",
        ],
        dir,
    );
    // Let route a run the migrations before route b opens the same file.
    route_a.wait_ready(a_port, "/readyz");
    let mut route_b = Service::start(
        "ingest-b",
        &ingest,
        &[
            "--listen",
            &format!("127.0.0.1:{b_port}"),
            "--database-url",
            &db_url,
            "--route",
            "b",
            "--write-mode",
            "batched",
        ],
        dir,
    );
    route_b.wait_ready(b_port, "/readyz");
    let _split = Split::start(split_port, a_port, b_port);

    // Phase 1: collect.
    let target = RECORDS.to_string();
    let collect = run_loadgen(
        dir,
        &[
            "collect",
            "--host",
            &format!("http://127.0.0.1:{agent_port}"),
            "--users",
            "20",
            "--increase-rate",
            "20",
            "--run-time",
            "60s",
            "--wait",
            "0s..20ms",
            "--target-records",
            &target,
            "--out",
            "records.ndjson",
            "--report-file",
            "collect.json",
            "--no-print-metrics",
            "-q",
        ],
        Duration::from_secs(120),
    );
    assert!(collect.status.success(), "collect failed: {collect:?}");
    assert!(collect.stdout.contains("ended: done"), "{}", collect.stdout);
    let records = read_records(&dir.join("records.ndjson")).expect("a complete record file");
    assert_eq!(records.len(), RECORDS);
    let file_ids: BTreeSet<String> = records.iter().map(|r| r.sample_id.clone()).collect();
    assert_eq!(file_ids.len(), RECORDS, "sample_ids in the file are unique");
    // goose's own report passed through.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("collect.json")).expect("goose report"))
            .expect("goose JSON report");
    assert!(report.is_object());

    // Phase 2: replay through the split.
    let replay = run_loadgen(
        dir,
        &[
            "replay",
            "--host",
            &format!("http://127.0.0.1:{split_port}"),
            "--users",
            "15",
            "--increase-rate",
            "15",
            "--wait",
            "0s..20ms",
            "--in",
            "records.ndjson",
            "--split-tolerance",
            "5%",
            "--report-file",
            "replay.html",
            "--no-print-metrics",
            "-q",
        ],
        Duration::from_secs(120),
    );
    assert!(
        replay.status.success(),
        "replay failed: {replay:?}\ningest a:\n{}\ningest b:\n{}",
        route_a.log_text(),
        route_b.log_text()
    );
    assert!(dir.join("replay.html").exists(), "goose's HTML report");
    // Progress every 50 records, in the format.
    let progress: Vec<&str> = replay
        .stdout
        .lines()
        .filter(|l| l.starts_with("sent "))
        .collect();
    assert_eq!(progress.len(), RECORDS / 50, "{}", replay.stdout);
    assert!(
        progress
            .last()
            .unwrap()
            .starts_with(&format!("sent {RECORDS}/{RECORDS} | a ")),
        "{progress:?}"
    );

    let tally = printed_tally(&replay.stdout);
    assert_eq!(
        tally.keys().cloned().collect::<Vec<_>>(),
        ["a", "b"],
        "{}",
        replay.stdout
    );
    let acked: u64 = tally.values().map(|t| t.0).sum();
    assert_eq!(acked, RECORDS as u64);
    assert!(
        tally.values().all(|t| t.2 == 0),
        "no duplicates on a first replay"
    );

    // Ingest's own view, through its API (either route reads the shared table)...
    let (total, per_route) = stats_per_route(a_port);
    assert_eq!(total, RECORDS as u64);
    let printed: BTreeMap<String, u64> = tally.iter().map(|(r, t)| (r.clone(), t.1)).collect();
    assert_eq!(
        per_route, printed,
        "ingest's stats per route == the loadgen's tally"
    );
    // ...and the SQLite file itself: exactly the file's ids, none missing, none doubled.
    let stored = sqlite_ids(&db);
    assert_eq!(stored.len(), RECORDS, "no row doubled");
    let stored_set: BTreeSet<String> = stored.into_iter().collect();
    assert_eq!(stored_set, file_ids, "stored ids == file ids");
    assert_eq!(sqlite_routes(&db), printed);

    // Replaying the same file again stores nothing new and reports every duplicate.
    let again = run_loadgen(
        dir,
        &[
            "replay",
            "--host",
            &format!("http://127.0.0.1:{split_port}"),
            "--users",
            "15",
            "--increase-rate",
            "15",
            "--wait",
            "0s",
            "--in",
            "records.ndjson",
            "--no-print-metrics",
            "-q",
        ],
        Duration::from_secs(120),
    );
    assert!(again.status.success(), "{again:?}");
    let tally = printed_tally(&again.stdout);
    assert_eq!(
        tally.values().map(|t| t.1).sum::<u64>(),
        0,
        "{}",
        again.stdout
    );
    assert_eq!(tally.values().map(|t| t.2).sum::<u64>(), RECORDS as u64);
    assert_eq!(sqlite_ids(&db).len(), RECORDS);

    // `run`: both phases in one process, into the same stack.
    let run = run_loadgen(
        dir,
        &[
            "run",
            "--agent",
            &format!("http://127.0.0.1:{agent_port}"),
            "--ingress",
            &format!("http://127.0.0.1:{split_port}"),
            "--collect-users",
            "10",
            "--replay-users",
            "10",
            "--collect-wait",
            "0s..10ms",
            "--wait",
            "0s..10ms",
            "--target-records",
            "100",
            "--records",
            "run.ndjson",
            "--split-tolerance",
            "10%",
            "--report-file",
            "run.json",
            "--no-print-metrics",
            "-q",
        ],
        Duration::from_secs(120),
    );
    assert!(run.status.success(), "run failed: {run:?}");
    assert!(dir.join("run.collect.json").exists() && dir.join("run.replay.json").exists());
    let run_ids: BTreeSet<String> = read_records(&dir.join("run.ndjson"))
        .unwrap()
        .into_iter()
        .map(|r| r.sample_id)
        .collect();
    assert_eq!(run_ids.len(), 100);
    assert!(
        run_ids.is_disjoint(&file_ids),
        "the agent never repeats a sample_id"
    );
    let stored: BTreeSet<String> = sqlite_ids(&db).into_iter().collect();
    assert_eq!(stored.len(), RECORDS + 100);
    assert!(run_ids.is_subset(&stored));
    let (total, _) = stats_per_route(b_port);
    assert_eq!(total, (RECORDS + 100) as u64);
}
