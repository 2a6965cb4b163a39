//! What users read: statistics and a dump of the grace-period state.

use super::Engine;
use crate::stats::Stats;
use crate::thread::FlavourLocals;
use std::sync::atomic::Ordering;

impl<F: FlavourLocals> Engine<F> {
    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.snapshot(F::NAME, self.sequence.completed(), &self.registry);
        self.reclaimer.report(&mut stats);
        self.kvfree.report(&self.defer, &mut stats);
        stats
    }

    /// A human-readable dump of the grace-period state and every active
    /// reader: which thread holds a grace period up, and in which phase.
    pub fn state_report(&self) -> String {
        use std::fmt::Write;
        // Relaxed here and for each slot's word: a diagnostic snapshot, not
        // synchronisation (the dump may mix moments; it says what it saw).
        let gp = self.counter.ctr().load(Ordering::Relaxed);
        let mut out = format!(
            "rcu_{} state: {} grace periods completed, one in progress: {}, global counter {gp:#x}\n",
            F::NAME,
            self.sequence.completed(),
            self.sequence.in_progress()
        );
        for (i, slot) in self.registry.slots().enumerate() {
            let v = slot.word();
            let state = F::PROTOCOL.reader_state(v, gp);
            if state != crate::reader::ReaderState::Inactive {
                let _ = writeln!(out, "  slot {i}: thread {} word {v:#x} {state:?}", slot.tid());
            }
        }
        if let Some(srcu) = F::srcu_readers() {
            out.push_str(&srcu.state_report());
        }
        out
    }
}
