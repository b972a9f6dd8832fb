//! The agent: its state, its start-up, and the building of snapshots from the module
//! files or the /proc fallback's background sample. The background loops are in
//! `background.rs`, the snapshot's JSON encoding in `snapshot_json.rs`, the process
//! table's orders in `sort.rs` and the served paths in `routes.rs`; their public items
//! are re-exported here, so `collect::ROUTES`, `collect::SortBy` and
//! `collect::SAMPLER_NICE` stay.

use crate::background;
use crate::config::{Config, SourceMode};
use crate::files::{ProcFile, ProcFiles, ReadError};
use crate::host_metrics::HostMetrics;
use crate::ids::{SampleIds, instance_tag, sanitize_host};
use crate::push_metrics::PushMetrics;
use crate::same_ms::SameMillisecond;
use crate::sampler::{Sample, Sampler};
use crate::snapshot_json;
use crate::source::SourceState;
use procpulse_model::parse;
use procpulse_model::snapshot::MAX_TOP;
use procpulse_model::{Cpu, Procs, Ram, Snapshot, Source, TopProcess};
use procpulse_service::Shutdown;
use procpulse_service::metrics::{HttpMetrics, MetricsRegistry, new_registry};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

pub use crate::background::SAMPLER_NICE;
pub use crate::routes::ROUTES;
pub use crate::sort::SortBy;

/// Why no snapshot could be taken (answered as 503).
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A source file could not be read or parsed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The /proc fallback has not taken its first CPU sample yet.
    #[error("no CPU/process sample yet")]
    NoSample,
    /// JSON encoding failed (not expected).
    #[error("encoding the snapshot: {0}")]
    Encode(String),
}

/// A running agent.
#[derive(Debug)]
pub struct Agent {
    config: Config,
    host: String,
    files: Arc<ProcFiles>,
    source: SourceState,
    sampler: Arc<Sampler>,
    ids: SampleIds,
    registry: MetricsRegistry,
    http: Arc<HttpMetrics>,
    host_metrics: HostMetrics,
    push_metrics: PushMetrics,
    /// The web config's credentials, built once (a bcrypt hash at start) and shared by
    /// every server thread, so a verified login is cached for all of them.
    auth: Option<Arc<crate::auth::Authenticator>>,
    /// The module readings of the current millisecond (see [`SameMillisecond`]).
    kmod_readings: SameMillisecond<KmodReadings>,
}

/// What one snapshot reads from the modules (and /proc/meminfo's swap).
#[derive(Debug, Clone)]
struct KmodReadings {
    cpu: Cpu,
    ram: Ram,
    procs: Procs,
}

fn now_ms() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    let ms = t.nanosecond() / 1_000_000 * 1_000_000;
    t.replace_nanosecond(ms).unwrap_or(t)
}

impl Agent {
    /// Builds the agent, takes the first sample and starts the background tasks (sampler,
    /// module re-check) that stop when `shutdown` fires.
    pub async fn start(config: Config, shutdown: Shutdown) -> anyhow::Result<Arc<Self>> {
        let files = Arc::new(ProcFiles::new(&config.proc_root));
        let host = match &config.hostname {
            Some(h) => sanitize_host(h),
            None => sanitize_host(
                &std::fs::read_to_string(config.proc_root.join("sys/kernel/hostname"))
                    .unwrap_or_default(),
            ),
        };
        let boot_id = std::fs::read_to_string(config.proc_root.join("sys/kernel/random/boot_id"))
            .unwrap_or_default();
        let start = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let tag = instance_tag(&boot_id, start, std::process::id());
        let ids = SampleIds::new(&host, &tag);
        let source = SourceState::new(config.source, &files);
        anyhow::ensure!(
            config.snapshot_top <= MAX_TOP,
            "snapshot_top is {} but a snapshot holds at most {MAX_TOP} top rows",
            config.snapshot_top
        );
        let sampler = Arc::new(Sampler::new(
            files.clone(),
            config.snapshot_top,
            &config.passwd_path,
        ));

        let mut reg = new_registry();
        let http = HttpMetrics::register(&mut reg, ROUTES);
        let host_metrics = HostMetrics::register(&mut reg);
        let push_metrics = PushMetrics::register(&mut reg);
        let auth = crate::auth::Authenticator::new(&config.web);
        let agent = Arc::new(Agent {
            auth,
            kmod_readings: SameMillisecond::default(),
            config,
            host,
            files,
            source,
            sampler,
            ids,
            registry: Arc::new(reg),
            http,
            host_metrics,
            push_metrics,
        });
        tracing::info!(
            host = %agent.host,
            id_prefix = agent.ids.prefix(),
            proc_root = %agent.config.proc_root.display(),
            "Agent starting"
        );
        if let Err(e) = agent.clone().sample_once().await {
            tracing::warn!(error = %e, "First CPU/process sample failed; will retry");
        }
        let sampling = agent.clone();
        tokio::spawn(background::sampler_loop(
            agent.config.sample_interval,
            shutdown.clone(),
            move || sampling.clone().sample_once(),
        ));
        if agent.config.source == SourceMode::Auto {
            let rechecking = agent.clone();
            tokio::spawn(background::recheck_loop(
                agent.config.module_check_interval,
                shutdown,
                move || {
                    if rechecking.source.recheck(&rechecking.files) {
                        rechecking.files.invalidate();
                    }
                },
            ));
        }
        Ok(agent)
    }

