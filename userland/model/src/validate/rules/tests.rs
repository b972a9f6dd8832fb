use crate::validate::decode_batch;
use crate::validate::test_support::{NOW, field_of, with, with_v2};

#[test]
fn percent_out_of_range_is_invalid_field() {
    let body = with(|v| v["cpu"]["usage_percent"] = serde_json::json!(100.5));
    let err = decode_batch(&body, NOW).unwrap_err();
    assert_eq!(err.field(), Some("cpu.usage_percent"));
    assert_eq!(err.to_string(), "cpu.usage_percent must be within 0..=100");
}

#[test]
fn used_above_total_is_invalid() {
    let body = with(|v| v["ram"]["used_kb"] = serde_json::json!(16000001));
    assert_eq!(field_of(&body).1, "ram.used_kb");
}

#[test]
fn future_timestamp_is_invalid_but_skew_is_tolerated() {
    let body = with(|v| v["collected_at"] = serde_json::json!("2026-11-23T10:06:00Z"));
    assert_eq!(field_of(&body).1, "collected_at");
    let body = with(|v| v["collected_at"] = serde_json::json!("2026-11-23T10:04:00+00:00"));
    assert!(decode_batch(&body, NOW).is_ok());
}

#[test]
fn host_rules() {
    for bad in ["", "has space", "sl/ash", &"x".repeat(65)] {
        let body = with(|v| v["host"] = serde_json::json!(bad));
        assert_eq!(field_of(&body).1, "host", "host {bad:?}");
    }
}

#[test]
fn sample_id_rules() {
    for bad in ["", "tab\there", "é", &"x".repeat(129)] {
        let body = with(|v| v["sample_id"] = serde_json::json!(bad));
        assert_eq!(field_of(&body).1, "sample_id", "sample_id {bad:?}");
    }
}

#[test]
fn total_must_match_categories() {
    let body = with(|v| v["procs"]["total"] = serde_json::json!(7));
    assert_eq!(field_of(&body).1, "procs.total");
}

#[test]
fn v2_rules_name_the_field() {
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            with_v2(|v| v["cpu"]["modes"]["steal"] = serde_json::json!(101.0)),
            "invalid_field",
            "cpu.modes.steal",
        ),
        (
            with_v2(|v| v["cpu"]["modes"]["idle"] = serde_json::json!(10.0)),
            "invalid_field",
            "cpu.modes",
        ),
        (
            with_v2(|v| v["cpu"]["modes"]["guest"] = serde_json::json!(50.0)),
            "invalid_field",
            "cpu.modes.guest",
        ),
        (
            with_v2(|v| {
                v["cpu"]["modes"].as_object_mut().unwrap().remove("irq");
            }),
            "missing_field",
            "cpu.modes.irq",
        ),
        (
            with_v2(|v| v["cpu"]["per_cpu"][2]["cpu"] = serde_json::json!(1)),
            "invalid_field",
            "cpu.per_cpu[2].cpu",
        ),
        (
            with_v2(|v| v["cpu"]["per_cpu"][1]["usage_percent"] = serde_json::json!(-0.5)),
            "invalid_field",
            "cpu.per_cpu[1].usage_percent",
        ),
        (
            with_v2(|v| v["cpu"]["per_cpu"][0]["cpu"] = serde_json::json!(-1)),
            "invalid_type",
            "cpu.per_cpu[0].cpu",
        ),
        (
            with_v2(|v| {
                let many: Vec<_> = (0..1025)
                    .map(|i| serde_json::json!({"cpu": i, "usage_percent": 1.0}))
                    .collect();
                v["cpu"]["per_cpu"] = serde_json::json!(many);
            }),
            "invalid_field",
            "cpu.per_cpu",
        ),
        (
            with_v2(|v| v["ram"]["buffers_kb"] = serde_json::json!(16000001)),
            "invalid_field",
            "ram.buffers_kb",
        ),
        (
            with_v2(|v| v["ram"]["shared_kb"] = serde_json::json!(16000001)),
            "invalid_field",
            "ram.shared_kb",
        ),
        (
            with_v2(|v| v["ram"]["swap_used_kb"] = serde_json::json!(0)),
            "invalid_field",
            "ram.swap_used_kb",
        ),
        (
            with_v2(|v| v["pressure"]["io"]["full"]["avg60"] = serde_json::json!(100.5)),
            "invalid_field",
            "pressure.io.full.avg60",
        ),
        (
            with_v2(|v| {
                v["pressure"]["cpu"]["some"]
                    .as_object_mut()
                    .unwrap()
                    .remove("total_us");
            }),
            "missing_field",
            "pressure.cpu.some.total_us",
        ),
        (
            with_v2(|v| v["top"][1]["nice"] = serde_json::json!(20)),
            "invalid_field",
            "top[1].nice",
        ),
        (
            with_v2(|v| v["top"][0]["threads"] = serde_json::json!(0)),
            "invalid_field",
            "top[0].threads",
        ),
        (
            with_v2(|v| v["top"][0]["user"] = serde_json::json!("")),
            "invalid_field",
            "top[0].user",
        ),
        (
            with_v2(|v| v["top"][0]["user"] = serde_json::json!("bad\nname")),
            "invalid_field",
            "top[0].user",
        ),
        (
            with_v2(|v| v["top"][0]["uid"] = serde_json::json!(-1)),
            "invalid_type",
            "top[0].uid",
        ),
    ];
    for (body, code, field) in cases {
        assert_eq!(field_of(&body), (code.into(), field.into()));
    }
}

