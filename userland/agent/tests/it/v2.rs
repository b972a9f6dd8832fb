use crate::support::*;
use procpulse_agent::SourceMode;
use serde_json::{Value, json};
use std::path::Path;

/// /proc/stat counters per CPU (ticks): user nice system idle iowait irq softirq steal
/// guest guest_nice.
type Ticks = [u64; 10];

const CPU0_T0: Ticks = [68763, 1458, 15378, 39182, 67, 0, 27, 92, 10, 0];
const CPU1_T0: Ticks = [69547, 1484, 16648, 36443, 455, 0, 308, 84, 10, 0];
/// Increases over the window: cpu0 is 280/380 busy (73.68 %), cpu1 170/620 (27.42 %);
/// together 1000 ticks: user 30 %, nice 1, system 10, idle 50, iowait 5, irq 1,
/// softirq 2, steal 1, guest 10, guest_nice 0.5; usage 45 %.
const CPU0_D: Ticks = [200, 5, 60, 100, 0, 5, 10, 0, 50, 5];
const CPU1_D: Ticks = [100, 5, 40, 400, 50, 5, 10, 10, 50, 0];

fn add(a: Ticks, b: Ticks) -> Ticks {
    std::array::from_fn(|i| a[i] + b[i])
}

fn line(name: &str, t: Ticks) -> String {
    let f: Vec<String> = t.iter().map(u64::to_string).collect();
    format!("{name} {}\n", f.join(" "))
}

fn proc_stat(c0: Ticks, c1: Ticks) -> String {
    line("cpu ", add(c0, c1)) + &line("cpu0", c0) + &line("cpu1", c1) + "ctxt 1\nbtime 1\n"
}

const NAMES: [&str; 10] = [
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
];

/// The same counters as the CPU module prints them (ns, USER_HZ = 100), with its
/// window's usage figures.
fn procpulse_cpu(c0: Ticks, c1: Ticks, usage_x100: Option<[u32; 3]>) -> String {
    let ns = |t: Ticks| -> serde_json::Map<String, Value> {
        NAMES
            .iter()
            .zip(t)
            .map(|(n, v)| (format!("{n}_ns"), json!(v * 10_000_000)))
            .collect()
    };
    let mut v = json!({"cores": 2, "usage_percent_x100": 0, "window_ms": 1000, "window_seq": 3,
        "load1_x100": 52, "load5_x100": 41, "load15_x100": 30});
    v.as_object_mut().unwrap().extend(ns(add(c0, c1)));
    let mut cores = Vec::new();
    for (i, t) in [c0, c1].into_iter().enumerate() {
        let mut c = ns(t);
        c.insert("cpu".into(), json!(i));
        if let Some(u) = usage_x100 {
            c.insert("usage_percent_x100".into(), json!(u[i + 1]));
        }
        cores.push(Value::Object(c));
    }
    v["per_cpu"] = cores.into();
    if let Some(u) = usage_x100 {
        v["usage_percent_x100"] = json!(u[0]);
    }
    v.to_string() + "\n"
}

