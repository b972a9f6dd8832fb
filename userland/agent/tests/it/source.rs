use crate::support::*;
use procpulse_agent::SourceMode;
use std::time::Duration;

const MODULE_FILES: [&str; 4] = [
    "procpulse_cpu",
    "procpulse_ram",
    "procpulse_procs",
    "procpulse_tasks",
];

async fn source_of(a: &Running) -> String {
    let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(s, 200, "{v}");
    v["source"].as_str().unwrap().to_owned()
}

async fn wait_for_source(a: &Running, want: &str) {
    for _ in 0..100 {
        if source_of(a).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("source never became {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_switches_when_modules_come_and_go() {
    let tree = TempTree::copy_of("procfs");
    let mut c = config(&tree.0, SourceMode::Auto);
    c.module_check_interval = Duration::from_millis(50);
    let a = start(c).await;
    assert_eq!(source_of(&a).await, "procfs");

    // Modules "loaded": the re-check picks them up.
    for f in MODULE_FILES {
        std::fs::copy(fixture("kmod").join(f), tree.0.join(f)).unwrap();
    }
    wait_for_source(&a, "kmod").await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(v["cpu"]["usage_percent"], 23.45);
    assert_eq!(v["procs"]["threads"], 31);

    // Modules "unloaded": back to /proc.
    for f in MODULE_FILES {
        std::fs::remove_file(tree.0.join(f)).unwrap();
    }
    wait_for_source(&a, "procfs").await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_falls_back_at_once_when_a_module_file_breaks() {
    let tree = TempTree::copy_of("kmod");
    let a = start(config(&tree.0, SourceMode::Auto)).await;
    assert_eq!(source_of(&a).await, "kmod");
    // Written in place, so a kept-open descriptor sees it.
    std::fs::write(tree.0.join("procpulse_ram"), "{\"total_kb\":").unwrap();
    assert_eq!(source_of(&a).await, "procfs");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_does_not_flap_on_a_broken_module_file() {
    let tree = TempTree::copy_of("kmod");
    let mut c = config(&tree.0, SourceMode::Auto);
    c.module_check_interval = Duration::from_millis(30);
    let a = start(c).await;
    assert_eq!(source_of(&a).await, "kmod");
    std::fs::write(tree.0.join("procpulse_procs"), "garbage").unwrap();
    // Several re-checks later the source is still the fallback, on every request.
    for _ in 0..10 {
        assert_eq!(source_of(&a).await, "procfs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Repaired: the re-check switches back.
    std::fs::copy(
        fixture("kmod").join("procpulse_procs"),
        tree.0.join("procpulse_procs"),
    )
    .unwrap();
    wait_for_source(&a, "kmod").await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmod_mode_without_modules_is_503_and_not_ready() {
    let a = start(config(&fixture("procfs"), SourceMode::Kmod)).await;
    let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(s, 503, "{v}");
    assert_eq!(v["error"]["code"], "unavailable");
    let res = client().get(a.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let (s, _) = get_json(&a.url("/healthz")).await;
    assert_eq!(s, 200);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procfs_mode_ignores_present_modules() {
    let a = start(config(&fixture("kmod"), SourceMode::Procfs)).await;
    assert_eq!(source_of(&a).await, "procfs");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmod_cpu_percent_of_tasks_comes_from_two_samples() {
    let tree = TempTree::copy_of("kmod");
    let mut c = config(&tree.0, SourceMode::Kmod);
    c.sample_interval = Duration::from_millis(200);
    let a = start(c).await;
    // pid 907 gains 0.2 s of CPU time between samples ~0.2 s apart: ≈100 %.
    let tasks = std::fs::read_to_string(tree.0.join("procpulse_tasks")).unwrap();
    std::fs::write(
        tree.0.join("procpulse_tasks"),
        tasks.replace("\"utime_ns\":9000000000", "\"utime_ns\":9200000000"),
    )
    .unwrap();
    // Poll the table: the window that holds the change must show pid 907 busy.
    for _ in 0..100 {
        let (_, v) = get_json(&a.url("/api/v1/processes?top=1&sort=cpu")).await;
        let row = &v["processes"][0];
        let pct = row["cpu_percent"].as_f64().unwrap();
        if pct > 0.0 {
            assert_eq!(row["pid"], 907, "{v}");
            // 0.2 s of CPU time over a ~0.2-0.4 s window.
            assert!((40.0..=110.0).contains(&pct), "{pct}");
            a.stop().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no sample ever showed the CPU time gained by pid 907");
}
