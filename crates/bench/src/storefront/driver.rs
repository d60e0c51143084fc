//! The storefront's driver: places orders over the bus (the kit's `orders.place.v1`, or the
//! baselines' `sfb.place`) and times their completions — closed loop at saturation, open loop
//! at an offered rate.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;
use mandate::Bus;
use serde::{Deserialize, Serialize};

use super::{SATURATION_IN_FLIGHT, SKU};
use crate::raw;
use crate::report::percentile;

/// What the place request carries (the fields of `orders.place.v1` the bench sets).
#[derive(Debug, Serialize)]
pub(super) struct PlaceRequest<'a> {
    pub(super) idempotency_key: String,
    pub(super) customer_id: String,
    pub(super) lines: [Line<'a>; 1],
    pub(super) payment_token: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct Line<'a> {
    pub(super) sku: &'a str,
    pub(super) quantity: u32,
}

/// What the bench reads of a placed order and of a completion.
#[derive(Debug, Deserialize)]
pub(super) struct OrderId {
    pub(super) order_id: String,
}

/// How orders are placed and their completions seen.
pub(super) enum Placer {
    /// A kit command: the bus and the command's subject.
    Kit(Box<Bus>, &'static str),
    Chain(Client),
}

pub(super) struct Driver {
    pub(super) placer: Placer,
    pub(super) client: Client,
    /// Where completions are announced: for the kit, both forms of `orders.completed.v1`
    /// (unkeyed, and keyed by order as the kit publishes it now).
    pub(super) completed_subjects: &'static [&'static str],
    pub(super) run: String,
    pub(super) next: std::sync::atomic::AtomicU64,
}

impl Driver {
    pub(super) async fn place(&self, index: u64) -> anyhow::Result<String> {
        let request = PlaceRequest {
            idempotency_key: format!("{}-{index}", self.run),
            customer_id: format!("customer-{}", index % 1_000),
            lines: [Line { sku: SKU, quantity: 1 }],
            payment_token: "tok_bench",
        };
        let payload = Bytes::from(rmp_serde::to_vec_named(&request)?);
        let reply = match &self.placer {
            Placer::Kit(bus, subject) => bus
                .request(subject, payload)
                .await
                .map_err(|e| anyhow!("{subject}: {e}"))?,
            Placer::Chain(client) => {
                client
                    .request("sfb.place", payload)
                    .await
                    .map_err(|e| anyhow!("sfb.place: {e}"))?
                    .payload
            }
        };
        Ok(rmp_serde::from_slice::<OrderId>(&reply)?.order_id)
    }

