//! Keeping processes running, for `mandate dev`: each is started in order, and one that dies
//! unasked is restarted after a pause that doubles (up to 30 s) while it keeps dying young.
//! Stopping goes in reverse order — the components before the server they need.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::process::{Process, Running};

/// A process that ran this long is no longer "dying young": its next pause starts over.
pub const STABLE_AFTER: Duration = Duration::from_secs(30);
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// How long a process gets to stop on SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);

/// Processes kept running until [`Supervisor::stop_all`].
#[derive(Debug)]
pub struct Supervisor {
    /// What its messages start with (`mandate dev`).
    label: &'static str,
    running: Vec<Kept>,
}

#[derive(Debug)]
struct Kept {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Supervisor {
    /// A supervisor whose messages start with `label`.
    pub fn new(label: &'static str) -> Supervisor {
        Supervisor {
            label,
            running: Vec::new(),
        }
    }

    /// Starts `process` and keeps it running. Fails only when it cannot be started at all.
    pub fn start(&mut self, process: Process) -> anyhow::Result<()> {
        let child = process.spawn()?;
        let label = self.label;
        announce(label, &process, &child);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || keep_running(label, &process, child, &flag));
        self.running.push(Kept { stop, thread });
        Ok(())
    }

    /// Stops everything, last started first (SIGTERM, SIGKILL after 10 s).
    pub fn stop_all(mut self) {
        while let Some(kept) = self.running.pop() {
            kept.stop.store(true, Ordering::Release);
            let _ = kept.thread.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        for kept in self.running.drain(..).rev() {
            kept.stop.store(true, Ordering::Release);
            let _ = kept.thread.join();
        }
    }
}

/// One process's life: when it dies unasked, say so and start it again after a pause.
fn keep_running(label: &str, process: &Process, mut child: Running, stop: &AtomicBool) {
    let mut pause = FIRST_PAUSE;
    loop {
        let started = Instant::now();
        let exit = loop {
            if stop.load(Ordering::Acquire) {
                child.terminate(GRACE);
                return;
            }
            if let Some(exit) = child.exited() {
                break exit;
            }
            std::thread::sleep(POLL);
        };
        if started.elapsed() > STABLE_AFTER {
            pause = FIRST_PAUSE;
        }
        eprintln!(
            "{label}: {} exited ({exit}); restarting in {:.1}s",
            process.name,
            pause.as_secs_f64()
        );
        if !sleep_unless_stopped(pause, stop) {
            return;
        }
        pause = (pause * 2).min(LONGEST_PAUSE);
        match process.spawn() {
            Ok(next) => {
                announce(label, process, &next);
                child = next;
            }
            Err(err) => {
                eprintln!("{label}: cannot restart {}: {err:#}", process.name);
                return;
            }
        }
    }
}

/// Sleeps for `pause`; false when a stop was asked for meanwhile.
fn sleep_unless_stopped(pause: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + pause;
    while Instant::now() < until {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

fn announce(label: &str, process: &Process, child: &Running) {
    eprintln!("{label}: started {} (pid {})", process.name, child.pid());
}
