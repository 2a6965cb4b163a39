//! A latency histogram with bounded memory and bounded relative error.
//!
//! Grace periods range from a fraction of a microsecond (QSBR, no reader)
//! to milliseconds (a reader preempted on a busy CPU), and a writer can
//! complete millions of them in a run, so keeping every sample is not an
//! option. Values (nanoseconds) go into log-linear buckets: exact below 16,
//! then 16 sub-buckets per power of two, so a bucket's width is at most
//! 1/16 of its lower bound and any quantile is reported within about 6.25%
//! (the bucket midpoint is within half that). Minimum, maximum, count and
//! sum are exact.

/// Sub-buckets per power of two: 2^SUB_BITS.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any u64: 16 exact ones, then 16 per power of two
/// from 2^4 to 2^63.
const BUCKETS: usize = (SUB as usize) * (64 - SUB_BITS as usize + 1);

/// A histogram of nanosecond latencies.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min)
            .field("median", &self.quantile(0.5))
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // floor(log2 v) >= SUB_BITS
    let mantissa = (v >> (e - SUB_BITS)) - SUB; // 0..SUB
    ((e - SUB_BITS + 1) as u64 * SUB + mantissa) as usize
}

/// The smallest and largest value of bucket `i`.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, i);
    }
    let e = i / SUB + u64::from(SUB_BITS) - 1;
    let m = i % SUB + SUB;
    let shift = e - u64::from(SUB_BITS);
    let low = m << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), count: 0, sum: 0, min: u64::MAX, max: 0 }
    }

    /// Records one value (nanoseconds).
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Records a duration.
    #[inline]
    pub fn record_duration(&mut self, d: std::time::Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact minimum (None when empty).
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// Exact maximum (None when empty).
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// Exact mean (None when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The `q`-quantile (0 <= q <= 1): the midpoint of the bucket holding
    /// the value of rank ceil(q * count), clamped to the exact min and max.
    /// None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bucket_bounds(i);
                return Some((lo + (hi - lo) / 2).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_inside_its_bucket() {
        let mut v = 0u64;
        while v < u64::MAX / 3 {
            let (lo, hi) = bucket_bounds(bucket_of(v));
            assert!(lo <= v && v <= hi, "{v} not in [{lo}, {hi}]");
            assert!(hi - lo <= lo / SUB, "bucket [{lo}, {hi}] wider than 1/16 of its bound");
            v = v * 3 / 2 + 1;
        }
        let (lo, hi) = bucket_bounds(bucket_of(u64::MAX));
        assert_eq!(hi, u64::MAX, "the last bucket ends at u64::MAX");
        assert!(lo > u64::MAX / 2);
    }

    #[test]
    fn buckets_are_ordered_by_value() {
        for i in 1..BUCKETS {
            assert!(bucket_bounds(i - 1).1 < bucket_bounds(i).0, "bucket {i}");
        }
    }

    #[test]
    fn quantiles_are_within_the_bucket_error_of_the_exact_ones() {
        let values: Vec<u64> = (1..=10_000u64).map(|i| i * i % 1_000_003 + 100).collect();
        let mut h = Histogram::new();
        values.iter().for_each(|&v| h.record(v));
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for q in [0.01, 0.25, 0.5, 0.9, 0.99, 1.0] {
            let exact = sorted[((q * sorted.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = h.quantile(q).unwrap() as f64;
            assert!((got - exact).abs() <= exact / 16.0, "q={q}: got {got}, exact {exact}");
        }
        assert_eq!(h.min(), sorted.first().copied());
        assert_eq!(h.max(), sorted.last().copied());
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in 0..1000u64 {
            if v % 3 == 0 { &mut a } else { &mut b }.record(v * 37);
            all.record(v * 37);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.mean(), all.mean());
        assert_eq!(a.quantile(0.99), all.quantile(0.99));
        assert_eq!((a.min(), a.max()), (all.min(), all.max()));
    }

    #[test]
    fn an_empty_histogram_has_no_quantiles() {
        let h = Histogram::new();
        assert_eq!((h.quantile(0.5), h.min(), h.max(), h.mean()), (None, None, None, None));
    }
}