#[test]
fn collected_at_is_bounded_below_after_conversion_to_utc() {
    for bad in [
        "1000-01-01T00:00:00Z",
        "0000-01-01T00:30:00+01:00",
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:30:00+01:00",
    ] {
        let body = with(|v| v["collected_at"] = serde_json::json!(bad));
        assert_eq!(
            field_of(&body),
            ("invalid_field".into(), "collected_at".into()),
            "{bad}"
        );
    }
    for good in ["1970-01-01T00:00:00Z", "1970-01-01T01:00:00+01:00"] {
        let body = with(|v| v["collected_at"] = serde_json::json!(good));
        assert!(decode_batch(&body, NOW).is_ok(), "{good}");
    }
}

#[test]
fn top_state_is_one_procps_letter() {
    for good in ["R", "S", "D", "T", "t", "Z", "X", "x", "I", "P"] {
        let body = with(|v| v["top"][0]["state"] = serde_json::json!(good));
        assert!(decode_batch(&body, NOW).is_ok(), "{good}");
    }
    for bad in ["Q", "é", "r", "", "SS", " ", "\u{0}", "1"] {
        let body = with(|v| v["top"][0]["state"] = serde_json::json!(bad));
        assert_eq!(
            field_of(&body),
            ("invalid_field".into(), "top[0].state".into()),
            "{bad:?}"
        );
    }
}

#[test]
fn integers_must_fit_their_columns() {
    let over = serde_json::json!(9_223_372_036_854_775_808u64);
    let max = serde_json::json!(i64::MAX);
    // Totals first so that the ≤ total rules do not fire before the column rule.
    for key in [
        "total_kb",
        "free_kb",
        "available_kb",
        "used_kb",
        "cached_kb",
        "swap_total_kb",
        "swap_free_kb",
    ] {
        let body = with(|v| {
            v["ram"]["total_kb"] = max.clone();
            v["ram"]["swap_total_kb"] = max.clone();
            v["ram"][key] = over.clone();
        });
        assert_eq!(field_of(&body).1, format!("ram.{key}"));
    }
    for key in ["buffers_kb", "shared_kb", "swap_used_kb"] {
        let body = with_v2(|v| v["ram"][key] = over.clone());
        assert_eq!(field_of(&body).1, format!("ram.{key}"));
    }
    for key in [
        "total",
        "running",
        "sleeping",
        "disk_sleep",
        "stopped",
        "traced",
        "zombie",
        "dead",
        "idle",
        "threads",
    ] {
        let body = with(|v| v["procs"][key] = over.clone());
        assert_eq!(field_of(&body).1, format!("procs.{key}"));
    }
    let body = with(|v| v["top"][0]["rss_kb"] = over.clone());
    assert_eq!(field_of(&body).1, "top[0].rss_kb");
    let body = with_v2(|v| v["pressure"]["memory"]["full"]["total_us"] = over.clone());
    assert_eq!(field_of(&body).1, "pressure.memory.full.total_us");
    // The largest storable values pass.
    let body = with(|v| {
        for key in ["total_kb", "used_kb"] {
            v["ram"][key] = max.clone();
        }
        v["ram"]["available_kb"] = serde_json::json!(0);
        v["top"][0]["rss_kb"] = max.clone();
        v["procs"]["threads"] = max.clone();
    });
    decode_batch(&body, NOW).unwrap();
}

#[test]
fn cores_must_fit_an_int_column() {
    let body = with(|v| v["cpu"]["cores"] = serde_json::json!(2_147_483_648u64));
    assert_eq!(
        field_of(&body),
        ("invalid_field".into(), "cpu.cores".into())
    );
    let body = with(|v| v["cpu"]["cores"] = serde_json::json!(2_147_483_647u64));
    assert!(decode_batch(&body, NOW).is_ok());
}

#[test]
fn a_process_sum_that_wraps_is_refused() {
    // 2 × (2^63 − 1) + 2 = 2^64, which wraps to 0 = total in u64 arithmetic.
    let body = with(|v| {
        let p = &mut v["procs"];
        for key in [
            "total",
            "disk_sleep",
            "stopped",
            "traced",
            "zombie",
            "dead",
            "idle",
        ] {
            p[key] = serde_json::json!(0);
        }
        p["running"] = serde_json::json!(i64::MAX);
        p["sleeping"] = serde_json::json!(i64::MAX);
        p["disk_sleep"] = serde_json::json!(2);
    });
    assert_eq!(
        field_of(&body),
        ("invalid_field".into(), "procs.total".into())
    );
    let p = crate::Procs {
        running: u64::MAX,
        idle: 1,
        ..Default::default()
    };
    assert_eq!(p.checked_category_sum(), None);
    assert_eq!(p.category_sum(), u64::MAX);
}

#[test]
fn nul_in_comm_is_refused() {
    let body = with(|v| v["top"][0]["comm"] = serde_json::json!("in\u{0}it"));
    assert_eq!(
        field_of(&body),
        ("invalid_field".into(), "top[0].comm".into())
    );
    let body = with_v2(|v| v["top"][0]["user"] = serde_json::json!("al\u{0}ice"));
    assert_eq!(field_of(&body).1, "top[0].user");
    // Four-byte characters are stored (utf8mb4) and read back.
    let body = with(|v| v["top"][0]["comm"] = serde_json::json!("🦀 (x) y"));
    let s = decode_batch(&body, NOW).unwrap().remove(0);
    assert_eq!(s.top[0].comm, "🦀 (x) y");
}