    /// Takes a background sample now (as the sampler does every interval) and returns
    /// it; for tests and embedders that need a window of their own choosing.
    pub async fn sample_now(self: &Arc<Self>) -> Result<Arc<Sample>, ReadError> {
        self.clone().sample_once().await
    }

    async fn sample_once(self: Arc<Self>) -> Result<Arc<Sample>, ReadError> {
        let this = self.clone();
        background::run_lowered(move || {
            let kmod = this.source.current() == Source::Kmod;
            this.sampler.tick(kmod)
        })
        .await
    }

    /// The web config's authenticator (`None` when no credentials are configured).
    pub fn authenticator(&self) -> Option<Arc<crate::auth::Authenticator>> {
        self.auth.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The host name in snapshots.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The source snapshots are read from now.
    pub fn source(&self) -> Source {
        self.source.current()
    }

    /// The request metrics.
    pub fn http_metrics(&self) -> &Arc<HttpMetrics> {
        &self.http
    }

    /// The push metrics.
    pub fn push_metrics(&self) -> &PushMetrics {
        &self.push_metrics
    }

    /// The latest background sample.
    pub fn latest_sample(&self) -> Option<Arc<Sample>> {
        self.sampler.latest()
    }

    /// Takes one fresh snapshot with a new sample id (owned, with `top` copied).
    pub fn snapshot(&self) -> Result<Snapshot, CollectError> {
        let (mut snap, sample) = self.take()?;
        snap.top = self.top(sample.as_deref()).to_vec();
        Ok(snap)
    }

    /// Takes one fresh snapshot with a new sample id and returns it as JSON, borrowing
    /// `top` from the background sample instead of copying it (the request path).
    pub fn snapshot_json(&self) -> Result<Vec<u8>, CollectError> {
        let (snap, sample) = self.take()?;
        let top = self.top(sample.as_deref());
        snapshot_json::encode(&snap, sample.as_deref(), top)
            .map_err(|e| CollectError::Encode(e.to_string()))
    }

    /// A fresh snapshot with an empty `top`, and the sample its top rows come from.
    fn take(&self) -> Result<(Snapshot, Option<Arc<Sample>>), CollectError> {
        let sample = self.sampler.latest();
        let snap = match self.source.current() {
            Source::Kmod => match self.read_kmod(sample.as_deref()) {
                Ok(s) => s,
                Err(e) if self.source.mode() == SourceMode::Auto => {
                    if self.source.set_kmod(false, "module file unreadable") {
                        tracing::warn!(error = %e, "Falling back to /proc");
                        self.files.invalidate();
                    }
                    self.read_procfs(sample.as_deref())?
                }
                Err(e) => return Err(e),
            },
            Source::Procfs => self.read_procfs(sample.as_deref())?,
        };
        self.host_metrics.count_sample(snap.source);
        Ok((snap, sample))
    }

    fn top<'a>(&self, sample: Option<&'a Sample>) -> &'a [TopProcess] {
        let n = self.config.snapshot_top.min(MAX_TOP);
        sample.map(|s| &s.top[..n.min(s.top.len())]).unwrap_or(&[])
    }

    /// The module files, read afresh once per millisecond (see [`SameMillisecond`]);
    /// per-mode shares and pressure from the background `sample` (the module's counters
    /// over the sampler's window: see [`Sample::kmod_modes`]).
    fn read_kmod(&self, sample: Option<&Sample>) -> Result<Snapshot, CollectError> {
        let collected_at = now_ms();
        let KmodReadings {
            mut cpu,
            ram,
            procs,
        } = self
            .kmod_readings
            .get(collected_at, || self.read_kmod_files())?;
        cpu.modes = sample.and_then(|s| s.kmod_modes);
        Ok(Snapshot {
            sample_id: self.ids.next_id(),
            host: self.host.clone(),
            collected_at,
            source: Source::Kmod,
            cpu,
            ram,
            procs,
            top: Vec::new(),
            pressure: sample.and_then(|s| s.pressure),
        })
    }

    fn read_kmod_files(&self) -> Result<KmodReadings, ReadError> {
        let cpu = self
            .files
            .read_with(ProcFile::KmodCpu, parse::parse_procpulse_cpu)?
            .to_cpu();
        let kram = self
            .files
            .read_with(ProcFile::KmodRam, parse::parse_procpulse_ram)?;
        // SwapTotal/SwapFree always come from /proc/meminfo: Linux 6.12 exports neither
        // to modules, so current modules omit them, and older modules printed free swap
        // as both (wrong on any host with swap in use).
        let m = self
            .files
            .read_with(ProcFile::Meminfo, parse::parse_meminfo)?;
        let ram = kram.to_ram_with_swap(m.swap_total_kb, m.swap_free_kb);
        let procs = self
            .files
            .read_with(ProcFile::KmodProcs, parse::parse_procpulse_procs)?;
        Ok(KmodReadings { cpu, ram, procs })
    }

    fn read_procfs(&self, sample: Option<&Sample>) -> Result<Snapshot, CollectError> {
        let sample = sample.ok_or(CollectError::NoSample)?;
        let ram = self
            .files
            .read_with(ProcFile::Meminfo, parse::parse_meminfo)?
            .to_ram();
        let load = &sample.load;
        Ok(Snapshot {
            sample_id: self.ids.next_id(),
            host: self.host.clone(),
            collected_at: now_ms(),
            source: Source::Procfs,
            cpu: Cpu {
                usage_percent: sample.cpu_usage_percent,
                cores: sample.cores,
                load1: load.load1,
                load5: load.load5,
                load15: load.load15,
                modes: sample.cpu_modes,
                per_cpu: sample.per_cpu.clone(),
            },
            ram,
            procs: sample.procs.clone(),
            top: Vec::new(),
            pressure: sample.pressure,
        })
    }

    /// The process table, top `n` by `sort`, from the latest background sample.
    pub fn processes(
        &self,
        n: usize,
        sort: SortBy,
    ) -> Result<(Arc<Sample>, Vec<TopProcess>), CollectError> {
        let sample = self.sampler.latest().ok_or(CollectError::NoSample)?;
        let rows = sort.rows(&sample, n);
        Ok((sample, rows))
    }

    /// Ready when a snapshot can be taken from the current source.
    pub fn ready(&self) -> Result<Source, CollectError> {
        self.snapshot_probe()
    }

    fn snapshot_probe(&self) -> Result<Source, CollectError> {
        match self.source.current() {
            Source::Kmod => {
                self.files
                    .read_with(ProcFile::KmodCpu, parse::parse_procpulse_cpu)?;
                Ok(Source::Kmod)
            }
            Source::Procfs => {
                self.sampler.latest().ok_or(CollectError::NoSample)?;
                self.files
                    .read_with(ProcFile::Meminfo, parse::parse_meminfo)?;
                Ok(Source::Procfs)
            }
        }
    }

    /// Renders `/metrics` in `format`: the agent's own metrics, and the host series from a
    /// fresh snapshot and the CPU time counters read now, from the snapshot's source.
    pub fn render_metrics(&self, format: procpulse_service::metrics::Format) -> String {
        let snap = self
            .snapshot()
            .inspect_err(|e| tracing::debug!(error = %e, "No snapshot for /metrics"))
            .ok();
        let source = snap.as_ref().map_or_else(|| self.source(), |s| s.source);
        let cpu =
            crate::host_metrics::CpuSeconds::read(&self.files, source, self.sampler.clk_tck());
        let host = self.host_metrics.scrape(snap.as_ref(), cpu.as_ref());
        procpulse_service::metrics::render(format, &[&self.registry, &host])
    }

    /// How long the push loop waits between snapshots.
    pub fn push_interval(&self) -> Option<Duration> {
        self.config.push.as_ref().map(|p| p.interval)
    }
}
