//! A guard that kills a child when the process that started it dies without stopping it (a
//! test that panics past its drops, a `kill -9` of the tool): a tiny `sh` reads a pipe only we
//! hold and sees end-of-file then; `done` disarms it. Best effort: without `sh`, only the
//! owner's drop kills the child.

use std::io::Write;
use std::process::{Child, Command, Stdio};

#[derive(Debug)]
pub struct Watchdog(Option<Child>);

impl Watchdog {
    /// Arms a watchdog for `pid`.
    pub fn arm(pid: u32) -> Watchdog {
        let child = Command::new("sh")
            .args([
                "-c",
                "read -r line; [ \"$line\" = done ] || kill -9 \"$1\" 2>/dev/null",
                "sh",
            ])
            .arg(pid.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok();
        Watchdog(child)
    }

    /// Disarms it and waits for it, so it can never signal a reaped (and maybe reused) pid:
    /// call before reaping the child.
    pub fn disarm(&mut self) {
        if let Some(mut watchdog) = self.0.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"done\n");
            }
            let _ = watchdog.wait();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.disarm();
    }
}
