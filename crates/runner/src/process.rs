//! One child process: what to run ([`Process`]: program, arguments, environment, working
//! directory, where its output goes) and the running child ([`Running`]), which ends with it
//! — killed and reaped on drop, and by a [`Watchdog`] if the owner dies first.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::watchdog::Watchdog;

/// How often a stopping child is polled.
const POLL: Duration = Duration::from_millis(10);

/// Where a child's stdout and stderr go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Appended to this file (kept across restarts).
    File(PathBuf),
    /// Line by line to this process's stderr, each line after the child's name (like
    /// `docker compose up`).
    Prefixed,
    /// Nowhere.
    Null,
}

/// A program to run: what, with which arguments and environment, where, and where its
/// output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Start from an empty environment (plus `env`) instead of this process's.
    pub clear_env: bool,
    pub cwd: Option<PathBuf>,
    pub output: Output,
}

impl Process {
    pub fn new(name: &str, program: impl Into<PathBuf>) -> Process {
        Process {
            name: name.to_owned(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            clear_env: false,
            cwd: None,
            output: Output::Null,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Process {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Process {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_string_lossy().into_owned()));
        self
    }

    /// Sets `key` (replacing an earlier value of the same key).
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Process {
        self.env.retain(|(k, _)| k != key);
        self.env
            .push((key.to_owned(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    pub fn envs<K: AsRef<str>, V: AsRef<str>>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Process {
        for (key, value) in vars {
            self = self.env(key.as_ref(), value.as_ref());
        }
        self
    }

    pub fn clear_env(mut self) -> Process {
        self.clear_env = true;
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Process {
        self.cwd = Some(dir.into());
        self
    }

    pub fn output(mut self, output: Output) -> Process {
        self.output = output;
        self
    }

    /// The value of `key` in the environment given to it, if set here.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The command line, environment and folder, without where the output goes.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if self.clear_env {
            command.env_clear();
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    /// Starts `command`, guarded by a watchdog.
    fn start(&self, command: &mut Command) -> anyhow::Result<Running> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {} ({})", self.name, self.program.display()))?;
        let watchdog = Watchdog::arm(child.id());
        Ok(Running {
            name: self.name.clone(),
            child,
            watchdog,
        })
    }

    /// Starts it.
    pub fn spawn(&self) -> anyhow::Result<Running> {
        let mut command = self.command();
        match &self.output {
            Output::File(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            Output::Prefixed => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
            }
            Output::Null => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let mut running = self.start(&mut command)?;
        if self.output == Output::Prefixed {
            forward(&self.name, running.child.stdout.take());
            forward(&self.name, running.child.stderr.take());
        }
        Ok(running)
    }
}

/// What a process that ran to its end left: its exit status and its output.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Process {
    /// Runs it to its end (a command-line use: `--help`, `--print-manifest`), its output
    /// captured; killed when it has not ended within `limit`.
    pub fn run(&self, limit: Duration) -> anyhow::Result<Finished> {
        let dir = tempfile::tempdir().context("a folder for the output")?;
        let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let mut command = self.command();
        command
            .stdout(std::fs::File::create(&out)?)
            .stderr(std::fs::File::create(&err)?);
        let mut running = self.start(&mut command)?;
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = running.exited() {
                break status;
            }
            if Instant::now() > deadline {
                running.kill();
                anyhow::bail!("{} did not end within {limit:?}", self.name);
            }
            std::thread::sleep(POLL);
        };
        Ok(Finished {
            status,
            stdout: read_from(&out, 0),
            stderr: read_from(&err, 0),
        })
    }
}

/// Copies `stream` line by line to stderr after `name`, on a thread of its own.
fn forward(name: &str, stream: Option<impl Read + Send + 'static>) {
    let Some(stream) = stream else { return };
    let name = name.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            eprintln!("{name:>14} | {line}");
        }
    });
}

/// A started child. Killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    watchdog: Watchdog,
}

impl Running {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `None` while it runs; how it ended once it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `Ok` while it runs; otherwise how it ended.
    pub fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(exit)) => Err(format!("{} exited with {exit}", self.name)),
            Err(err) => Err(format!("{}: cannot tell whether it runs: {err}", self.name)),
        }
    }

    /// SIGKILL — a crash, no shutdown of any kind — and reaps it.
    pub fn kill(mut self) {
        self.end();
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; reaps it. Returns whether it
    /// exited on its own with success.
    pub fn terminate(mut self, grace: Duration) -> bool {
        let clean = self.stop_within(grace);
        self.end();
        clean
    }

    fn stop_within(&mut self, grace: Duration) -> bool {
        if let Some(exit) = self.exited() {
            return exit.success();
        }
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return false;
        };
        if kill(Pid::from_raw(pid), Signal::SIGTERM).is_err() {
            return false;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(exit) = self.exited() {
                return exit.success();
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// Disarms the watchdog first (it must never signal a reaped pid), then kills and reaps.
    fn end(&mut self) {
        self.watchdog.disarm();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.end();
    }
}

/// Everything in the file at `path` from byte `start` on, lossily as text (for logs).
pub fn read_from(path: &Path, start: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The last `lines` lines of the file at `path`.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = read_from(path, 0);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