    /// Completion times by order id, collected from now on.
    pub(super) async fn completions(
        &self,
    ) -> anyhow::Result<(Arc<Mutex<HashMap<String, Instant>>>, tokio::task::JoinHandle<()>)> {
        let mut subscriptions = Vec::new();
        for subject in self.completed_subjects {
            let subscription = self
                .client
                .subscribe(*subject)
                .await
                .map_err(|e| anyhow!("subscribe {subject}: {e}"))?;
            subscriptions.push(subscription);
        }
        let mut subscription = futures::stream::select_all(subscriptions);
        raw::settle(&self.client).await;
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let sink = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let at = Instant::now();
                if let Ok(OrderId { order_id }) = rmp_serde::from_slice(&message.payload) {
                    lock(&sink).insert(order_id, at);
                }
            }
        });
        Ok((seen, task))
    }

    pub(super) fn indices(&self, count: u64) -> std::ops::Range<u64> {
        let first = self.next.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        first..first + count
    }

    /// Closed loop at saturation; returns the sustained completion rate.
    pub(super) async fn saturation(self: &Arc<Self>, orders: u64) -> anyhow::Result<f64> {
        let (seen, task) = self.completions().await?;
        let placed: Vec<String> = futures::stream::iter(self.indices(orders))
            .map(|i| self.place(i))
            .buffer_unordered(SATURATION_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        let done = wait_all(&seen, &placed, Duration::from_secs(120 + orders / 200)).await;
        task.abort();
        let mut times: Vec<Instant> = done?.into_values().collect();
        times.sort();
        let (lo, hi) = (times.len() / 10, (times.len() * 9 / 10).max(1) - 1);
        let span = times[hi].saturating_duration_since(times[lo]).as_secs_f64();
        if hi <= lo || span <= 0.0 {
            // Too few orders to cut off the ramps: all of them over their whole span.
            let span = times[times.len() - 1].saturating_duration_since(times[0]).as_secs_f64();
            return Ok(times.len() as f64 / span.max(1e-3));
        }
        Ok((hi - lo) as f64 / span)
    }

    /// Open loop at `rate` orders/s for `count` orders: p50, p90, p99 and max from the scheduled send
    /// to the completion. A place call that times out (more offered than the stack takes)
    /// counts as its time to the timeout: a lower bound, and said in a note.
    pub(super) async fn offered(self: &Arc<Self>, rate: f64, count: u64) -> anyhow::Result<Latency> {
        let (seen, task) = self.completions().await?;
        let scheduled = Arc::new(Mutex::new(HashMap::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let start = tokio::time::Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::with_capacity(count as usize);
        for (k, index) in self.indices(count).enumerate() {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            tokio::time::sleep_until(due).await;
            let driver = Arc::clone(self);
            let scheduled = Arc::clone(&scheduled);
            let failures = Arc::clone(&failures);
            let due = due.into_std();
            tasks.push(tokio::spawn(async move {
                match driver.place(index).await {
                    Ok(order_id) => {
                        lock(&scheduled).insert(order_id, due);
                    }
                    Err(err) => lock(&failures).push((err.to_string(), due, Instant::now())),
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        let failures = std::mem::take(&mut *lock(&failures));
        if let Some((first, _, _)) = failures.iter().find(|(err, _, _)| !is_timeout(err)) {
            bail!("placing at {rate} orders/s: {first}");
        }
        let scheduled = std::mem::take(&mut *lock(&scheduled));
        let ids: Vec<String> = scheduled.keys().cloned().collect();
        let done = wait_all(&seen, &ids, Duration::from_secs(120 + count / 200)).await;
        task.abort();
        let done = done?;
        let latencies: Vec<f64> = scheduled
            .iter()
            .filter_map(|(id, due)| {
                done.get(id)
                    .map(|at| at.saturating_duration_since(*due).as_secs_f64() * 1e3)
            })
            .chain(
                failures
                    .iter()
                    .map(|(_, due, at)| at.saturating_duration_since(*due).as_secs_f64() * 1e3),
            )
            .collect();
        Ok(Latency {
            p50: percentile(&latencies, 50.0),
            p90: percentile(&latencies, 90.0),
            p99: percentile(&latencies, 99.0),
            max: percentile(&latencies, 100.0),
            timed_out: failures.len(),
        })
    }
}

/// What the open-loop run measured.
pub(super) struct Latency {
    pub(super) p50: f64,
    pub(super) p90: f64,
    pub(super) p99: f64,
    pub(super) max: f64,
    /// Place calls that timed out.
    pub(super) timed_out: usize,
}

/// Whether a place call failed by timing out (the kit's `Bus` and async-nats say so).
pub(super) fn is_timeout(error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    error.contains("timed out") || error.contains("did not answer") || error.contains("timeout")
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until every id in `ids` has completed; returns their completion times.
pub(super) async fn wait_all(
    seen: &Mutex<HashMap<String, Instant>>,
    ids: &[String],
    timeout: Duration,
) -> anyhow::Result<HashMap<String, Instant>> {
    let deadline = Instant::now() + timeout;
    let wanted: HashSet<&String> = ids.iter().collect();
    loop {
        {
            let seen = lock(seen);
            let missing = wanted.iter().filter(|id| !seen.contains_key(**id)).count();
            if missing == 0 {
                return Ok(wanted
                    .iter()
                    .filter_map(|id| seen.get(*id).map(|at| ((*id).clone(), *at)))
                    .collect());
            }
            if Instant::now() > deadline {
                bail!("{missing} of {} orders did not complete within {timeout:?}", ids.len());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
