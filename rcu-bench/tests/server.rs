//! The async server bench end to end: every holder's server answers
//! requests with the right bodies, a reload changes the generation the
//! responses carry, unknown paths are 404 and counted, and the server shuts
//! down with a keep-alive connection still open; then a short load run per
//! holder with reloads finds no wrong response, and a holder answering
//! with the wrong body is caught.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rcu_bench::server::holders::{Found, Kind, TableHolder, HOLDERS};
use rcu_bench::server::http::GENERATION_HEADER;
use rcu_bench::server::table::Table;
use rcu_bench::server::{run_holder, ServerRunConfig};
use std::time::Duration;

async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> (StatusCode, Option<u64>, Bytes) {
    sender.ready().await.expect("connection open");
    let request = Request::get(path).header(hyper::header::HOST, "127.0.0.1").body(Empty::new()).unwrap();
    let response = sender.send_request(request).await.expect("a response");
    let generation = response.headers().get(GENERATION_HEADER).map(|v| v.to_str().unwrap().parse().unwrap());
    let status = response.status();
    (status, generation, response.into_body().collect().await.expect("a body").to_bytes())
}

#[test]
fn every_holder_serves_reloads_and_shuts_down() {
    for holder in HOLDERS {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = holder.start(&runtime, Table::new(0, 50), None).expect("server starts");
        let outcome = runtime.block_on(async {
            let stream = tokio::net::TcpStream::connect(server.addr()).await.expect("connects");
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
            let connection = tokio::spawn(connection);
            for i in [0, 3, 49] {
                let (status, generation, body) = get(&mut sender, &Table::path(i)).await;
                assert_eq!((status, generation), (StatusCode::OK, Some(0)), "{}", holder.name());
                assert_eq!(body, Table::expected(i), "{}", holder.name());
            }
            let (status, _, _) = get(&mut sender, "/route/50").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{}", holder.name());
            server.reload().await;
            let (status, generation, body) = get(&mut sender, &Table::path(7)).await;
            assert_eq!((status, generation), (StatusCode::OK, Some(1)), "{}", holder.name());
            assert_eq!(body, Table::expected(7), "{}", holder.name());
            // The keep-alive connection is still open: shutdown closes it.
            let outcome = server.shutdown().await;
            connection.await.unwrap().expect("the server closed the connection cleanly");
            outcome
        });
        assert_eq!(outcome.misses, 1, "{}", holder.name());
        assert_eq!(outcome.reloads.len(), 1, "{}", holder.name());
    }
}

#[test]
fn a_short_load_with_reloads_gets_only_right_responses() {
    let config = ServerRunConfig {
        connections: 4,
        warmup: Duration::from_millis(20),
        routes: 64,
        reload_period: Duration::from_millis(1),
        ..ServerRunConfig::new(Duration::from_millis(200))
    };
    for holder in HOLDERS {
        let r = run_holder(*holder, &config, true).expect("the run completes");
        assert_eq!(r.errors(), 0, "{}", r.line());
        assert!(r.load.first_error.is_none(), "{:?}", r.load.first_error);
        // Every replacement in the window is timed twice: wall clock and CPU.
        assert_eq!(r.reload.count(), r.reload_cpu.count(), "{}", r.line());
    }
}

/// A holder that answers every path with route 0's body.
struct WrongBody(Table);

impl TableHolder for WrongBody {
    const NAME: &'static str = "wrong-body";
    type Held = Bytes;
    fn new(table: Table) -> Self {
        WrongBody(table)
    }
    async fn lookup(&self, path: &str) -> Option<Found<Bytes>> {
        self.0.index_of(path).map(|_| Found { generation: 0, body: self.0.body_bytes(0) })
    }
    async fn replace(&self, _table: Table) {}
}

#[test]
fn the_load_generator_counts_wrong_bodies() {
    let config = ServerRunConfig { connections: 2, routes: 8, ..ServerRunConfig::new(Duration::from_millis(50)) };
    let r = run_holder(&Kind::<WrongBody>::NEW, &config, false).expect("the run completes");
    assert!(r.errors() > 0, "{}", r.line());
    assert!(r.load.first_error.as_deref().is_some_and(|e| e.contains("wrong body")), "{:?}", r.load.first_error);
}
