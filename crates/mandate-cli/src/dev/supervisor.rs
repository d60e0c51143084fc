//! Runs processes, forwards their output with a name prefix (like `docker compose up`),
//! restarts one that dies with a growing pause, and stops them all in order.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::STABLE_AFTER;

/// A process to keep running.
#[derive(Debug, Clone)]
pub struct Process {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Process {
    pub fn new(name: &str, program: PathBuf) -> Process {
        Process {
            name: name.to_owned(),
            program,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn args(mut self, args: impl IntoIterator<Item = String>) -> Process {
        self.args.extend(args);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Process {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn spawn(&self) -> std::io::Result<Child> {
        Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // If `mandate dev` itself goes away, its children go with it.
            .kill_on_drop(true)
            .spawn()
    }
}

/// The first process added (the server) starts first and stops last.
#[derive(Debug, Default)]
pub struct Supervisor {
    processes: Vec<Process>,
    running: Vec<(String, watch::Sender<bool>, JoinHandle<()>)>,
}

impl Supervisor {
    pub fn new() -> Supervisor {
        Supervisor::default()
    }

    pub fn add(&mut self, process: Process) {
        self.processes.push(process);
    }

    pub fn start_all(&mut self) -> anyhow::Result<()> {
        for process in std::mem::take(&mut self.processes) {
            let child = process
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start {} ({}): {e}", process.name, process.program.display()))?;
            let (stop, stopped) = watch::channel(false);
            let name = process.name.clone();
            let task = tokio::spawn(keep_running(process, child, stopped));
            self.running.push((name, stop, task));
        }
        Ok(())
    }

    /// Keeps everything running until `signal`, then stops it all.
    pub async fn supervise_until(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        self.stop_all().await
    }

    /// Stops the components (in reverse order), then the server.
    pub async fn stop_all(mut self) -> anyhow::Result<()> {
        eprintln!("mandate dev: stopping");
        while let Some((_, stop, task)) = self.running.pop() {
            let _ = stop.send(true);
            let _ = task.await;
        }
        eprintln!("mandate dev: stopped");
        Ok(())
    }
}

/// One process's life: forward its output; when it dies unasked, say so and restart it
/// after a pause that doubles (up to 30 s) while it keeps dying young.
async fn keep_running(process: Process, mut child: Child, mut stop: watch::Receiver<bool>) {
    let mut pause = Duration::from_millis(500);
    loop {
        let started = Instant::now();
        announce(&process, &mut child);
        let exit = tokio::select! {
            exit = child.wait() => exit.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            () = stopped(&mut stop) => {
                terminate(&process.name, &mut child).await;
                return;
            }
        };
        if started.elapsed() > STABLE_AFTER {
            pause = Duration::from_millis(500);
        }
        eprintln!(
            "mandate dev: {} exited ({exit}); restarting in {:.1}s",
            process.name,
            pause.as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stopped(&mut stop) => return,
        }
        pause = (pause * 2).min(Duration::from_secs(30));
        match process.spawn() {
            Ok(next) => child = next,
            Err(err) => {
                eprintln!("mandate dev: cannot restart {}: {err}", process.name);
                return;
            }
        }
    }
}

/// Resolves once a stop is asked for (or the supervisor is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

fn announce(process: &Process, child: &mut Child) {
    eprintln!(
        "mandate dev: started {} (pid {})",
        process.name,
        child.id().unwrap_or_default()
    );
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward(process.name.clone(), out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward(process.name.clone(), err));
    }
}

async fn forward(name: String, stream: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("{name:>14} | {line}");
    }
}

/// SIGTERM, then SIGKILL if it is still there after 10 s.
async fn terminate(name: &str, child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
    }
    match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            eprintln!("mandate dev: {name} did not stop in 10 s; killing it");
            let _ = child.kill().await;
        }
    }
}
