//! The real writer: publishes a new element, ages the others, retires the
//! old one through the next retire path of its rotation.
//!
//! Two lanes are published: the pointer lane (an `AtomicPtr` into the arena,
//! used by every [`Retire::Token`] path) and the cell lane (an `RcuCell`,
//! used by `RcuCell::replace`). Each step:
//!
//! 1. checks one read-side section of its own (the writer is a reader too);
//! 2. takes a reusable element (if none has cooled yet, runs a grace period
//!    and ages the pipeline until one has);
//! 3. publishes it on the path's lane, marks the old element unpublished
//!    (age 1) and records a cookie taken after the unpublish;
//! 4. retires the old element through the path;
//! 5. ages the pipeline: an element whose cookie has completed goes to age
//!    2, older ones cool by one, freed ones that reached `PIPE_LEN` become
//!    reusable.
//!
//! The element pipeline is what turns a reclaim that came too early into a
//! reader-visible age of 2 or a freed mark (see `rcu_testkit::arena`).

use crate::board::{Board, Histogram, IDLE};
use crate::check::{check_one_section, CellValue};
use crate::discipline::{self, maybe_reading};
use crate::label::role;
use crate::path::{name, CellOp, PathCtx, Retire, RetirePath};
use rcu_core::{GpState, RcuCell, RcuFlavour};
use rcu_testkit::arena::Token;
use rcu_testkit::rng::Rng;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The kvfree drain intervals a round picks from (the engine's default
/// last): the writer's steps are fast and the barrier paths seal every
/// partial block, so only short intervals let the drain timer seal blocks
/// often; the default is tested too. The run restores the default.
const DRAIN_INTERVALS: [Duration; 3] =
    [Duration::from_micros(500), Duration::from_millis(2), rcu_core::kvfree::DEFAULT_DRAIN_INTERVAL];

/// How long the writer sleeps when every element waits for a deferred free.
const STALL_SLEEP: Duration = Duration::from_micros(200);

/// An element retired and not yet reusable.
#[derive(Debug)]
struct InFlight {
    index: usize,
    /// Taken after the unpublish; `None` once the element reached age 2.
    cookie: Option<GpState>,
}

/// What the writer hands back when the run stops.
#[derive(Debug)]
pub struct WriterOutcome {
    /// The token of the element the pointer lane still publishes.
    pub pointer_token: Token,
    /// Steps completed per retire path (table order).
    pub path_counts: Vec<u64>,
}

/// The writer thread's state.
pub struct Writer<'r, F: RcuFlavour> {
    board: &'static Board,
    cell: &'r RcuCell<CellValue, F>,
    paths: &'r [RetirePath<F>],
    enabled: Vec<usize>,
    thread: F::Thread,
    rng: Rng,
    pointer_token: Token,
    cell_current: usize,
    free: VecDeque<usize>,
    in_flight: VecDeque<InFlight>,
    path_counts: Vec<u64>,
    histogram: Histogram,
}

impl<'r, F: RcuFlavour> Writer<'r, F> {
    /// A writer for a board whose pointer lane publishes `pointer_token`'s
    /// element and whose cell publishes element `cell_current`; every other
    /// arena element is free. Registers the calling thread.
    pub fn new(
        board: &'static Board,
        cell: &'r RcuCell<CellValue, F>,
        paths: &'r [RetirePath<F>],
        enabled: Vec<usize>,
        pointer_token: Token,
        cell_current: usize,
    ) -> Self {
        board.name_this_thread("writer");
        let free = (0..board.arena.len()).filter(|&i| i != pointer_token.id() && i != cell_current).collect();
        Writer {
            board,
            cell,
            paths,
            enabled,
            thread: F::register_thread(),
            rng: board.label.rng(role::WRITER, 0),
            pointer_token,
            cell_current,
            free,
            in_flight: VecDeque::new(),
            path_counts: vec![0; paths.len()],
            histogram: Histogram::default(),
        }
    }

