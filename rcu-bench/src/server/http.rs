//! The HTTP/1.1 server (hyper 1.x on tokio): every request's path is
//! looked up in the holder's table and answered with the route's body, or
//! 404; an admin task replaces the whole table every `reload_period` and
//! on request ([`Server::reload`]).

use super::holders::{Found, TableHolder};
use super::table::Table;
use bytes::Buf;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// The response header carrying the generation of the table that answered.
pub const GENERATION_HEADER: &str = "x-table-generation";

/// A response body's data: the route's owner, read from `pos` on. Hyper
/// drops it once the bytes are written, which ends whatever the owner
/// holds.
pub struct HeldBody<O> {
    owner: Option<O>,
    pos: usize,
}

impl<O: AsRef<[u8]>> Buf for HeldBody<O> {
    fn remaining(&self) -> usize {
        self.owner.as_ref().map_or(0, |o| o.as_ref().len() - self.pos)
    }
    fn chunk(&self) -> &[u8] {
        self.owner.as_ref().map_or(&[], |o| &o.as_ref()[self.pos..])
    }
    fn advance(&mut self, cnt: usize) {
        assert!(cnt <= self.remaining(), "advance past the end of a body");
        self.pos += cnt;
    }
}

/// One table replacement: when it started and how long `replace` took
/// (publishing and retiring, not building the table).
#[derive(Clone, Copy, Debug)]
pub struct Reload {
    /// When `replace` was called.
    pub at: Instant,
    /// Wall-clock time from the call to completion: what the admin task
    /// waited, including time its thread was runnable but not running.
    pub took: Duration,
    /// CPU time of the threads that polled it, summed over its polls: the
    /// work the holder did, without time spent runnable but preempted or
    /// suspended (waiting for a lock).
    pub cpu: Duration,
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a
    // constant the kernel knows, so the call cannot fail on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Starts a replacement with `start` and runs it to completion, timed as
/// a [`Reload`]: wall clock from the call of `start` to completion, and the
/// CPU time of the polling thread around each poll (read per poll, so a
/// future that suspends and resumes on another worker thread is counted
/// right). `start` is called inside the window because a holder may do
/// all its work in the call and return a ready future. The CPU clock is
/// read outside the wall-clock window, so its syscalls add nothing to
/// `took` for a replacement that completes in one poll.
async fn timed_reload<F: Future<Output = ()>>(start: impl FnOnce() -> F) -> Reload {
    // Everything up to the first `.await` runs in the first poll, on one
    // thread: this reading pairs with the one after that poll.
    let mut first_cpu_before = Some(thread_cpu_time());
    let at = Instant::now();
    let mut future = std::pin::pin!(start());
    let mut cpu = Duration::ZERO;
    std::future::poll_fn(|cx| {
        let cpu_before = first_cpu_before.take().unwrap_or_else(thread_cpu_time);
        let poll = future.as_mut().poll(cx);
        let took = poll.is_ready().then(|| at.elapsed());
        cpu += thread_cpu_time().saturating_sub(cpu_before);
        match took {
            Some(took) => std::task::Poll::Ready(Reload { at, took, cpu }),
            None => std::task::Poll::Pending,
        }
    })
    .await
}

/// What a server did, handed back by [`Server::shutdown`].
#[derive(Debug)]
pub struct ServerOutcome {
    /// Requests for a path the table does not have.
    pub misses: u64,
    /// Every table replacement, in order.
    pub reloads: Vec<Reload>,
}

/// A running server on 127.0.0.1 (an ephemeral port).
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    reload: mpsc::Sender<oneshot::Sender<()>>,
    accept: JoinHandle<()>,
    admin: JoinHandle<Vec<Reload>>,
    misses: Arc<AtomicU64>,
}

