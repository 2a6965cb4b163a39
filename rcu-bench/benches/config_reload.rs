//! `config_read`: one read of a configuration value (reach it, load a
//! field) while another thread reloads it every millisecond, one
//! `BenchmarkId` per way of holding it (`RcuCell` memb and QSBR,
//! `ArcSwap::load` / `load_full`, crossbeam-epoch under `pin`,
//! `RwLock<Arc<T>>`). The multi-reader figures, reload latencies and the
//! rayon pool row come from `rcu-bench config` (see
//! `rcu_bench::config`).

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rcu_bench::config::{with_reads_while_reloading, ConfigKind};
use std::time::Duration;

/// How often the reloader replaces the value.
const RELOAD_PERIOD: Duration = Duration::from_millis(1);

fn config_read(c: &mut Criterion) {
    let _plan = common::pin_bench_thread();
    let mut g = c.benchmark_group("config_read");
    for kind in ConfigKind::all() {
        with_reads_while_reloading(kind, RELOAD_PERIOD, |timer| {
            g.bench_function(BenchmarkId::from_parameter(kind.name()), |b| b.iter_custom(&mut *timer));
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = config_read
}
criterion_main!(benches);