    /// Runs rounds of the rotation until the run stops.
    pub fn run(mut self) -> WriterOutcome {
        let paths = self.paths;
        let mut order: Vec<usize> =
            self.enabled.iter().flat_map(|&p| std::iter::repeat_n(p, paths[p].weight as usize)).collect();
        'rounds: loop {
            self.rng.shuffle(&mut order);
            let drain = DRAIN_INTERVALS[self.rng.below(DRAIN_INTERVALS.len() as u64) as usize];
            F::set_kvfree_drain_interval(drain);
            for &path in &order {
                if self.board.stopping() {
                    break 'rounds;
                }
                self.step(path);
            }
        }
        self.board.merge_histogram(&self.histogram);
        F::unregister_thread(self.thread);
        WriterOutcome { pointer_token: self.pointer_token, path_counts: self.path_counts }
    }

    fn step(&mut self, path: usize) {
        check_one_section::<F>(self.board, Some(self.cell), &self.thread, &mut self.rng, "writer", &mut self.histogram);
        // Relaxed: progress counters for the watchdog.
        self.board.progress.writer_path.store(path, Ordering::Relaxed);
        let new = self.take_reusable();
        match self.paths[path].retire {
            Retire::Token(retire) => self.step_pointer_lane(path, new, retire),
            Retire::Cell(op) => self.step_cell_lane(path, new, op),
        }
        self.path_counts[path] += 1;
        // Relaxed: read by the watchdog to decide when the run may stop.
        self.board.progress.paths_ran.fetch_or(1 << path, Ordering::Relaxed);
        self.board.progress.writer_path.store(IDLE, Ordering::Relaxed);
        self.advance_pipeline();
        self.board.progress.writer_steps.fetch_add(1, Ordering::Relaxed);
        F::quiescent_state(&mut self.thread);
    }

    fn step_pointer_lane(&mut self, path: usize, new: usize, retire: fn(&mut PathCtx<'_, F>, Token)) {
        let arena = self.board.arena;
        let token = arena.mint(new);
        let old = self.board.publish_pointer(arena.element(new));
        old.mark_unpublished(path);
        // Taken after the unpublish (its fence orders the swap first): once
        // it completes, no reader can still hold `old`.
        let cookie = F::get_state_synchronize_rcu();
        old.set_retire_cookie(cookie);
        self.in_flight.push_back(InFlight { index: old.id, cookie: Some(cookie) });
        let old_token = std::mem::replace(&mut self.pointer_token, token);
        assert_eq!(old_token.id(), old.id, "torture bug: the pointer lane's token does not match its element");
        let mut cx =
            PathCtx { thread: &mut self.thread, rng: &mut self.rng, board: self.board, name: self.paths[path].name };
        retire(&mut cx, old_token);
    }

    fn step_cell_lane(&mut self, path: usize, new: usize, op: CellOp) {
        let old = self.cell_current;
        let element = self.board.arena.element(old);
        // Before the unpublish: a reader may see age 1 on the current
        // element for a moment, which is allowed.
        element.mark_unpublished(path);
        // The token's drop check needs a cookie no later than the retire;
        // `replace` unpublishes and retires in one call, so this one is
        // taken just before it (weaker than after the unpublish, never
        // wrong).
        element.set_retire_cookie(F::get_state_synchronize_rcu());
        let value = CellValue::new(self.board.arena.mint(new));
        let cell = self.cell;
        // None of the cell's writers waits for a grace period: `replace`
        // and `swap` run as a reader (inside a section, or online) half of
        // the time; `update` and `compare_exchange` read the current value,
        // so always.
        match op {
            CellOp::Replace => {
                let reading = self.rng.one_in(2);
                maybe_reading::<F, _>(&mut self.thread, reading, || cell.replace(value));
            }
            CellOp::Swap => {
                let reading = self.rng.one_in(2);
                let retired = maybe_reading::<F, _>(&mut self.thread, reading, || cell.swap(value));
                if retired.index != old {
                    self.board
                        .fail(name::CELL_SWAP, format_args!("swap returned element {}, not {old}", retired.index));
                }
            }
            CellOp::Update => {
                let guard = F::read_lock(&self.thread);
                let mut value = Some(value);
                let replaced = cell.update(&guard, |_| value.take().expect("the cell lane has one writer: no retry"));
                if replaced.index != old {
                    self.board.fail(name::CELL_UPDATE, format_args!("update replaced {}, not {old}", replaced.index));
                }
            }
            CellOp::CompareExchange => {
                let guard = F::read_lock(&self.thread);
                let current = cell.load(&guard);
                if cell.compare_exchange(current, value).is_err() {
                    self.board.fail(name::CELL_COMPARE_EXCHANGE, "lost against no other writer");
                }
            }
        }
        // `replace` has unpublished the old value, so a cookie taken now
        // covers every reader that can hold it (later than needed: safe).
        self.in_flight.push_back(InFlight { index: old, cookie: Some(F::get_state_synchronize_rcu()) });
        self.cell_current = new;
    }

    /// A reusable element, recycled. While none is: runs a grace period
    /// if some retired element still waits for one, otherwise (every
    /// element waits for a deferred free: a callback batch, a kvfree
    /// block's drain interval) sleeps a little.
    fn take_reusable(&mut self) -> usize {
        loop {
            if let Some(index) = self.free.pop_front() {
                self.board.arena.element(index).recycle();
                return index;
            }
            // Relaxed: a statistic.
            self.board.progress.writer_stalls.fetch_add(1, Ordering::Relaxed);
            if self.in_flight.iter().any(|e| e.cookie.is_some()) {
                discipline::synchronize::<F>(&mut self.thread);
            } else {
                F::offline_scope(&mut self.thread, || std::thread::sleep(STALL_SLEEP));
            }
            self.advance_pipeline();
        }
    }

    /// Ages every element in flight (see the module docs) and moves the
    /// reusable ones to the free list, oldest first.
    fn advance_pipeline(&mut self) {
        let arena = self.board.arena;
        for entry in &mut self.in_flight {
            let element = arena.element(entry.index);
            if let Some(cookie) = entry.cookie {
                if F::poll_state_synchronize_rcu(cookie) {
                    element.mark_grace_period_elapsed();
                    entry.cookie = None;
                }
            }
            element.cool();
        }
        let free = &mut self.free;
        self.in_flight.retain(|entry| {
            let reusable = entry.cookie.is_none() && arena.element(entry.index).is_reusable();
            if reusable {
                free.push_back(entry.index);
            }
            !reusable
        });
    }
}
