//! The compact text forms of the snapshot v2 groups stored in `cpu_modes`, `cpu_per_cpu`
//! and `pressure` (one TEXT column each, NULL when the snapshot has no such group).
//!
//! Every number is written with Rust's shortest exact form (`{}` of `f64`/`u64`: `80.5`,
//! `2` for 2.0), so a value reads back bit for bit; no names, no quotes, no brackets:
//!
//! - `cpu_modes`: the ten modes comma-separated in /proc/stat order
//!   `user,nice,system,idle,iowait,irq,softirq,steal,guest,guest_nice`, e.g.
//!   `15.2,1.05,4.5,75.05,1.5,0.2,0.5,2,3,0`.
//! - `cpu_per_cpu`: one item per CPU, comma-separated; an item is `usage` when its CPU
//!   number is the previous one's plus one (the first: CPU 0), else `cpu:usage`. The
//!   usual contiguous `0..n` is just the usages: `80.5,5.25,0,8.05`; CPUs 0, 2, 3 are
//!   `80.5,2:5.25,0`.
//! - `pressure`: `cpu;memory;io`, each empty when that resource is absent, else its `some`
//!   line or `some/full`; a line is `avg10,avg60,avg300,total_us`, e.g.
//!   `12.04,8.71,3.02,98765432/0,0,0,0;1.25,0.4,0.09,1234567;`. A `pressure` object with
//!   no resource at all is `;;` (distinct from NULL: no object).
//!
//! Decoding is strict (exact item counts, no stray text) and returns what is wrong.

use procpulse_model::{CoreUsage, CpuModes, Pressure, PressureLine, PressureStall};
use std::fmt::Write;

fn num(out: &mut String, v: f64) {
    let _ = write!(out, "{v}");
}

fn parse_f64(s: &str, what: &str) -> Result<f64, String> {
    // `str::parse` also takes "inf"/"NaN"; the encoder never writes them (values are
    // validated finite), so refusing them keeps the format to plain decimals.
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{what}: not a number: {s:?}")),
    }
}

/// `cpu_modes` text of `m`.
pub fn encode_modes(m: &CpuModes) -> String {
    let mut out = String::with_capacity(64);
    for (i, (_, v)) in m.all().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        num(&mut out, *v);
    }
    out
}

/// Reads `cpu_modes` text.
pub fn decode_modes(s: &str) -> Result<CpuModes, String> {
    let mut v = [0.0; 10];
    let mut parts = s.split(',');
    for slot in v.iter_mut() {
        let p = parts
            .next()
            .ok_or_else(|| format!("cpu_modes: fewer than 10 values in {s:?}"))?;
        *slot = parse_f64(p, "cpu_modes")?;
    }
    if parts.next().is_some() {
        return Err(format!("cpu_modes: more than 10 values in {s:?}"));
    }
    Ok(CpuModes::from_array(v))
}

/// `cpu_per_cpu` text of `cores` (empty for no entry; store NULL then).
pub fn encode_per_cpu(cores: &[CoreUsage]) -> String {
    let mut out = String::with_capacity(cores.len() * 6);
    let mut next: u64 = 0;
    for (i, c) in cores.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if u64::from(c.cpu) != next {
            let _ = write!(out, "{}:", c.cpu);
        }
        num(&mut out, c.usage_percent);
        next = u64::from(c.cpu) + 1;
    }
    out
}

/// Reads `cpu_per_cpu` text.
pub fn decode_per_cpu(s: &str) -> Result<Vec<CoreUsage>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(s.len() / 4 + 1);
    let mut next: u64 = 0;
    for item in s.split(',') {
        let (cpu, usage) = match item.split_once(':') {
            Some((cpu, usage)) => (
                cpu.parse::<u32>()
                    .map_err(|_| format!("cpu_per_cpu: bad cpu number in {item:?}"))?,
                usage,
            ),
            None => (
                u32::try_from(next).map_err(|_| "cpu_per_cpu: cpu number overflow".to_owned())?,
                item,
            ),
        };
        out.push(CoreUsage {
            cpu,
            usage_percent: parse_f64(usage, "cpu_per_cpu")?,
        });
        next = u64::from(cpu) + 1;
    }
    Ok(out)
}

fn line(out: &mut String, l: &PressureLine) {
    num(out, l.avg10);
    out.push(',');
    num(out, l.avg60);
    out.push(',');
    num(out, l.avg300);
    let _ = write!(out, ",{}", l.total_us);
}

fn parse_line(s: &str) -> Result<PressureLine, String> {
    let mut p = s.split(',');
    let mut next = || {
        p.next()
            .ok_or_else(|| format!("pressure: a line needs 4 values: {s:?}"))
    };
    let avg10 = parse_f64(next()?, "pressure")?;
    let avg60 = parse_f64(next()?, "pressure")?;
    let avg300 = parse_f64(next()?, "pressure")?;
    let total = next()?;
    let total_us = total
        .parse::<u64>()
        .map_err(|_| format!("pressure: bad total_us {total:?}"))?;
    if p.next().is_some() {
        return Err(format!("pressure: a line needs 4 values: {s:?}"));
    }
    Ok(PressureLine {
        avg10,
        avg60,
        avg300,
        total_us,
    })
}

