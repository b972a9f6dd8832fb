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
