//! The pool row of `rcu-bench config`: a rayon pool looks keys up in a
//! table behind a cell (one read scope per chunk of keys) while a writer
//! replaces the table every reload period, for each implementation with a
//! rayon pool and a table cell.

use crate::implementations::Implementation;
use crate::peer::TableCell;
use crate::workload::Table;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One pool run's sizes.
#[derive(Clone, Copy, Debug)]
pub struct PoolRun {
    /// Workers of the pool.
    pub threads: usize,
    /// Not measured, before the window.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
    /// Time between two replacements of the table.
    pub reload_period: Duration,
}

/// The pool row of an implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParIterKind(pub Implementation);

impl ParIterKind {
    /// Every kind, in report order.
    pub fn all() -> Vec<ParIterKind> {
        Implementation::all().iter().filter(|i| i.table_pool().is_some()).map(|&i| ParIterKind(i)).collect()
    }

    /// Name in reports.
    pub fn name(self) -> String {
        format!("par_iter-{}", self.0.name())
    }
}

/// Keys one `par_iter` pass looks up.
const PASS_KEYS: usize = 1 << 16;
/// Keys per read scope (one section, or one pin, per chunk).
const PAR_CHUNK: usize = 1024;

/// What one pool run measured.
#[derive(Debug)]
pub struct ParIterReport {
    /// The kind measured.
    pub kind: ParIterKind,
    /// Lookups in the measured window.
    pub lookups: u64,
    /// Length of the window.
    pub elapsed: Duration,
    /// Passes whose hit count was wrong (must be 0).
    pub mismatches: u64,
}

impl ParIterReport {
    /// Lookups per second, whole pool.
    pub fn lookups_per_sec(&self) -> f64 {
        self.lookups as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs the pool row for `kind`: a pool of `config.threads` workers,
/// passes of `PASS_KEYS` lookups in chunks of `PAR_CHUNK`, a writer
/// replacing the table every `config.reload_period`.
pub fn run_par_iter(kind: ParIterKind, config: &PoolRun) -> ParIterReport {
    let (builder, cell) = kind.0.table_pool().expect("a pool kind has a table cell");
    let pool = builder.num_threads(config.threads).build().expect("build the rayon pool");
    par_iter_with(kind, &pool, config, &*cell)
}

fn par_iter_with<C: TableCell + ?Sized>(
    kind: ParIterKind,
    pool: &rayon::ThreadPool,
    config: &PoolRun,
    cell: &C,
) -> ParIterReport {
    let keys: Vec<u64> = (0..PASS_KEYS as u64).map(|i| i * Table::KEY_STRIDE % Table::KEY_SPACE).collect();
    let expected = keys.iter().filter(|&&k| Table::new_boxed().lookup(k)).count();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Relaxed: the flag carries no data; the scope's join orders
            // the rest.
            while !stop.load(Ordering::Relaxed) {
                cell.replace();
                std::thread::sleep(config.reload_period);
            }
        });
        let pass = || pool.install(|| keys.par_chunks(PAR_CHUNK).map(|chunk| cell.hits(chunk)).sum::<usize>());
        let warm = Instant::now();
        while warm.elapsed() < config.warmup {
            pass();
        }
        let (start, mut passes, mut mismatches) = (Instant::now(), 0u64, 0u64);
        while start.elapsed() < config.duration {
            mismatches += u64::from(pass() != expected);
            passes += 1;
        }
        let elapsed = start.elapsed();
        // Relaxed: pairs with the writer's load above; the flag carries no
        // data and the scope's join orders the rest.
        stop.store(true, Ordering::Relaxed);
        ParIterReport { kind, lookups: passes * PASS_KEYS as u64, elapsed, mismatches }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_kind_finds_the_expected_hits() {
        let config = PoolRun {
            threads: 2,
            duration: Duration::from_millis(100),
            warmup: Duration::from_millis(10),
            reload_period: Duration::from_millis(1),
        };
        for kind in ParIterKind::all() {
            let r = run_par_iter(kind, &config);
            assert_eq!(r.mismatches, 0, "{kind:?}");
            assert!(r.lookups > 0, "{kind:?}");
        }
    }
}