/// `pressure` text of `p`.
pub fn encode_pressure(p: &Pressure) -> String {
    let mut out = String::with_capacity(128);
    for (i, stall) in [&p.cpu, &p.memory, &p.io].into_iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        if let Some(stall) = stall {
            line(&mut out, &stall.some);
            if let Some(full) = &stall.full {
                out.push('/');
                line(&mut out, full);
            }
        }
    }
    out
}

/// Reads `pressure` text.
pub fn decode_pressure(s: &str) -> Result<Pressure, String> {
    let parts: Vec<&str> = s.split(';').collect();
    let [cpu, memory, io] = parts[..] else {
        return Err(format!(
            "pressure: needs 3 resources (cpu;memory;io): {s:?}"
        ));
    };
    let stall = |r: &str| -> Result<Option<PressureStall>, String> {
        if r.is_empty() {
            return Ok(None);
        }
        let (some, full) = match r.split_once('/') {
            Some((some, full)) => (some, Some(parse_line(full)?)),
            None => (r, None),
        };
        Ok(Some(PressureStall {
            some: parse_line(some)?,
            full,
        }))
    };
    Ok(Pressure {
        cpu: stall(cpu)?,
        memory: stall(memory)?,
        io: stall(io)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> procpulse_model::Snapshot {
        serde_json::from_str(include_str!("../../model/tests/fixtures/snapshot_v2.json")).unwrap()
    }

    #[test]
    fn the_fixture_encodes_compactly_and_round_trips() {
        let s = v2();
        let modes = encode_modes(s.cpu.modes.as_ref().unwrap());
        assert_eq!(modes, "15.2,1.05,4.5,75.05,1.5,0.2,0.5,2,3,0");
        assert_eq!(decode_modes(&modes).unwrap(), s.cpu.modes.unwrap());
        let per = encode_per_cpu(&s.cpu.per_cpu);
        assert_eq!(per, "80.5,5.25,0,8.05");
        assert_eq!(decode_per_cpu(&per).unwrap(), s.cpu.per_cpu);
        let p = encode_pressure(s.pressure.as_ref().unwrap());
        assert_eq!(
            p,
            "12.04,8.71,3.02,98765432/0,0,0,0;1.25,0.4,0.09,1234567/0.5,0.12,0.03,456789;\
             0,0.1,0.2,5555/0,0.05,0.1,2222"
        );
        assert_eq!(decode_pressure(&p).unwrap(), s.pressure.unwrap());
    }

    #[test]
    fn gaps_absent_resources_and_awkward_numbers_round_trip() {
        let cores: Vec<CoreUsage> = [
            (1, 0.1 + 0.2),
            (2, 100.0),
            (7, 1e-7),
            (8, 33.333333333333336),
            (1023, 0.0),
        ]
        .into_iter()
        .map(|(cpu, usage_percent)| CoreUsage { cpu, usage_percent })
        .collect();
        let text = encode_per_cpu(&cores);
        assert_eq!(
            text,
            "1:0.30000000000000004,100,7:0.0000001,33.333333333333336,1023:0"
        );
        assert_eq!(decode_per_cpu(&text).unwrap(), cores);
        assert_eq!(decode_per_cpu("").unwrap(), Vec::new());

        let line = PressureLine {
            avg10: 99.99,
            avg60: 0.0,
            avg300: 100.0,
            total_us: u64::MAX,
        };
        for p in [
            Pressure::default(),
            Pressure {
                cpu: None,
                memory: Some(PressureStall {
                    some: line,
                    full: None,
                }),
                io: None,
            },
            Pressure {
                cpu: Some(PressureStall {
                    some: line,
                    full: None,
                }),
                memory: None,
                io: Some(PressureStall {
                    some: line,
                    full: Some(line),
                }),
            },
        ] {
            let text = encode_pressure(&p);
            assert_eq!(decode_pressure(&text).unwrap(), p, "{text}");
        }
        assert_eq!(encode_pressure(&Pressure::default()), ";;");
    }

    #[test]
    fn damaged_text_is_an_error_not_a_guess() {
        for bad in [
            "",
            "1,2",
            "1,2,3,4,5,6,7,8,9,10,11",
            "1,2,3,4,5,6,7,8,9,x",
            "1,2,3,4,5,6,7,8,9,NaN",
        ] {
            assert!(decode_modes(bad).is_err(), "{bad:?}");
        }
        for bad in ["1,,2", "x", "-1:5", "3:", "1:2:3", "inf"] {
            assert!(decode_per_cpu(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            ";",
            ";;;",
            "1,2,3;;",
            "1,2,3,x;;",
            "1,2,3,-4;;",
            "1,2,3,4/;;",
            "1,2,3,4,5;;",
        ] {
            assert!(decode_pressure(bad).is_err(), "{bad:?}");
        }
    }
}