impl Server {
    /// Starts a server on `runtime` with `holder` holding `table`; its
    /// admin task replaces the table every `reload_period`, if given.
    pub fn start<H: TableHolder>(
        runtime: &tokio::runtime::Runtime,
        table: Table,
        reload_period: Option<Duration>,
    ) -> std::io::Result<Server> {
        let _entered = runtime.enter();
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let (routes, generation) = (table.len(), table.generation());
        let holder = Arc::new(H::new(table));
        let misses = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let (reload, reloads) = mpsc::channel(1);
        let accept = runtime.spawn(accept_loop(listener, Arc::clone(&holder), Arc::clone(&misses), stopped.clone()));
        let admin = runtime.spawn(admin_loop(holder, routes, generation, reload_period, reloads, stopped));
        Ok(Server { addr, stop, reload, accept, admin, misses })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the table once, through the admin task; returns when done.
    pub async fn reload(&self) {
        let (done, acked) = oneshot::channel();
        self.reload.send(done).await.expect("the admin task runs until shutdown");
        acked.await.expect("the admin task acknowledges every reload");
    }

    /// Stops accepting, closes every connection once its response in
    /// flight is written, stops the admin task; returns what it did.
    pub async fn shutdown(self) -> ServerOutcome {
        self.stop.send_replace(true);
        self.accept.await.expect("the accept loop panicked");
        let reloads = self.admin.await.expect("the admin task panicked");
        // Relaxed: pairs with the Relaxed `fetch_add` in `respond`; every
        // connection task that counted was joined by the accept loop, which
        // was joined just above, and the joins order the counts before this.
        ServerOutcome { misses: self.misses.load(Ordering::Relaxed), reloads }
    }
}

async fn accept_loop<H: TableHolder>(
    listener: tokio::net::TcpListener,
    holder: Arc<H>,
    misses: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(serve(stream, Arc::clone(&holder), Arc::clone(&misses), stop.clone()));
                    }
                    // A connection reset before it was accepted, or out of
                    // descriptors: the client sees it; pause rather than
                    // spin while descriptors are short.
                    Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            }
            _ = stopped(&mut stop) => break,
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn serve<H: TableHolder>(
    stream: tokio::net::TcpStream,
    holder: Arc<H>,
    misses: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |request| respond(Arc::clone(&holder), Arc::clone(&misses), request));
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    // A connection error (the client went away mid-request) ends that
    // connection only; the client counts it.
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

type Body<H> = Full<HeldBody<<H as TableHolder>::Held>>;

async fn respond<H: TableHolder>(
    holder: Arc<H>,
    misses: Arc<AtomicU64>,
    request: Request<Incoming>,
) -> Result<Response<Body<H>>, Infallible> {
    Ok(match holder.lookup(request.uri().path()).await {
        Some(Found { generation, body }) => {
            let mut response = Response::new(Full::new(HeldBody { owner: Some(body), pos: 0 }));
            response.headers_mut().insert(GENERATION_HEADER, HeaderValue::from(generation));
            response
        }
        None => {
            // Relaxed: a count only; `Server::shutdown` loads it after
            // joining this connection's task, which orders it.
            misses.fetch_add(1, Ordering::Relaxed);
            let mut response = Response::new(Full::new(HeldBody { owner: None, pos: 0 }));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

/// Replaces the table on every tick of `period` and on every request of
/// `manual` until `stop`; each new table is built before the timed
/// `replace` ([`timed_reload`]).
async fn admin_loop<H: TableHolder>(
    holder: Arc<H>,
    routes: usize,
    mut generation: u64,
    period: Option<Duration>,
    mut manual: mpsc::Receiver<oneshot::Sender<()>>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Reload> {
    let mut ticks = period.map(|p| {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + p, p);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    });
    let mut reloads = Vec::new();
    loop {
        let ack = tokio::select! {
            _ = stopped(&mut stop) => break,
            Some(ack) = manual.recv() => Some(ack),
            _ = tick(&mut ticks) => None,
        };
        generation += 1;
        let next = Table::new(generation, routes);
        reloads.push(timed_reload(|| holder.replace(next)).await);
        if let Some(ack) = ack {
            // The requester may have given up waiting; nothing to do then.
            let _ = ack.send(());
        }
    }
    reloads
}

/// Returns once the server is told to stop (or its handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The value's guard is dropped here, before the caller's next await.
    let _ = stop.wait_for(|s| *s).await;
}

/// The next tick, or never without a period.
async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
