use crate::support::*;
use procpulse_agent::SourceMode;

/// /proc/procpulse_ram as the 6.12 module writes it: no swap_total_kb/swap_free_kb.
const RAM_612: &str = "{\"total_kb\":24684092,\"free_kb\":21274480,\"available_kb\":23558736,\"buffers_kb\":27832,\"cached_kb\":2295552,\"shared_kb\":8856,\"swap_cached_kb\":1024,\"used_kb\":1125356,\"used_percent_x100\":456}\n";

/// The fixture's tasks with a nameless kernel thread (903, whose stat exists) and a
/// nameless one that has already exited (950, no stat), plus `threads`.
const TASKS_612: &str = concat!(
    "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":12000,\"threads\":1,\"utime_ns\":5000000000,\"stime_ns\":2000000000}\n",
    "{\"pid\":903,\"ppid\":2,\"uid\":0,\"state\":\"I\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n",
    "{\"pid\":950,\"ppid\":2,\"uid\":0,\"state\":\"I\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n",
);

/// The fixture's meminfo with a swap device half used.
fn meminfo_with_swap() -> String {
    std::fs::read_to_string(fixture("kmod").join("meminfo"))
        .unwrap()
        .replace("SwapTotal:             0 kB", "SwapTotal:        262140 kB")
        .replace("SwapFree:              0 kB", "SwapFree:         131070 kB")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmod_snapshot_without_module_swap_takes_swap_from_meminfo() {
    let tree = TempTree::copy_of("kmod");
    std::fs::write(tree.0.join("procpulse_ram"), RAM_612).unwrap();
    std::fs::write(tree.0.join("meminfo"), meminfo_with_swap()).unwrap();
    let a = start(config(&tree.0, SourceMode::Kmod)).await;
    let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["source"], "kmod");
    assert_eq!(v["ram"]["swap_total_kb"], 262_140);
    assert_eq!(v["ram"]["swap_free_kb"], 131_070);
    // The rest still comes from the module.
    assert_eq!(v["ram"]["total_kb"], 24_684_092);
    assert_eq!(v["ram"]["free_kb"], 21_274_480);
    let snap: procpulse_model::Snapshot = serde_json::from_value(v).unwrap();
    procpulse_model::validate(&snap).unwrap();
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_module_swap_values_are_not_used() {
    let tree = TempTree::copy_of("kmod");
    let old = std::fs::read_to_string(tree.0.join("procpulse_ram"))
        .unwrap()
        .replace("\"swap_total_kb\":0", "\"swap_total_kb\":4096")
        .replace("\"swap_free_kb\":0", "\"swap_free_kb\":1024");
    std::fs::write(tree.0.join("procpulse_ram"), old).unwrap();
    std::fs::write(tree.0.join("meminfo"), meminfo_with_swap()).unwrap();
    let a = start(config(&tree.0, SourceMode::Kmod)).await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    // Older modules printed free swap as both: /proc/meminfo's figures are served.
    assert_eq!(v["ram"]["swap_total_kb"], 262_140);
    assert_eq!(v["ram"]["swap_free_kb"], 131_070);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nameless_kernel_threads_are_named_from_their_stat() {
    let tree = TempTree::copy_of("kmod");
    std::fs::write(tree.0.join("procpulse_tasks"), TASKS_612).unwrap();
    std::fs::create_dir_all(tree.0.join("903")).unwrap();
    std::fs::copy(fixture("procfs").join("903/stat"), tree.0.join("903/stat")).unwrap();
    let a = start(config(&tree.0, SourceMode::Kmod)).await;
    let (s, v) = get_json(&a.url("/api/v1/processes?top=10")).await;
    assert_eq!(s, 200, "{v}");
    let comm_of = |pid: u64| {
        v["processes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pid"] == pid)
            .unwrap_or_else(|| panic!("no row for {pid}: {v}"))["comm"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(comm_of(1), "init");
    assert_eq!(comm_of(903), "kworker/0:1-events");
    assert_eq!(comm_of(950), procpulse_agent::sampler::UNKNOWN_COMM);
    a.stop().await;
}
