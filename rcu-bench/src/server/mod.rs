//! `rcu-bench server`: a real async HTTP/1.1 server (hyper 1.x on a tokio
//! multi-threaded runtime, 127.0.0.1, an ephemeral port) whose handlers
//! look each request's path up in a routing table of a few hundred routes
//! while an admin task replaces the whole table every 10 ms, measured by a
//! load generator in the same process on a runtime of its own.
//!
//! * [`table`]: the routing table and the bodies a client expects;
//! * [`holders`]: the ways of holding the table, one interface
//!   ([`holders::TableHolder`]) and the list the bench runs
//!   ([`holders::HOLDERS`]);
//! * [`http`]: the server, its handler and its admin task;
//! * [`load`]: the load generator (keep-alive connections, closed loop,
//!   fixed window, every response checked);
//! * here: one run of one holder ([`run_holder`]) and the two workloads of
//!   the report, [`ServerBench`] with reloads on and off.
//!
//! Figures per holder and reload mode: requests per second in the window,
//! request latency (send to last body byte, at the client) p50, p99,
//! p99.9, and with reloads the latency of one table replacement
//! (publishing and retiring the old table, not building the new one) p50
//! and p99, wall clock, and the CPU time the replacement used, p99: a
//! replacement whose thread is preempted or waits for a lock has a wall
//! time far above its CPU time. Holders are interleaved over rounds as `compare` does, each
//! figure the median over rounds; ratios are to `arc-swap-load_full`.

pub mod holders;
pub mod http;
pub mod load;
pub mod table;

use crate::hist::Histogram;
use crate::report::text::fmt_ns;
use crate::report::{Metric, Results, Round, Section, Workload};
use holders::HolderKind;
use load::{run_load, LoadConfig, LoadReport};
use std::time::Duration;
use table::Table;

/// The row every server figure is divided by.
pub const BASELINE: &str = "arc-swap-load_full";

/// One run's sizes.
#[derive(Clone, Debug)]
pub struct ServerRunConfig {
    /// Keep-alive client connections.
    pub connections: usize,
    /// Measured window.
    pub duration: Duration,
    /// Not measured, before the window.
    pub warmup: Duration,
    /// Routes in the table.
    pub routes: usize,
    /// Time between two table replacements, when reloads are on.
    pub reload_period: Duration,
    /// Worker threads of the server's runtime.
    pub server_threads: usize,
    /// Worker threads of the load generator's runtime.
    pub client_threads: usize,
}

impl ServerRunConfig {
    /// The default sizes: 32 connections, 256 routes, a reload every
    /// 10 ms, two worker threads each for server and load generator (both
    /// sides as parallel as a 2-core machine allows).
    pub fn new(duration: Duration) -> Self {
        ServerRunConfig {
            connections: 32,
            duration,
            warmup: crate::run::default_warmup(duration),
            routes: 256,
            reload_period: Duration::from_millis(10),
            server_threads: 2,
            client_threads: 2,
        }
    }
}

/// What one run of one holder measured.
#[derive(Debug)]
pub struct ServerReport {
    /// The holder's name.
    pub holder: &'static str,
    /// Whether the admin task replaced the table.
    pub reloads: bool,
    /// The measured window's length.
    pub duration: Duration,
    /// What the clients saw.
    pub load: LoadReport,
    /// Latency (wall clock) of the table replacements started in the window.
    pub reload: Histogram,
    /// CPU time of the same replacements.
    pub reload_cpu: Histogram,
    /// Requests the server found no route for (must be 0).
    pub misses: u64,
}

impl ServerReport {
    /// Requests per second in the window.
    pub fn requests_per_sec(&self) -> f64 {
        self.load.requests as f64 / self.duration.as_secs_f64()
    }

    /// Failed requests and connections, and server-side misses.
    pub fn errors(&self) -> u64 {
        self.load.errors + self.misses
    }

    /// One line for progress output.
    pub fn line(&self) -> String {
        let q = |h: &Histogram, p| h.quantile(p).map_or("-".into(), fmt_ns);
        format!(
            "{:<20} reloads {:<3} {:>9.0} req/s  p50 {:>9} p99 {:>9} p99.9 {:>9}  reload p50 {:>9} p99 {:>9} \
             cpu p99 {:>9} ({} reloads)  errors {}",
            self.holder,
            if self.reloads { "on" } else { "off" },
            self.requests_per_sec(),
            q(&self.load.latency, 0.5),
            q(&self.load.latency, 0.99),
            q(&self.load.latency, 0.999),
            q(&self.reload, 0.5),
            q(&self.reload, 0.99),
            q(&self.reload_cpu, 0.99),
            self.reload.count(),
            self.errors()
        )
    }
}

fn runtime(name: &str, threads: usize) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("building the {name} runtime: {e}"))
}

