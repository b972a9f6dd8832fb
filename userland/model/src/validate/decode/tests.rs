use super::*;
use crate::validate::test_support::{NOW, V2, VALID, field_of, with, with_v2};
use time::macros::datetime;

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
fn bad_timestamp_is_invalid_type() {
    let body = with(|v| v["collected_at"] = serde_json::json!("yesterday"));
    assert_eq!(field_of(&body).1, "collected_at");
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
