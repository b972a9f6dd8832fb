use crate::support::*;
use procpulse_agent::SourceMode;
use std::collections::HashSet;

fn assert_error_shape(v: &serde_json::Value, code: &str) {
    let e = &v["error"];
    assert_eq!(e["code"], code, "{v}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers() {
    let a = start(config(&fixture("procfs"), SourceMode::Procfs)).await;
    let (s, v) = get_json(&a.url("/healthz")).await;
    assert_eq!((s, &v["status"]), (200, &"ok".into()));
    let (s, v) = get_json(&a.url("/readyz")).await;
    assert_eq!((s, &v["source"]), (200, &"procfs".into()));
    let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(s, 200);
    assert_eq!(v["source"], "procfs");
    assert_eq!(v["host"], "test-host");

    let (s, v) = get_json(&a.url("/api/v1/processes?top=3&sort=rss")).await;
    assert_eq!(s, 200, "{v}");
    let rows = v["processes"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let rss: Vec<u64> = rows.iter().map(|r| r["rss_kb"].as_u64().unwrap()).collect();
    assert!(rss.windows(2).all(|w| w[0] >= w[1]), "{rss:?}");
    let (s, v) = get_json(&a.url("/api/v1/processes")).await;
    assert_eq!((s, &v["sort"]), (200, &"cpu".into()));
    assert_eq!(v["processes"].as_array().unwrap().len(), 9);

    let res = client().get(a.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for needle in [
        "procpulse_memory_total_bytes ",
        "procpulse_host_processes{state=\"zombie\"} 1",
        "procpulse_host_cpu_cores 2",
        "procpulse_host_load1 0.52",
        "procpulse_http_requests_total{route=\"/api/v1/snapshot\",method=\"GET\",status=\"200\"} 1",
        "procpulse_http_request_duration_seconds_bucket",
        "procpulse_agent_samples_total{source=\"procfs\"}",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_the_json_shape() {
    let a = start(config(&fixture("procfs"), SourceMode::Procfs)).await;
    let (s, v) = get_json(&a.url("/api/v1/nope")).await;
    assert_eq!(s, 404);
    assert_error_shape(&v, "not_found");
    let res = client()
        .post(a.url("/api/v1/snapshot"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_error_shape(&res.json().await.unwrap(), "method_not_allowed");
    let res = client().delete(a.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    for q in ["top=0", "top=x", "sort=mem", "top=5&bogus=1", "top=100001"] {
        let (s, v) = get_json(&a.url(&format!("/api/v1/processes?{q}"))).await;
        assert_eq!(s, 422, "{q}: {v}");
        assert_error_shape(&v, "invalid_query");
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_get_distinct_sample_ids() {
    let a = start(config(&fixture("kmod"), SourceMode::Kmod)).await;
    let client = client();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (c, url) = (client.clone(), a.url("/api/v1/snapshot"));
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..25 {
                let v: serde_json::Value = c.get(&url).send().await.unwrap().json().await.unwrap();
                ids.push(v["sample_id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            id_seq(&id, "test-host");
            assert!(all.insert(id.clone()), "duplicate {id}");
        }
    }
    assert_eq!(all.len(), 400);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_uses_a_new_id_prefix() {
    let a = start(config(&fixture("kmod"), SourceMode::Kmod)).await;
    let (_, v1) = get_json(&a.url("/api/v1/snapshot")).await;
    a.stop().await;
    let b = start(config(&fixture("kmod"), SourceMode::Kmod)).await;
    let (_, v2) = get_json(&b.url("/api/v1/snapshot")).await;
    b.stop().await;
    let (id1, id2) = (
        v1["sample_id"].as_str().unwrap(),
        v2["sample_id"].as_str().unwrap(),
    );
    assert_eq!(id_seq(id1, "test-host"), 1);
    assert_eq!(id_seq(id2, "test-host"), 1);
    assert_ne!(id1, id2, "same instance tag after restart");
}
