//! The load generator: `connections` keep-alive HTTP/1.1 connections to
//! the server, each sending its next request when the previous response
//! has been read (closed loop), for a warm-up and then a measured window;
//! every response is checked (status, body, generation never going
//! backwards on a connection) and every failure counted.

use super::http::GENERATION_HEADER;
use super::table::Table;
use crate::hist::Histogram;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for one response before the connection is counted as
/// failed: a bound on a stuck run, not a measurement.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The load's shape.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Keep-alive connections, one task each.
    pub connections: usize,
    /// Not measured, before the window.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Routes of the server's table (paths `/route/0..routes`).
    pub routes: usize,
}

/// What the load generator measured.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Responses in the window (sent and read inside it).
    pub requests: u64,
    /// Latency of each of them, send to last body byte.
    pub latency: Histogram,
    /// Wrong responses and failed connections, in the whole run.
    pub errors: u64,
    /// The first of them.
    pub first_error: Option<String>,
    /// Largest table generation seen.
    pub max_generation: u64,
    /// The measured window: (start, end).
    pub window: Option<(Instant, Instant)>,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.requests += other.requests;
        self.latency.merge(&other.latency);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.max_generation = self.max_generation.max(other.max_generation);
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        self.first_error.get_or_insert(e);
    }
}

/// Runs the load against `addr`; returns when every connection is closed.
pub async fn run_load(addr: SocketAddr, config: &LoadConfig) -> LoadReport {
    let expected: Arc<Vec<(Uri, Bytes)>> = Arc::new(
        (0..config.routes)
            .map(|i| (Table::path(i).parse().expect("a route path is a URI"), Bytes::from(Table::expected(i))))
            .collect(),
    );
    let start = Instant::now() + config.warmup;
    let end = start + config.duration;
    let mut connections = tokio::task::JoinSet::new();
    for c in 0..config.connections {
        connections.spawn(connection(addr, c, Arc::clone(&expected), start, end));
    }
    let mut report = LoadReport { window: Some((start, end)), ..LoadReport::default() };
    while let Some(done) = connections.join_next().await {
        match done {
            Ok(r) => report.merge(r),
            Err(e) => report.error(format!("a connection task failed: {e}")),
        }
    }
    report
}

/// One connection's requests until `end`: route `(c * 7919 + k) % routes`
/// for its k-th request, so connections spread over the table.
async fn connection(
    addr: SocketAddr,
    c: usize,
    expected: Arc<Vec<(Uri, Bytes)>>,
    start: Instant,
    end: Instant,
) -> LoadReport {
    let mut report = LoadReport::default();
    if let Err(e) = requests(addr, c, &expected, start, end, &mut report).await {
        report.error(format!("connection {c}: {e}"));
    }
    report
}

async fn requests(
    addr: SocketAddr,
    c: usize,
    expected: &[(Uri, Bytes)],
    start: Instant,
    end: Instant,
    report: &mut LoadReport,
) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("TCP_NODELAY: {e}"))?;
    let (mut sender, driver) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    let driver = tokio::spawn(driver);
    for k in 0usize.. {
        if Instant::now() >= end {
            break;
        }
        let i = (c * 7919 + k) % expected.len();
        let (uri, body) = &expected[i];
        let request = Request::get(uri.clone())
            .header(hyper::header::HOST, "127.0.0.1")
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        sender.ready().await.map_err(|e| format!("connection closed: {e}"))?;
        let sent = Instant::now();
        let response = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = sender.send_request(request).await?;
            let (parts, got) = response.into_parts();
            Ok::<_, hyper::Error>((parts, got.collect().await?.to_bytes()))
        })
        .await
        .map_err(|_| format!("no response to {uri} within {REQUEST_TIMEOUT:?}"))?
        .map_err(|e| format!("{uri}: {e}"))?;
        let took = sent.elapsed();
        let (parts, got) = response;
        let generation = parts.headers.get(GENERATION_HEADER).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        match generation {
            _ if parts.status != StatusCode::OK => report.error(format!("{uri}: status {}", parts.status)),
            _ if got != *body => report.error(format!("{uri}: wrong body ({} bytes)", got.len())),
            None => report.error(format!("{uri}: no {GENERATION_HEADER} header")),
            Some(g) if g < report.max_generation => {
                report.error(format!("{uri}: table generation {g} after {}", report.max_generation))
            }
            Some(g) => report.max_generation = g,
        }
        if sent >= start && sent + took <= end {
            report.requests += 1;
            report.latency.record_duration(took);
        }
    }
    drop(sender);
    driver.await.map_err(|e| format!("driver task: {e}"))?.map_err(|e| format!("connection: {e}"))
}
