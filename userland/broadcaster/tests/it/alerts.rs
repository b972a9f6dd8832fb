//! Alerts end to end against a REAL Alertmanager (Debian's `prometheus-alertmanager`,
//! started here on loopback with a generated config whose receiver is a webhook this test
//! listens on): snapshots POSTed to the real ingest drive a host over a threshold → the
//! broadcaster's evaluator fires → Alertmanager lists the alert and its webhook delivers
//! `firing`; the host recovers → `resolved`; a host that stops reporting fires `stale`.
//! procpulse's own plain webhook receives the same changes.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use procpulse_alerts::deliver::Target;
use procpulse_broadcaster::alerting::AlertConfig;
use procpulse_ingest::WriteMode;
use serde_json::Value;
use warp::Filter;

use crate::support::*;
use crate::via_ingest::{post, start_ingest};

const RULES: &str = r#"
[[rule]]
name = "HostHighCpu"
metric = "cpu"
threshold = 90
clear = 85
severity = "critical"
summary = "CPU above 90 %"
[rule.labels]
team = "infra"

[[rule]]
name = "HostStale"
metric = "stale"
"#;

/// The Alertmanager binary: `PROCPULSE_ALERTMANAGER`, or Debian's. `None` (test skipped)
/// when absent outside CI; a panic under CI (ci/test-broadcaster.sh installs it).
fn alertmanager_bin() -> Option<PathBuf> {
    let bin = std::env::var_os("PROCPULSE_ALERTMANAGER").map_or_else(
        || PathBuf::from("/usr/bin/prometheus-alertmanager"),
        PathBuf::from,
    );
    if bin.is_file() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {} is missing (ci/deps.sh alerts installs prometheus-alertmanager)",
        bin.display()
    );
    eprintln!("{} missing: skipping the Alertmanager test", bin.display());
    None
}