/// Runs `holder`'s server with reloads on or off and the load generator
/// against it, each on a runtime of its own; shuts both down.
pub fn run_holder(holder: &dyn HolderKind, config: &ServerRunConfig, reloads: bool) -> Result<ServerReport, String> {
    let server_rt = runtime("rcu-bench-server", config.server_threads)?;
    let client_rt = runtime("rcu-bench-load", config.client_threads)?;
    let period = reloads.then_some(config.reload_period);
    let server = holder
        .start(&server_rt, Table::new(0, config.routes), period)
        .map_err(|e| format!("{}: starting the server: {e}", holder.name()))?;
    let load_config = LoadConfig {
        connections: config.connections,
        warmup: config.warmup,
        duration: config.duration,
        routes: config.routes,
    };
    let load = client_rt.block_on(run_load(server.addr(), &load_config));
    let outcome = server_rt.block_on(server.shutdown());
    let (mut reload, mut reload_cpu) = (Histogram::new(), Histogram::new());
    if let Some((start, end)) = load.window {
        for r in outcome.reloads.iter().filter(|r| start <= r.at && r.at < end) {
            reload.record_duration(r.took);
            reload_cpu.record_duration(r.cpu);
        }
    }
    server_rt.shutdown_timeout(Duration::from_secs(1));
    client_rt.shutdown_timeout(Duration::from_secs(1));
    Ok(ServerReport {
        holder: holder.name(),
        reloads,
        duration: config.duration,
        load,
        reload,
        reload_cpu,
        misses: outcome.misses,
    })
}

/// The server bench as a workload of a comparison: every holder once per
/// round, with reloads on or off.
pub struct ServerBench {
    /// Sizes of each run.
    pub run: ServerRunConfig,
    /// Whether the admin task replaces the table.
    pub reloads: bool,
    /// The holders, in report order.
    pub holders: Vec<&'static dyn HolderKind>,
}

const RELOAD_METRICS: &[Metric] = &[
    Metric::ServerRequestsPerSec,
    Metric::ServerP50Ns,
    Metric::ServerP99Ns,
    Metric::ServerP999Ns,
    Metric::ServerReloadNs,
    Metric::ServerReloadP99Ns,
    Metric::ServerReloadCpuP99Ns,
];

const QUIET_METRICS: &[Metric] =
    &[Metric::ServerQuietRequestsPerSec, Metric::ServerQuietP50Ns, Metric::ServerQuietP99Ns, Metric::ServerQuietP999Ns];

impl Workload for ServerBench {
    fn section(&self) -> Section {
        if self.reloads {
            Section { title: "async server, table replaced every reload period", metrics: RELOAD_METRICS }
        } else {
            Section { title: "async server, no reloads", metrics: QUIET_METRICS }
        }
    }

    fn note(&self) -> Option<String> {
        let r = &self.run;
        self.reloads.then(|| {
            format!(
                "async server: {} keep-alive connections, {} routes, table replaced every {:?}; server {} and \
                 load generator {} tokio worker threads, 127.0.0.1; latency is send to last body byte at the client",
                r.connections, r.routes, r.reload_period, r.server_threads, r.client_threads
            )
        })
    }

    fn round(&self, round: Round, results: &mut Results, progress: &mut dyn FnMut(&str)) -> Result<(), String> {
        let metrics = if self.reloads { &RELOAD_METRICS[..4] } else { QUIET_METRICS };
        let &[rps, p50, p99, p999] = metrics else { unreachable!("a rate and three latencies per section") };
        for holder in round.order(self.holders.clone()) {
            let r = run_holder(holder, &self.run, self.reloads)?;
            progress(&format!("{} server {}", round.label(), r.line()));
            if r.errors() != 0 {
                return Err(format!(
                    "{}: {} failed requests and {} misses; first: {}",
                    r.holder,
                    r.load.errors,
                    r.misses,
                    r.load.first_error.as_deref().unwrap_or("-")
                ));
            }
            if r.load.requests == 0 {
                return Err(format!("{}: no request completed in the window", r.holder));
            }
            results.add(r.holder, rps, r.requests_per_sec());
            for (metric, q) in [(p50, 0.5), (p99, 0.99), (p999, 0.999)] {
                if let Some(ns) = r.load.latency.quantile(q) {
                    results.add(r.holder, metric, ns as f64);
                }
            }
            for (metric, histogram, q) in [
                (Metric::ServerReloadNs, &r.reload, 0.5),
                (Metric::ServerReloadP99Ns, &r.reload, 0.99),
                (Metric::ServerReloadCpuP99Ns, &r.reload_cpu, 0.99),
            ] {
                if let Some(ns) = histogram.quantile(q) {
                    results.add(r.holder, metric, ns as f64);
                }
            }
        }
        Ok(())
    }
}

/// Both server workloads (reloads on, then off) over `holders`.
pub fn workloads(run: &ServerRunConfig, holders: &[&'static dyn HolderKind]) -> Vec<Box<dyn Workload>> {
    [true, false]
        .map(|reloads| {
            Box::new(ServerBench { run: run.clone(), reloads, holders: holders.to_vec() }) as Box<dyn Workload>
        })
        .into()
}
