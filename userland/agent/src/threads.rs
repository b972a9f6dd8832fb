//! Serving on one single-threaded runtime per core.
//!
//! Each server thread runs its own current-thread tokio runtime and accepts on its own
//! `SO_REUSEPORT` socket bound to the same address, so the kernel spreads connections
//! over the threads and a connection stays on the thread that accepted it: no
//! work-stealing hand-offs or cross-thread wake-ups on the request path. With the load
//! generator on the same two cores this cut the snapshot p99 (BENCHMARKS.md, agent).
//! The agent's background work (CPU/process sampler, module re-check, push) runs on the
//! first thread's runtime; its blocking /proc walks go to that runtime's blocking pool,
//! at a lower priority (see `collect::SAMPLER_NICE`).

use crate::{Agent, Config, filters};
use anyhow::Context;
use procpulse_service::Shutdown;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Pending connections per listening socket.
const BACKLOG: i32 = 1024;

/// Resolves `listen` (host:port) to the first address it names.
pub fn resolve(listen: &str) -> anyhow::Result<SocketAddr> {
    listen
        .to_socket_addrs()
        .with_context(|| format!("resolving {listen}"))?
        .next()
        .with_context(|| format!("{listen} resolves to no address"))
}

/// Binds `threads` listening sockets to `addr` with `SO_REUSEPORT` (port 0 picks one free
/// port, shared by all). Binding everything first reports a busy port before any thread
/// starts.
///
/// `SO_REUSEPORT` would also let a second agent of the same user join the port silently
/// and take half of its connections, so the port is first probed with a plain socket:
/// if anything listens there, that is the usual "address in use" error.
pub fn bind_reuseport(addr: SocketAddr, threads: usize) -> anyhow::Result<Vec<StdListener>> {
    if addr.port() != 0 {
        drop(socket(addr, false)?);
    }
    let mut addr = addr;
    let mut listeners = Vec::with_capacity(threads.max(1));
    for _ in 0..threads.max(1) {
        let socket = socket(addr, true)?;
        socket.listen(BACKLOG)?;
        let listener: StdListener = socket.into();
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// A non-blocking stream socket bound to `addr` (with `SO_REUSEADDR`, and `SO_REUSEPORT`
/// when `reuse_port`).
fn socket(addr: SocketAddr, reuse_port: bool) -> anyhow::Result<socket2::Socket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuse_port)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("binding {addr}"))?;
    Ok(socket)
}

/// The CPUs this process may run on, in order (empty if unknown).
pub fn allowed_cpus() -> Vec<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .collect()
}

/// Pins the calling thread to `cpu`; a failure is logged and otherwise ignored.
fn pin_to(cpu: usize) {
    use nix::sched::{CpuSet, sched_setaffinity};
    let mut set = CpuSet::new();
    let pinned = set
        .set(cpu)
        .and_then(|()| sched_setaffinity(nix::unistd::Pid::from_raw(0), &set));
    if let Err(e) = pinned {
        tracing::warn!(cpu, error = %e, "Could not pin a server thread");
    }
}

/// Serves the agent on `listeners` (one thread and runtime each) until `shutdown` fires
/// or SIGTERM/SIGINT arrives; then drains every thread, flushes push mode and returns.
/// With `pin`, server thread i runs only on the i-th CPU of `pin` (round robin).
pub fn run(
    config: Config,
    listeners: Vec<StdListener>,
    pin: Option<Vec<usize>>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let cpu_of = move |i: usize| {
        pin.as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| c[i % c.len()])
    };
    if let Some(cpu) = cpu_of(0) {
        pin_to(cpu);
    }
    let rt = current_thread_runtime()?;
    rt.block_on(async move {
        shutdown.trigger_on_signals();
        let agent = Agent::start(config, shutdown.clone()).await?;
        let push = crate::spawn_push(&agent, &shutdown);
        let mut listeners = listeners.into_iter();
        let first = listeners.next().context("no listener")?;
        // One connection cap for the whole service, shared by every server thread.
        let gate = agent.config().http.gate();
        // HTTPS when the web config has a TLS section (files read once, here).
        let tls = crate::tls::from_config(agent.config())?;
        let others = listeners
            .enumerate()
            .map(|(i, l)| {
                let server = Server {
                    agent: agent.clone(),
                    shutdown: shutdown.clone(),
                    gate: gate.clone(),
                    tls: tls.clone(),
                };
                spawn_server(i + 1, cpu_of(i + 1), l, server)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        serve_on(
            first,
            Server {
                agent,
                shutdown,
                gate,
                tls,
            },
        )
        .await?;
        for t in others {
            tokio::task::spawn_blocking(move || t.join())
                .await?
                .map_err(|_| anyhow::anyhow!("server thread panicked"))??;
        }
        if let Some(task) = push {
            let _ = task.await;
        }
        anyhow::Ok(())
    })
}

fn current_thread_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

/// What each server thread serves with.
struct Server {
    agent: Arc<Agent>,
    shutdown: Shutdown,
    gate: procpulse_service::ConnectionGate,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

fn spawn_server(
    index: usize,
    cpu: Option<usize>,
    listener: StdListener,
    server: Server,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    std::thread::Builder::new()
        .name(format!("agent-http-{index}"))
        .spawn(move || {
            if let Some(cpu) = cpu {
                pin_to(cpu);
            }
            current_thread_runtime()?.block_on(serve_on(listener, server))
        })
        .context("starting a server thread")
}

async fn serve_on(listener: StdListener, server: Server) -> anyhow::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let limits = server.agent.config().http.clone();
    let routes = filters::routes(server.agent);
    procpulse_service::serve_tls(
        listener,
        routes,
        server.shutdown,
        &limits,
        server.gate,
        server.tls,
    )
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuseport_sockets_share_one_port() {
        let ls = bind_reuseport("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let ports: Vec<u16> = ls.iter().map(|l| l.local_addr().unwrap().port()).collect();
        assert_eq!(ports.len(), 3);
        assert!(ports.iter().all(|p| *p == ports[0] && *p != 0));
    }

    #[test]
    fn a_port_held_without_reuseport_is_an_error() {
        let held = StdListener::bind("127.0.0.1:0").unwrap();
        let err = bind_reuseport(held.local_addr().unwrap(), 2).unwrap_err();
        assert!(format!("{err:#}").contains("binding"), "{err:#}");
    }

    #[test]
    fn a_second_agent_cannot_join_a_port_in_use() {
        let first = bind_reuseport("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = first[0].local_addr().unwrap();
        let err = bind_reuseport(addr, 2).unwrap_err();
        assert!(format!("{err:#}").contains("in use"), "{err:#}");
        drop(first);
        assert_eq!(bind_reuseport(addr, 2).unwrap().len(), 2);
    }

    #[test]
    fn resolve_names_bad_addresses() {
        assert!(resolve("127.0.0.1:5200").is_ok());
        assert!(resolve("no-port").is_err());
    }
}
