//! A small seeded generator (SplitMix64).
//!
//! Every random decision of a run (reader nesting and spin lengths, offline
//! periods, the order of the retire paths, which threads exit how) comes from
//! one of these, seeded from `--seed` and the thread's role and index, so the
//! decisions of a failing run can be replayed. Thread interleavings are the
//! scheduler's and cannot be replayed; the seed narrows the search.

/// A SplitMix64 generator (Steele, Lea and Flood, 2014).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for the thread playing `role` (a small constant per kind
    /// of thread) with number `index`, in the run seeded with `seed`.
    pub fn for_thread(seed: u64, role: u64, index: u64) -> Self {
        let mut mix = Rng(seed ^ role.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.rotate_left(32));
        // Discard one output so nearby seeds do not start nearby.
        mix.next_u64();
        mix
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift (no modulo bias worth
    /// caring about for `n` far below 2^64).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True once in `n` calls on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_decisions() {
        let a: Vec<u64> = {
            let mut r = Rng::for_thread(42, 1, 3);
            (0..8).map(|_| r.below(1000)).collect()
        };
        let mut r = Rng::for_thread(42, 1, 3);
        let b: Vec<u64> = (0..8).map(|_| r.below(1000)).collect();
        assert_eq!(a, b);
        let mut other = Rng::for_thread(42, 1, 4);
        let c: Vec<u64> = (0..8).map(|_| other.below(1000)).collect();
        assert_ne!(a, c, "different threads of one run must not share a sequence");
    }

    #[test]
    fn below_stays_in_range_and_shuffle_keeps_every_item() {
        let mut r = Rng::for_thread(7, 0, 0);
        assert!((0..10_000).all(|_| r.below(5) < 5));
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
