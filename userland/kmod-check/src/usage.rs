//! Per-CPU /proc/stat lines and CPU usage between two readings (pure).

use std::collections::BTreeMap;

/// One `cpuN` line: user nice system idle iowait irq softirq steal, USER_HZ ticks.
pub type Ticks = [u64; 8];

/// The `cpuN` lines of /proc/stat (online CPUs only), by CPU id.
pub fn parse_stat_cpus(text: &str) -> BTreeMap<u64, Ticks> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cpu")?;
            let (id, vals) = rest.split_once(' ')?;
            let id = id.parse().ok()?;
            let mut t = [0u64; 8];
            let mut it = vals.split_ascii_whitespace();
            for v in &mut t {
                *v = it.next()?.parse().ok()?;
            }
            Some((id, t))
        })
        .collect()
}

/// (busy, total) ticks from `a` to `b`: busy = user+nice+system+irq+softirq+steal,
/// total = busy+idle+iowait.
pub fn busy_total(a: &Ticks, b: &Ticks) -> (u64, u64) {
    let d = |i: usize| b[i].saturating_sub(a[i]);
    let busy = d(0) + d(1) + d(2) + d(5) + d(6) + d(7);
    (busy, busy + d(3) + d(4))
}

/// Usage × 100 over the CPUs present in both readings, and the total ticks it covers.
pub fn usage_x100(a: &BTreeMap<u64, Ticks>, b: &BTreeMap<u64, Ticks>) -> (u64, u64) {
    let (mut busy, mut total) = (0, 0);
    for (id, tb) in b {
        if let Some(ta) = a.get(id) {
            let (x, y) = busy_total(ta, tb);
            busy += x;
            total += y;
        }
    }
    (busy * 10_000 / total.max(1), total)
}

/// Usage × 100 of one CPU between two readings, and its total ticks.
pub fn cpu_usage_x100(a: &Ticks, b: &Ticks) -> (u64, u64) {
    let (busy, total) = busy_total(a, b);
    (busy * 10_000 / total.max(1), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "cpu  10 0 10 400 0 0 0 0 0 0\ncpu0 5 0 5 200 0 0 0 0 0 0\ncpu2 5 0 5 200 0 0 0 0 0 0\nintr 5\n";
    const B: &str = "cpu  110 0 10 500 0 0 0 0 0 0\ncpu0 105 0 5 200 0 0 0 0 0 0\ncpu1 0 0 0 50 0 0 0 0 0 0\ncpu2 5 0 5 300 0 0 0 0 0 0\n";

    #[test]
    fn per_cpu_lines_and_usage_over_common_cpus() {
        let (a, b) = (parse_stat_cpus(A), parse_stat_cpus(B));
        assert_eq!(a.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(b[&1], [0, 0, 0, 50, 0, 0, 0, 0]);
        // cpu1 appeared: only 0 and 2 count; 100 busy of 200.
        assert_eq!(usage_x100(&a, &b), (5000, 200));
        assert_eq!(cpu_usage_x100(&a[&0], &b[&0]), (10_000, 100));
        assert_eq!(cpu_usage_x100(&a[&2], &b[&2]), (0, 100));
    }

    #[test]
    fn busy_counts_irq_softirq_steal_not_iowait() {
        let a = [0; 8];
        let b = [1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(busy_total(&a, &b), (6, 8));
    }
}