/// A loopback webhook that keeps every JSON body it is sent.
async fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&bodies);
    let route = warp::post().and(warp::body::json()).map(move |v: Value| {
        b.lock().unwrap().push(v);
        warp::reply()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (format!("http://{addr}/hook"), bodies)
}

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_alertmanager(bin: &PathBuf, hook: &str) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: test\n  group_by: ['alertname', 'host']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: test\n    webhook_configs:\n      - url: '{hook}'\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/-/ready", am.url)).send().await {
            if r.status() == 200 {
                return am;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Alertmanager did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits up to `secs` for `f` to give `Some`.
async fn within<T>(secs: u64, what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The alerts in webhook bodies received so far with `alertname`, `host` and `status`.
fn delivered(bodies: &Mutex<Vec<Value>>, name: &str, host: &str, status: &str) -> Option<Value> {
    bodies.lock().unwrap().iter().find_map(|b| {
        b["alerts"].as_array()?.iter().find_map(|a| {
            (a["labels"]["alertname"] == name
                && a["labels"]["host"] == host
                && a["status"] == status)
                .then(|| a.clone())
        })
    })
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// The broadcaster's `/api/v1/alerts` entry of `rule` on `host`, if any.
fn listed<'a>(answer: &'a Value, list: &str, rule: &str, host: &str) -> Option<&'a Value> {
    answer[list]
        .as_array()?
        .iter()
        .find(|a| a["rule"] == rule && a["host"] == host)
}

#[tokio::test]
async fn a_host_over_a_threshold_fires_in_alertmanager_and_resolves_and_a_silent_host_goes_stale() {
    let Some(bin) = alertmanager_bin() else {
        return;
    };
    let (am_hook, am_bodies) = webhook().await;
    let (plain_hook, plain_bodies) = webhook().await;
    // A stand-in Alertmanager API that keeps what it is sent (to count re-sends).
    let (capture, captured) = webhook().await;
    let am = start_alertmanager(&bin, &am_hook).await;
    let db = TestDb::sqlite().await;
    let ingest = start_ingest(&db, "a", WriteMode::Direct).await;
    let rules = procpulse_alerts::rules::parse(RULES, "rules.toml").unwrap();
    let am_url = am.url.clone();
    let server = Server::start(&db, |c| {
        c.stale_after_intervals = 2;
        c.alerts = Some(AlertConfig {
            rules,
            targets: vec![
                Target::Alertmanager(am_url),
                Target::Webhook(plain_hook),
                Target::Alertmanager(capture.trim_end_matches("/hook").to_owned()),
            ],
            resend_interval: Duration::from_secs(2),
            dashboard_url: Some("http://dashboard.test".to_owned()),
        });
    })
    .await;
    let client = reqwest::Client::new();
    let send = |host: &str, cpu: u64, ago_ms: u64| {
        serde_json::to_value([snapshot(host, cpu, Duration::from_millis(ago_ms), 0)]).unwrap()
    };

    // The silent-to-be host sends three samples a second apart, then nothing.
    for ago in [3_000, 2_000, 1_000] {
        post(&client, &ingest.url, &send("vm-gone", 5, ago)).await;
    }
    // vm-hot at 97 % CPU: over the threshold of 90.
    post(&client, &ingest.url, &send("vm-hot", 97, 0)).await;

    let fired = within(
        30,
        "Alertmanager's webhook to deliver HostHighCpu firing",
        async || delivered(&am_bodies, "HostHighCpu", "vm-hot", "firing"),
    )
    .await;
    eprintln!("Alertmanager's webhook delivered: {fired}");
    assert_eq!(fired["labels"]["severity"], "critical");
    assert_eq!(fired["labels"]["team"], "infra");
    assert_eq!(fired["annotations"]["summary"], "CPU above 90 %");
    assert_eq!(fired["annotations"]["value"], "97");
    assert_eq!(fired["generatorURL"], "http://dashboard.test/?host=vm-hot");
    // Alertmanager lists it as active.
    let listed_by_am = get_json(&client, &format!("{}/api/v2/alerts", am.url)).await;
    let active = listed_by_am
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "HostHighCpu" && a["labels"]["host"] == "vm-hot")
        .unwrap_or_else(|| panic!("not listed by Alertmanager: {listed_by_am}"));
    assert_eq!(active["status"]["state"], "active");
    // The dashboard's route and the plain webhook have it too.
    let ours = get_json(&client, &server.url("/api/v1/alerts")).await;
    let a = listed(&ours, "alerts", "HostHighCpu", "vm-hot").unwrap_or_else(|| panic!("{ours}"));
    assert_eq!(
        (a["state"].as_str(), a["value"].as_f64()),
        (Some("firing"), Some(97.0))
    );
    within(10, "the plain webhook's firing", async || {
        delivered(&plain_bodies, "HostHighCpu", "vm-hot", "firing")
    })
    .await;
    // Re-sent while firing (every 2 s here), to Alertmanager only.
    within(10, "a re-send of the firing alert", async || {
        let sends = captured
            .lock()
            .unwrap()
            .iter()
            .filter(|b| {
                b.as_array().is_some_and(|a| {
                    a.iter().any(|x| {
                        x["labels"]["alertname"] == "HostHighCpu" && x["labels"]["host"] == "vm-hot"
                    })
                })
            })
            .count();
        (sends >= 2).then_some(())
    })
    .await;
    let to_webhook = plain_bodies
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b["alerts"][0]["labels"]["alertname"] == "HostHighCpu")
        .count();
    assert_eq!(to_webhook, 1, "webhooks get changes only");

    // 88 % lies between clear (85) and the threshold: still firing (hysteresis).
    let evaluated = server
        .metric("procpulse_broadcaster_alerts_samples_evaluated_total")
        .await;
    post(&client, &ingest.url, &send("vm-hot", 88, 0)).await;
    within(10, "the 88 % sample to be evaluated", async || {
        (server
            .metric("procpulse_broadcaster_alerts_samples_evaluated_total")
            .await
            > evaluated)
            .then_some(())
    })
    .await;
    let ours = get_json(&client, &server.url("/api/v1/alerts")).await;
    let a = listed(&ours, "alerts", "HostHighCpu", "vm-hot").unwrap_or_else(|| panic!("{ours}"));
    assert_eq!(
        (a["state"].as_str(), a["value"].as_f64()),
        (Some("firing"), Some(88.0))
    );
    // Longer than Alertmanager's group interval (1 s): a wrong resolve would be here.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(delivered(&am_bodies, "HostHighCpu", "vm-hot", "resolved").is_none());
    assert!(delivered(&plain_bodies, "HostHighCpu", "vm-hot", "resolved").is_none());

    // Recovered: 10 %.
    let recovered = send("vm-hot", 10, 0);
    let recovered_at = time::OffsetDateTime::parse(
        recovered[0]["collected_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    post(&client, &ingest.url, &recovered).await;
    let resolved = within(
        30,
        "Alertmanager's webhook to deliver HostHighCpu resolved",
        async || delivered(&am_bodies, "HostHighCpu", "vm-hot", "resolved"),
    )
    .await;
    eprintln!("Alertmanager's webhook delivered: {resolved}");
    // endsAt is the recovering sample's time (as stored: milliseconds).
    let ends = time::OffsetDateTime::parse(
        resolved["endsAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let stored = recovered_at
        .replace_nanosecond(u32::from(recovered_at.millisecond()) * 1_000_000)
        .unwrap();
    assert_eq!(ends, stored, "{resolved}");
    within(10, "the plain webhook's resolved", async || {
        delivered(&plain_bodies, "HostHighCpu", "vm-hot", "resolved")
    })
    .await;
    let ours = get_json(&client, &server.url("/api/v1/alerts")).await;
    assert!(
        listed(&ours, "alerts", "HostHighCpu", "vm-hot").is_none(),
        "{ours}"
    );
    assert!(
        listed(&ours, "resolved", "HostHighCpu", "vm-hot").is_some(),
        "{ours}"
    );

    // vm-gone has been silent all along: stale after 2 of its 1 s intervals.
    let stale = within(
        30,
        "Alertmanager's webhook to deliver HostStale",
        async || delivered(&am_bodies, "HostStale", "vm-gone", "firing"),
    )
    .await;
    assert_eq!(stale["annotations"]["summary"], "host stopped reporting");
    let ours = get_json(&client, &server.url("/api/v1/alerts")).await;
    assert!(
        listed(&ours, "alerts", "HostStale", "vm-gone").is_some(),
        "{ours}"
    );
    // One replica: it holds the lease.
    assert_eq!(
        server.metric("procpulse_broadcaster_alerts_sender").await,
        1.0
    );
    assert!(
        server
            .metric("procpulse_broadcaster_alerts_delivered_total{receiver=\"alertmanager\"}")
            .await
            >= 3.0
    );

    server.stop().await;
    ingest.shutdown.trigger();
    let _ = ingest.task.await;
}

/// Two replicas on one database both evaluate (both list the alert), but only the lease
/// holder notifies; when it stops, the other takes over and re-sends the firing alert,
/// then delivers its resolution.
#[tokio::test]
async fn of_two_replicas_only_the_lease_holder_notifies_and_the_other_takes_over() {
    let db = TestDb::sqlite().await;
    let ingest = start_ingest(&db, "a", WriteMode::Direct).await;
    let start = async |hook: String| {
        let rules = procpulse_alerts::rules::parse(RULES, "rules.toml").unwrap();
        Server::start(&db, |c| {
            c.alerts = Some(AlertConfig {
                rules,
                targets: vec![Target::Webhook(hook)],
                resend_interval: Duration::from_secs(60),
                dashboard_url: None,
            });
        })
        .await
    };
    let (hook_1, bodies_1) = webhook().await;
    let (hook_2, bodies_2) = webhook().await;
    let one = start(hook_1).await;
    let two = start(hook_2).await;
    let client = reqwest::Client::new();
    let senders = within(10, "a replica to take the lease", async || {
        let s = one.metric("procpulse_broadcaster_alerts_sender").await
            + two.metric("procpulse_broadcaster_alerts_sender").await;
        (s > 0.0).then_some(s)
    })
    .await;
    assert_eq!(senders, 1.0, "exactly one replica sends");
    let one_sends = one.metric("procpulse_broadcaster_alerts_sender").await == 1.0;
    let (sender, sender_bodies, other, other_bodies) = if one_sends {
        (one, bodies_1, two, bodies_2)
    } else {
        (two, bodies_2, one, bodies_1)
    };

    let hot = serde_json::to_value([snapshot("vm-hot", 97, Duration::ZERO, 0)]).unwrap();
    post(&client, &ingest.url, &hot).await;
    within(10, "the sender's firing", async || {
        delivered(&sender_bodies, "HostHighCpu", "vm-hot", "firing")
    })
    .await;
    // The other replica evaluated the same row: it lists the alert but sent nothing.
    within(10, "the other replica to list the alert", async || {
        let ours = get_json(&client, &other.url("/api/v1/alerts")).await;
        listed(&ours, "alerts", "HostHighCpu", "vm-hot").map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        other_bodies.lock().unwrap().is_empty(),
        "only the lease holder notifies"
    );

    // The sender stops (and gives the lease up): the other takes over within a renewal
    // and re-sends what fires.
    sender.stop().await;
    within(
        15,
        "the other replica to take over and re-send",
        async || delivered(&other_bodies, "HostHighCpu", "vm-hot", "firing"),
    )
    .await;
    post(
        &client,
        &ingest.url,
        &serde_json::to_value([snapshot("vm-hot", 10, Duration::ZERO, 0)]).unwrap(),
    )
    .await;
    within(10, "the new sender's resolved", async || {
        delivered(&other_bodies, "HostHighCpu", "vm-hot", "resolved")
    })
    .await;
    other.stop().await;
    ingest.shutdown.trigger();
    let _ = ingest.task.await;
}
