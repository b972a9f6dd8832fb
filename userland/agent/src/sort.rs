//! The orders of the process table (`/api/v1/processes?sort=`): [`SortBy`] and the rows of
//! a background sample in each order.

use crate::sampler::Sample;
use procpulse_model::TopProcess;

/// How to order the process table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    /// CPU share, descending.
    Cpu,
    /// Resident set size, descending.
    Rss,
}

impl SortBy {
    /// The first `n` rows of `sample`'s process table in this order.
    pub(crate) fn rows(self, sample: &Sample, n: usize) -> Vec<TopProcess> {
        match self {
            // Already sorted by CPU share.
            SortBy::Cpu => sample
                .tasks
                .iter()
                .take(n)
                .map(|t| t.to_top(&sample.users))
                .collect(),
            SortBy::Rss => {
                let mut idx: Vec<&crate::sampler::Task> = sample.tasks.iter().collect();
                idx.sort_by(|a, b| b.rss_kb.cmp(&a.rss_kb).then(a.pid.cmp(&b.pid)));
                idx.into_iter()
                    .take(n)
                    .map(|t| t.to_top(&sample.users))
                    .collect()
            }
        }
    }
}
