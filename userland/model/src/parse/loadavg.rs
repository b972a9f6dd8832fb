//! `/proc/loadavg`: `0.50 0.40 0.30 2/345 12345`.

use super::{ParseError, num};

const FILE: &str = "/proc/loadavg";

/// The load averages and task counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loadavg {
    /// 1-minute load average.
    pub load1: f64,
    /// 5-minute load average.
    pub load5: f64,
    /// 15-minute load average.
    pub load15: f64,
    /// Currently runnable scheduling entities (threads).
    pub runnable: u64,
    /// Scheduling entities (threads) that exist.
    pub entities: u64,
    /// Most recently assigned pid.
    pub last_pid: u64,
}

fn load(field: &'static str, v: Option<&str>) -> Result<f64, ParseError> {
    let x: f64 = num(FILE, field, v)?;
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(ParseError::Invalid {
            file: FILE,
            field,
            value: x.to_string(),
        })
    }
}

/// Parses /proc/loadavg.
pub fn parse_loadavg(text: &str) -> Result<Loadavg, ParseError> {
    let mut f = text.split_ascii_whitespace();
    let load1 = load("load1", f.next())?;
    let load5 = load("load5", f.next())?;
    let load15 = load("load15", f.next())?;
    let tasks = f.next().ok_or(ParseError::Missing {
        file: FILE,
        field: "runnable/entities",
    })?;
    let (r, e) = tasks.split_once('/').ok_or(ParseError::Invalid {
        file: FILE,
        field: "runnable/entities",
        value: super::truncate(tasks),
    })?;
    Ok(Loadavg {
        load1,
        load5,
        load15,
        runnable: num(FILE, "runnable", Some(r))?,
        entities: num(FILE, "entities", Some(e))?,
        last_pid: num(FILE, "last_pid", f.next())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_captured_text() {
        let l = parse_loadavg("3.99 1.72 0.68 6/136 15576\n").unwrap();
        assert_eq!((l.load1, l.load5, l.load15), (3.99, 1.72, 0.68));
        assert_eq!((l.runnable, l.entities, l.last_pid), (6, 136, 15576));
    }

    #[test]
    fn truncated_and_malformed() {
        assert!(matches!(
            parse_loadavg("3.99 1.72"),
            Err(ParseError::Missing {
                field: "load15",
                ..
            })
        ));
        assert!(parse_loadavg("3.99 1.72 0.68 6-136 1").is_err());
        assert!(parse_loadavg("3.99 1.72 0.68 6/136").is_err());
        assert!(parse_loadavg("nan 1 1 1/1 1").is_err());
        assert!(parse_loadavg("-1 1 1 1/1 1").is_err());
        assert!(parse_loadavg("").is_err());
    }
}
