//! CPU time from /proc: less sensitive than wall time to what else the machine is doing, so
//! the scenarios report it next to their rates.

/// CPU seconds (user + system) `/proc/<pid>/stat` reports, every thread included; `self`
/// for this process. Resolution: one clock tick (USER_HZ, 100 on Linux).
pub fn seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces): state is the 3rd field of
    // the line, utime the 14th and stime the 15th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process so far.
pub fn this_process() -> f64 {
    seconds("self")
}

/// Measures the CPU seconds of this process and of another (the nats-server) over `f`.
pub struct Meter {
    own: f64,
    other: f64,
    other_pid: String,
}

impl Meter {
    pub fn start(other_pid: u32) -> Meter {
        let other_pid = other_pid.to_string();
        Meter {
            own: this_process(),
            other: seconds(&other_pid),
            other_pid,
        }
    }

    /// (this process, the other) CPU seconds since `start`.
    pub fn read(&self) -> (f64, f64) {
        (this_process() - self.own, seconds(&self.other_pid) - self.other)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(super::this_process() > 0.0);
    }
}
