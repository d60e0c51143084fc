//! A latency histogram that costs a few atomic adds per observation: no lock, no allocation.
//! The metrics' families use it, and so does the store, which times its syncs with it (so it
//! stands on its own, below both).
//! `prometheus-client`'s own histogram takes a lock per observation, which the consume loop
//! cannot afford per message; this one is encoded through the same crate's encoder, so the
//! exposition is the library's, not ours.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds of the buckets, in seconds: from 50 µs (a handler that only writes) to 10 s
/// (a commit on a struggling disk). `+Inf` is implied.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The same bounds in nanoseconds, compared against an observation without a float.
const BOUNDS_NANOS: [u64; 16] = {
    let mut nanos = [0u64; 16];
    let mut i = 0;
    while i < 16 {
        nanos[i] = (LATENCY_BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    nanos
};

/// A histogram of durations; clones share the same counts.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; 17],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS.iter().position(|&bound| nanos <= bound).unwrap_or(16);
        self.inner.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.inner.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // Per bucket, as read: the encoder makes them cumulative. The count is their total, so
        // that `+Inf` and `_count` agree even while observations arrive.
        let mut buckets = [(0.0, 0); 17];
        for (i, slot) in buckets.iter_mut().enumerate() {
            let upper = LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            *slot = (upper, self.inner.buckets[i].load(Ordering::Relaxed));
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_observation_lands_in_the_first_bucket_that_holds_it() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(50));
        histogram.observe(Duration::from_micros(51));
        histogram.observe(Duration::from_secs(60));
        let counts: Vec<u64> = histogram
            .inner
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[0], 1, "50 µs is at most the first bound");
        assert_eq!(counts[1], 1, "51 µs is in the second");
        assert_eq!(counts[16], 1, "a minute is only in +Inf");
        assert_eq!(histogram.count(), 3);
    }
}