async fn cpu_of(a: &Running) -> Value {
    let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(s, 200, "{v}");
    let snap: procpulse_model::Snapshot = serde_json::from_value(v.clone()).unwrap();
    procpulse_model::validate(&snap).unwrap_or_else(|e| panic!("{e:?}: {v}"));
    v["cpu"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sources_give_identical_modes_from_the_same_counters() {
    let tree = TempTree::copy_of("kmod");
    std::fs::write(tree.0.join("stat"), proc_stat(CPU0_T0, CPU1_T0)).unwrap();
    std::fs::write(
        tree.0.join("procpulse_cpu"),
        procpulse_cpu(CPU0_T0, CPU1_T0, None),
    )
    .unwrap();
    let procfs = start(config(&tree.0, SourceMode::Procfs)).await;
    let kmod = start(config(&tree.0, SourceMode::Kmod)).await;
    // One reading so far: no window, no modes (and no per-CPU shares on /proc).
    let (p, k) = (cpu_of(&procfs).await, cpu_of(&kmod).await);
    assert!(
        p.get("modes").is_none() && k.get("modes").is_none(),
        "{p} {k}"
    );
    assert!(p.get("per_cpu").is_none(), "{p}");

    // The window closes: both sampler readings see the same increase.
    let (c0, c1) = (add(CPU0_T0, CPU0_D), add(CPU1_T0, CPU1_D));
    std::fs::write(tree.0.join("stat"), proc_stat(c0, c1)).unwrap();
    std::fs::write(
        tree.0.join("procpulse_cpu"),
        procpulse_cpu(c0, c1, Some([4500, 7368, 2742])),
    )
    .unwrap();
    procfs.agent.sample_now().await.unwrap();
    kmod.agent.sample_now().await.unwrap();
    let (p, k) = (cpu_of(&procfs).await, cpu_of(&kmod).await);
    let want = json!({"user": 30.0, "nice": 1.0, "system": 10.0, "idle": 50.0, "iowait": 5.0,
        "irq": 1.0, "softirq": 2.0, "steal": 1.0, "guest": 10.0, "guest_nice": 0.5});
    assert_eq!(p["modes"], want, "procfs");
    assert_eq!(k["modes"], want, "kmod");
    assert_eq!(
        p["per_cpu"],
        json!([{"cpu": 0, "usage_percent": 73.68}, {"cpu": 1, "usage_percent": 27.42}])
    );
    // The whole CPU section agrees when the module's window is the sampler's.
    assert_eq!(p, k);

    // No time elapsed since the previous reading: no modes rather than a division by 0.
    procfs.agent.sample_now().await.unwrap();
    kmod.agent.sample_now().await.unwrap();
    let (p, k) = (cpu_of(&procfs).await, cpu_of(&kmod).await);
    assert!(
        p.get("modes").is_none() && k.get("modes").is_none(),
        "{p} {k}"
    );
    procfs.stop().await;
    kmod.stop().await;
}

/// /proc/pressure as Linux 6.18 prints it (captured on this project's CI guest).
const PSI_CPU: &str = "some avg10=2.58 avg60=4.71 avg300=13.86 total=6551562037\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
const PSI_MEMORY: &str = "some avg10=0.00 avg60=0.12 avg300=0.05 total=1530977\nfull avg10=0.00 avg60=0.03 avg300=0.01 total=1122051\n";
/// Before Linux 5.13, /proc/pressure/cpu had no `full` line.
const PSI_CPU_OLD: &str = "some avg10=1.00 avg60=2.00 avg300=3.00 total=42\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pressure_comes_from_proc_pressure_on_both_sources() {
    for (name, mode) in [("procfs", SourceMode::Procfs), ("kmod", SourceMode::Kmod)] {
        let tree = TempTree::copy_of(name);
        let dir = tree.0.join("pressure");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu"), PSI_CPU).unwrap();
        std::fs::write(dir.join("memory"), PSI_MEMORY).unwrap();
        std::fs::write(dir.join("io"), "garbage\n").unwrap();
        let a = start(config(&tree.0, mode)).await;
        let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
        let p = &v["pressure"];
        assert_eq!(
            p["cpu"],
            json!({"some": {"avg10": 2.58, "avg60": 4.71, "avg300": 13.86, "total_us": 6551562037u64},
                   "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0}}),
            "{name}"
        );
        assert_eq!(p["memory"]["full"]["total_us"], 1_122_051, "{name}");
        // An unreadable (here: unparsable) file: that resource only is absent.
        assert!(p.get("io").is_none(), "{name}: {p}");
        drop(a);

        // No /proc/pressure at all (a kernel without PSI): no `pressure`.
        std::fs::remove_dir_all(&dir).unwrap();
        let none = start(config(&tree.0, mode)).await;
        let (_, v) = get_json(&none.url("/api/v1/snapshot")).await;
        assert!(v.get("pressure").is_none(), "{name}: {v}");
        none.stop().await;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cpu"), PSI_CPU).unwrap();
        let a = start(config(&tree.0, mode)).await;

        // None of the three readable: no `pressure` at all, never zeros. (Rewritten in
        // place: the sampler keeps the files open, as it does /proc's.)
        for f in ["cpu", "memory", "io"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        a.agent.sample_now().await.unwrap();
        let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
        assert!(v.get("pressure").is_none(), "{name}: {v}");

        // An older kernel's cpu file without `full`.
        std::fs::write(dir.join("cpu"), PSI_CPU_OLD).unwrap();
        a.agent.sample_now().await.unwrap();
        let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
        assert_eq!(
            v["pressure"],
            json!({"cpu": {"some": {"avg10": 1.0, "avg60": 2.0, "avg300": 3.0, "total_us": 42}}}),
            "{name}"
        );
        let snap: procpulse_model::Snapshot = serde_json::from_value(v).unwrap();
        procpulse_model::validate(&snap).unwrap();
        a.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_bytes_with_pressure_are_exactly_serdes_serialization() {
    // `top` and `pressure` are both written after the rest by the request path.
    for (name, mode) in [("procfs", SourceMode::Procfs), ("kmod", SourceMode::Kmod)] {
        for top in [0, 3] {
            let tree = TempTree::copy_of(name);
            std::fs::create_dir_all(tree.0.join("pressure")).unwrap();
            std::fs::write(tree.0.join("pressure/cpu"), PSI_CPU).unwrap();
            let mut c = config(&tree.0, mode);
            c.snapshot_top = top;
            let a = start(c).await;
            let body = client()
                .get(a.url("/api/v1/snapshot"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let snap: procpulse_model::Snapshot = serde_json::from_slice(&body).unwrap();
            assert!(snap.pressure.is_some(), "{name}");
            assert_eq!(snap.top.len(), top, "{name}");
            assert_eq!(
                String::from_utf8(body.to_vec()).unwrap(),
                serde_json::to_string(&snap).unwrap(),
                "{name}, top {top}"
            );
            a.stop().await;
        }
    }
}

/// The module table has no nice value (and older modules no thread count): served rows
/// get them from `/proc/<pid>/stat`; uid and user come from the module's (effective) uid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kmod_top_rows_get_nice_and_threads_from_pid_stat() {
    let tree = TempTree::copy_of("kmod");
    // 907 (busiest) and 812 have a stat; 1 has none (it "exited" between the reads).
    let with_threads = std::fs::read_to_string(tree.0.join("procpulse_tasks"))
        .unwrap()
        .replace(
            "\"pid\":812,\"ppid\":811,\"uid\":1000,",
            "\"pid\":812,\"ppid\":811,\"uid\":1000,\"threads\":7,",
        );
    std::fs::write(tree.0.join("procpulse_tasks"), with_threads).unwrap();
    for (pid, nice) in [(907, "-5"), (812, "19")] {
        let stat = std::fs::read_to_string(fixture("procfs").join(format!("{pid}/stat")))
            .unwrap()
            .replace(" 20 0 13 0 24 ", &format!(" 20 {nice} 13 0 24 "));
        std::fs::create_dir_all(tree.0.join(pid.to_string())).unwrap();
        std::fs::write(tree.0.join(format!("{pid}/stat")), stat).unwrap();
    }
    let a = start(config(&tree.0, SourceMode::Kmod)).await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    let row = |pid: u64| {
        v["top"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pid"] == pid)
            .unwrap_or_else(|| panic!("no row {pid}: {v}"))
            .clone()
    };
    let r = row(907);
    assert_eq!(
        (&r["uid"], &r["user"], &r["nice"], &r["threads"]),
        (&json!(0), &json!("root"), &json!(-5), &json!(13)),
        "threads from the stat when the module has none: {r}"
    );
    let r = row(812);
    assert_eq!(
        (&r["uid"], &r["user"], &r["nice"], &r["threads"]),
        (&json!(1000), &json!("alice"), &json!(19), &json!(7)),
        "the module's thread count wins: {r}"
    );
    let r = row(1);
    assert_eq!((&r["uid"], &r["user"]), (&json!(0), &json!("root")));
    assert!(r.get("nice").is_none() && r.get("threads").is_none(), "{r}");
    let snap: procpulse_model::Snapshot = serde_json::from_value(v.clone()).unwrap();
    procpulse_model::validate(&snap).unwrap();
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_uids_are_decimal_and_a_passwd_edit_is_seen() {
    let tree = TempTree::copy_of("kmod");
    let passwd = tree.0.join("passwd");
    std::fs::write(&passwd, "root:x:0:0::/:\n").unwrap();
    let mut c = config(&tree.0, SourceMode::Kmod);
    c.passwd_path = passwd.clone();
    let a = start(c).await;
    let user_of = |v: &Value, pid: u64| {
        v["top"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["pid"] == pid)
            .unwrap()["user"]
            .clone()
    };
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(user_of(&v, 812), "1000");
    assert_eq!(user_of(&v, 1), "root");
    std::fs::write(&passwd, "root:x:0:0::/:\ncarol:x:1000:1000::/:\n").unwrap();
    a.agent.sample_now().await.unwrap();
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(user_of(&v, 812), "carol");
    // The process table names the same way.
    let (_, t) = get_json(&a.url("/api/v1/processes?top=100")).await;
    let row = t["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pid"] == 900)
        .unwrap()
        .clone();
    assert_eq!((&row["uid"], &row["user"]), (&json!(1000), &json!("carol")));
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_top_is_at_most_50() {
    let mut c = config(&fixture("procfs"), SourceMode::Procfs);
    c.snapshot_top = 51;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let Err(err) = procpulse_agent::spawn(c, listener, procpulse_service::Shutdown::new()).await
    else {
        panic!("51 top rows accepted");
    };
    assert!(err.to_string().contains("at most 50"), "{err}");
    // 50 is served (the fixture has 9 processes: all of them).
    let mut c = config(&fixture("procfs"), SourceMode::Procfs);
    c.snapshot_top = 50;
    let a = start(c).await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    assert_eq!(v["top"].as_array().unwrap().len(), 9);
    a.stop().await;
}

/// Owner and name of a fixture pid directory (whoever checked the tree out).
fn owner(root: &Path, pid: u64) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(root.join(pid.to_string())).unwrap().uid()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procfs_top_rows_carry_owner_threads_and_nice() {
    let root = fixture("procfs");
    let a = start(config(&root, SourceMode::Procfs)).await;
    let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
    for r in v["top"].as_array().unwrap() {
        let pid = r["pid"].as_u64().unwrap();
        assert_eq!(r["uid"], owner(&root, pid), "{r}");
        assert!(r["user"].as_str().is_some_and(|u| !u.is_empty()), "{r}");
        assert_eq!(r["nice"], 0, "{r}");
        let want_threads = if pid == 2 || pid == 903 { 1 } else { 13 };
        assert_eq!(r["threads"], want_threads, "{r}");
    }
    a.stop().await;
}
