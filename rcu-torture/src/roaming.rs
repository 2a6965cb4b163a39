//! Readers whose sections roam, for flavours whose guards are `Send`
//! (srcu): a section opened on one thread and ended on another, and
//! sections held across `.await` by tasks that migrate between the
//! workers of a multi-thread tokio runtime.
//!
//! Which flavours qualify is said by the type system, not by a list:
//! [`Roaming`] is implemented for every flavour whose guards are `Send` and
//! whose thread handle may be shared, and `run::run_roaming` asks for it.

use crate::board::{Board, Histogram};
use crate::label::role;
use crate::path::name;
use rcu_core::RcuFlavour;
use rcu_testkit::arena::{Element, Observation};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Workers of the async readers' runtime: two, so that tasks migrate.
pub const ASYNC_WORKERS: usize = 2;

/// A flavour whose read-side sections may end on another thread than the
/// one that began them, and may be held across `.await` in a task that
/// moves between threads: its guards are `Send`, and its thread handle may
/// be shared by the tasks that open sections on it.
///
/// ```
/// fn roams<F: rcu_torture::roaming::Roaming>() where for<'t> F::Guard<'t>: Send {}
/// roams::<rcu_srcu::Srcu>();
/// ```
///
/// A flavour whose guards belong to their thread does not qualify:
///
/// ```compile_fail
/// fn roams<F: rcu_torture::roaming::Roaming>() where for<'t> F::Guard<'t>: Send {}
/// roams::<rcu_memb::Memb>();
/// ```
pub trait Roaming: RcuFlavour<Thread: Send + Sync> {}

impl<F> Roaming for F
where
    F: RcuFlavour<Thread: Send + Sync>,
    for<'t> F::Guard<'t>: Send,
{
}

/// The worse of two observations of one element: the larger age, and
/// freed if either saw it freed.
fn worst(a: Observation, b: Observation) -> Observation {
    Observation { age: a.age.max(b.age), freed: a.freed || b.freed }
}

/// What the hand-off reader sends its partner: the open section, the id of
/// the element loaded under it and what the reader saw of it.
type HandOff<G> = (G, usize, Observation);

/// A hand-off reader: opens a section, loads the published element and
/// observes it, then hands the guard with the element's id to a partner
/// thread, which observes the element on arrival, sleeps or yields a
/// random short while, observes it again and ends the section there.
pub fn handoff_reader<F>(board: &Board, index: u64)
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    let mut rng = board.label.rng(role::HANDOFF, index);
    let partner_seed = rng.next_u64();
    let who = format!("hand-off reader {index}");
    board.name_this_thread(&who);
    let thread = F::register_thread();
    std::thread::scope(|s| {
        // A short queue: the reader runs at most two sections ahead of the
        // partner that ends them.
        let (sender, receiver) = mpsc::sync_channel::<HandOff<F::Guard<'_>>>(2);
        let partner = s.spawn(|| handoff_partner::<F>(board, index, partner_seed, receiver));
        while !board.stopping() {
            let guard = F::read_lock(&thread);
            let element = board.load_pointer();
            let first = element.observe();
            if sender.send((guard, element.id, first)).is_err() {
                break;
            }
            if rng.one_in(4) {
                std::thread::yield_now();
            }
        }
        drop(sender);
        if let Err(panic) = partner.join() {
            let text = crate::failures::panic_text(&*panic);
            board.fail(name::HANDOFF, format_args!("the partner of {who} panicked: {text}"));
        }
    });
    F::unregister_thread(thread);
}

/// The partner thread of hand-off reader `index`: ends every section it
/// receives, after checking the element on arrival and after a pause.
fn handoff_partner<F>(board: &Board, index: u64, seed: u64, receiver: mpsc::Receiver<HandOff<F::Guard<'_>>>)
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    let mut rng = rcu_testkit::rng::Rng::for_thread(seed, role::HANDOFF, index);
    let who = format!("hand-off partner {index}");
    board.name_this_thread(&who);
    let mut histogram = Histogram::default();
    let mut reads = 0u64;
    for (guard, id, first) in receiver {
        let Some(element) = board.arena.get(id) else {
            drop(guard);
            board.fail(name::HANDOFF, format_args!("{who} was handed element id {id}: no such element"));
            continue;
        };
        let arrival = element.observe();
        match rng.below(4) {
            0 => std::thread::yield_now(),
            1 | 2 => std::thread::sleep(Duration::from_micros(rng.below(200))),
            _ => {}
        }
        let last = worst(arrival, element.observe());
        drop(guard);
        board.judge(&who, element, first, last, &mut histogram);
        reads += 1;
    }
    // Relaxed: a statistic, read after the threads join.
    board.progress.handoff_reads.fetch_add(reads, Ordering::Relaxed);
    board.merge_histogram(&histogram);
}

/// The async readers: a multi-thread tokio runtime of [`ASYNC_WORKERS`]
/// workers running `tasks` tasks, each of which holds sections across
/// `yield_now().await` and `sleep(..).await` and checks its element after
/// every await, until the run stops. Sections opened on one worker and
/// ended on another are counted as migrations.
pub fn async_readers<F>(board: &'static Board, tasks: usize)
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    board.name_this_thread("async readers");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(ASYNC_WORKERS)
        .thread_name("rcu-torture async worker")
        .on_thread_start(move || board.name_this_thread("async worker"))
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            board.fail(name::ASYNC, format_args!("cannot build the async readers' runtime: {e}"));
            return;
        }
    };
    let thread = Arc::new(F::register_thread());
    let handles: Vec<_> =
        (0..tasks as u64).map(|index| runtime.spawn(async_task::<F>(board, Arc::clone(&thread), index))).collect();
    runtime.block_on(async {
        for (index, handle) in handles.into_iter().enumerate() {
            if let Err(e) = handle.await {
                board.fail(name::ASYNC, format_args!("async reader task {index} failed: {e}"));
            }
        }
    });
    drop(runtime);
    match Arc::try_unwrap(thread) {
        Ok(thread) => F::unregister_thread(thread),
        Err(_) => board.fail(name::ASYNC, "an async reader task outlived its runtime"),
    }
}

/// One async reader task (see [`async_readers`]).
async fn async_task<F>(board: &'static Board, thread: Arc<F::Thread>, index: u64)
where
    F: Roaming,
    for<'t> F::Guard<'t>: Send,
{
    let mut rng = board.label.rng(role::ASYNC, index);
    let who = format!("async reader task {index}");
    let mut histogram = Histogram::default();
    let (mut reads, mut migrations) = (0u64, 0u64);
    while !board.stopping() {
        let guard = F::read_lock(&thread);
        let began_on = std::thread::current().id();
        let element: &'static Element = board.load_pointer();
        let first = element.observe();
        let mut last = first;
        for _ in 0..=rng.below(3) {
            if rng.one_in(2) {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_micros(rng.below(300))).await;
            }
            last = worst(last, element.observe());
        }
        if std::thread::current().id() != began_on {
            migrations += 1;
        }
        drop(guard);
        board.judge(&who, element, first, last, &mut histogram);
        reads += 1;
    }
    // Relaxed: statistics, read after the threads join.
    board.progress.async_reads.fetch_add(reads, Ordering::Relaxed);
    board.progress.async_migrations.fetch_add(migrations, Ordering::Relaxed);
    board.merge_histogram(&histogram);
}
