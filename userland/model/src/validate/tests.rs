use super::*;
use time::macros::datetime;

const VALID: &str = include_str!("../../tests/fixtures/snapshot_valid.json");
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:01 UTC);

fn with(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn field_of(body: &[u8]) -> (String, String) {
    match decode_batch(body, NOW) {
        Err(ValidationError::Invalid { code, field, .. }) => (code.to_owned(), field),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn valid_fixture_decodes() {
    let snaps = decode_batch(VALID.as_bytes(), NOW).unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].host, "vm-1");
    assert_eq!(snaps[0].top[0].comm, "init");
}

#[test]
fn malformed_json_is_malformed() {
    let err = decode_batch(b"{\"host\":", NOW).unwrap_err();
    assert_eq!(err.code(), "malformed_json");
}

#[test]
fn missing_nested_field_names_its_path() {
    let body = with(|v| {
        v["cpu"].as_object_mut().unwrap().remove("usage_percent");
    });
    assert_eq!(
        field_of(&body),
        ("missing_field".into(), "cpu.usage_percent".into())
    );
}

#[test]
fn wrong_type_names_its_path() {
    let body = with(|v| v["procs"]["zombie"] = serde_json::json!("five"));
    assert_eq!(
        field_of(&body),
        ("invalid_type".into(), "procs.zombie".into())
    );
}

#[test]
fn negative_count_is_refused() {
    let body = with(|v| v["procs"]["zombie"] = serde_json::json!(-1));
    assert_eq!(field_of(&body).1, "procs.zombie");
}

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
fn bad_timestamp_is_invalid_type() {
    let body = with(|v| v["collected_at"] = serde_json::json!("yesterday"));
    assert_eq!(field_of(&body).1, "collected_at");
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
fn unknown_fields_are_ignored() {
    let body = with(|v| v["extra"] = serde_json::json!({"anything": [1, 2]}));
    assert!(decode_batch(&body, NOW).is_ok());
}

#[test]
fn array_errors_carry_the_index() {
    let good: serde_json::Value = serde_json::from_str(VALID).unwrap();
    let mut bad = good.clone();
    bad["ram"]["used_percent"] = serde_json::json!(-1.0);
    let body = serde_json::to_vec(&serde_json::json!([good, bad])).unwrap();
    let err = decode_batch(&body, NOW).unwrap_err();
    assert_eq!(err.field(), Some("[1].ram.used_percent"));
    assert!(
        err.to_string().starts_with("[1].ram.used_percent "),
        "{err}"
    );

    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("host");
    let body = serde_json::to_vec(&serde_json::json!([good, missing])).unwrap();
    assert_eq!(
        decode_batch(&body, NOW).unwrap_err().field(),
        Some("[1].host")
    );
}

#[test]
fn batch_limits() {
    assert_eq!(decode_batch(b"[]", NOW).unwrap_err().code(), "empty_batch");
    let one: serde_json::Value = serde_json::from_str(VALID).unwrap();
    let many = serde_json::Value::Array(vec![one; MAX_BATCH + 1]);
    let body = serde_json::to_vec(&many).unwrap();
    assert_eq!(
        decode_batch(&body, NOW).unwrap_err().code(),
        "batch_too_large"
    );
}

#[test]
fn total_must_match_categories() {
    let body = with(|v| v["procs"]["total"] = serde_json::json!(7));
    assert_eq!(field_of(&body).1, "procs.total");
}

#[test]
fn from_slice_distinguishes_syntax_from_types() {
    assert_eq!(
        from_slice(b"{\"host\": ").unwrap_err().code(),
        "malformed_json"
    );
    assert_eq!(from_slice(b"{}").unwrap_err().code(), "missing_field");
    assert!(from_slice(VALID.as_bytes()).is_ok());
}

#[test]
fn syntax_errors_win_over_earlier_type_errors() {
    // A wrong type early and broken JSON later: the body is malformed (400), not invalid.
    assert_eq!(
        decode_batch(b"{\"host\": 5, \"cpu\": ", NOW)
            .unwrap_err()
            .code(),
        "malformed_json"
    );
    assert_eq!(
        decode_batch(b"[{\"host\": 5}, {", NOW).unwrap_err().code(),
        "malformed_json"
    );
    assert_eq!(
        decode_batch(b"{\"host\": 5} trailing", NOW)
            .unwrap_err()
            .code(),
        "malformed_json"
    );
}

#[test]
fn array_type_errors_carry_the_index_and_size_limits_come_first() {
    let good: serde_json::Value = serde_json::from_str(VALID).unwrap();
    let mut bad = good.clone();
    bad["cpu"]["usage_percent"] = serde_json::json!("high");
    let body = serde_json::to_vec(&serde_json::json!([good, good, bad])).unwrap();
    assert_eq!(
        field_of(&body),
        ("invalid_type".into(), "[2].cpu.usage_percent".into())
    );
    // Too many elements is reported as such even when an element is also mistyped.
    let mut many = vec![good; MAX_BATCH];
    many.push(bad);
    let body = serde_json::to_vec(&many).unwrap();
    assert_eq!(
        decode_batch(&body, NOW).unwrap_err().code(),
        "batch_too_large"
    );
    // Scalars and null at the top level are type errors of the snapshot itself.
    for body in [&b"5"[..], b"null", b"\"x\"", b"true"] {
        assert_eq!(field_of(body), ("invalid_type".into(), String::new()));
    }
}

const V2: &str = include_str!("../../tests/fixtures/snapshot_v2.json");

fn with_v2(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(V2).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn v2_fixture_decodes_and_round_trips() {
    let s = decode_batch(V2.as_bytes(), NOW).unwrap().remove(0);
    let modes = s.cpu.modes.unwrap();
    assert_eq!((modes.user, modes.guest), (15.2, 3.0));
    assert_eq!(s.cpu.per_cpu.len(), 4);
    assert_eq!(s.cpu.per_cpu[3].cpu, 3);
    assert_eq!(s.ram.swap_used_kb, Some(1048572));
    assert_eq!(s.top[0].user.as_deref(), Some("alice"));
    assert_eq!(s.top[2].nice, Some(-5));
    let p = s.pressure.unwrap();
    assert_eq!(p.memory.unwrap().full.unwrap().total_us, 456789);
    // Serializing and decoding again gives the same snapshot.
    let again = decode_batch(&serde_json::to_vec(&s).unwrap(), NOW)
        .unwrap()
        .remove(0);
    assert_eq!(again, s);
}

#[test]
fn v1_snapshot_serializes_without_v2_keys() {
    let s = decode_batch(VALID.as_bytes(), NOW).unwrap().remove(0);
    assert_eq!(s.cpu.modes, None);
    assert!(s.cpu.per_cpu.is_empty() && s.pressure.is_none());
    let text = serde_json::to_string(&s).unwrap();
    for key in [
        "modes",
        "per_cpu",
        "pressure",
        "buffers_kb",
        "swap_used_kb",
        "\"user\"",
    ] {
        assert!(!text.contains(key), "{key} in {text}");
    }
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
fn v2_pressure_may_be_partial_and_cpu_full_absent() {
    let body = with_v2(|v| {
        v["pressure"].as_object_mut().unwrap().remove("io");
        v["pressure"]["cpu"].as_object_mut().unwrap().remove("full");
    });
    let s = decode_batch(&body, NOW).unwrap().remove(0);
    let p = s.pressure.unwrap();
    assert!(p.io.is_none() && p.cpu.unwrap().full.is_none());
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
fn date_time_separator_is_t_only() {
    for bad in [
        "2026-11-23X10:00:00Z",
        "2026-11-23_10:00:00Z",
        "2026-11-23 10:00:00Z",
        "2026-11-23\u{0}10:00:00Z",
        "2026-11-23",
    ] {
        let body = with(|v| v["collected_at"] = serde_json::json!(bad));
        assert_eq!(
            field_of(&body),
            ("invalid_type".into(), "collected_at".into()),
            "{bad:?}"
        );
    }
    let body = with(|v| v["collected_at"] = serde_json::json!("2026-11-23t10:00:00z"));
    let s = decode_batch(&body, NOW).unwrap().remove(0);
    assert_eq!(s.collected_at, datetime!(2026-11-23 10:00:00 UTC));
}

/// The fixture's values in field order, as a JSON array (what serde's derived visitors
/// would take as a struct by position).
fn positional(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => m.values().map(positional).collect(),
        serde_json::Value::Array(a) => a.iter().map(positional).collect(),
        other => other.clone(),
    }
}

#[test]
fn positional_arrays_are_not_snapshots() {
    let valid: serde_json::Value = serde_json::from_str(VALID).unwrap();
    // Sanity: the positional form has one element per field, nested ones too.
    let pos = positional(&valid);
    assert!(pos.is_array() && pos[4].is_array());
    let body = serde_json::to_vec(&pos).unwrap();
    let err = decode_batch(&body, NOW).unwrap_err();
    assert_eq!(err.code(), "invalid_type", "{err}");
    assert!(
        err.to_string().contains("expected struct Snapshot"),
        "{err}"
    );
    assert_eq!(err, decode_batch_checked(&body, NOW).unwrap_err());
    let body = serde_json::to_vec(&serde_json::json!([pos, pos])).unwrap();
    assert_eq!(field_of(&body), ("invalid_type".into(), "[0]".into()));
    // A nested object by position, in an otherwise valid snapshot.
    for key in ["cpu", "ram", "procs"] {
        let body = with(|v| v[key] = positional(&v[key]));
        assert_eq!(field_of(&body), ("invalid_type".into(), key.into()));
    }
    let body = with(|v| v["top"][0] = positional(&v["top"][0]));
    assert_eq!(field_of(&body), ("invalid_type".into(), "top[0]".into()));
    let body = with_v2(|v| v["pressure"]["io"]["some"] = positional(&v["pressure"]["io"]["some"]));
    assert_eq!(
        field_of(&body),
        ("invalid_type".into(), "pressure.io.some".into())
    );
    for key in ["modes", "per_cpu"] {
        let body = with_v2(|v| v["cpu"][key] = positional(&v["cpu"][key]));
        assert_eq!(field_of(&body).0, "invalid_type", "{key}");
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
