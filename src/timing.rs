//! Where a step's time goes: busy time per stage, summed over the threads that worked in it, beside the step's
//! wall time. The stages of a pipeline overlap (the reader parses while workers hash and the writer writes), so
//! stage times can add up to more than the wall time: each says how much work its stage was, and the largest
//! one is where a speed-up pays. Shown on the step's last progress line and written into its JSON summary.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Busy-time counters for a fixed set of named stages; cheap to update from many threads.
pub struct Stages {
    started: Instant,
    names: &'static [&'static str],
    nanos: Vec<AtomicU64>,
}

impl Stages {
    pub fn new(names: &'static [&'static str]) -> Self {
        Stages { started: Instant::now(), names, nanos: names.iter().map(|_| AtomicU64::new(0)).collect() }
    }

    /// Adds `d` to `stage`. A name that is not one of the stages is a programming error: it is ignored in
    /// release builds rather than aborting a run over a statistic.
    pub fn add(&self, stage: &str, d: Duration) {
        debug_assert!(self.names.contains(&stage), "unknown stage {stage}");
        if let Some(i) = self.names.iter().position(|n| *n == stage) {
            self.nanos[i].fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        }
    }

    /// Runs `f`, counting its time to `stage`.
    pub fn time<T>(&self, stage: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(stage, t.elapsed());
        out
    }

    pub fn report(&self) -> StageTimes {
        StageTimes {
            wall_s: round_ms(self.started.elapsed()),
            stages: self
                .names
                .iter()
                .zip(&self.nanos)
                .map(|(name, n)| StageTime {
                    stage: name.to_string(),
                    busy_s: round_ms(Duration::from_nanos(n.load(Ordering::Relaxed))),
                })
                .collect(),
        }
    }
}

fn round_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A step's wall time and each stage's busy time (seconds, summed over threads), in pipeline order.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct StageTimes {
    pub wall_s: f64,
    pub stages: Vec<StageTime>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct StageTime {
    pub stage: String,
    pub busy_s: f64,
}

impl StageTimes {
    pub fn busy(&self, stage: &str) -> Option<f64> {
        self.stages.iter().find(|s| s.stage == stage).map(|s| s.busy_s)
    }
}

impl fmt::Display for StageTimes {
    /// `wall 12.3 s; busy: parse 4.1 s, windows 2.0 s, hash 6.0 s, write 1.2 s`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wall {:.1} s; busy", self.wall_s)?;
        for (i, s) in self.stages.iter().enumerate() {
            write!(f, "{} {} {:.1} s", if i == 0 { ":" } else { "," }, s.stage, s.busy_s)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_adds_up_per_stage_across_threads() {
        let stages = Stages::new(&["read", "write"]);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| stages.add("read", Duration::from_millis(300)));
            }
        });
        stages.add("write", Duration::from_millis(50));
        let r = stages.report();
        assert_eq!(r.busy("read"), Some(0.6));
        assert_eq!(r.busy("write"), Some(0.05));
        assert_eq!(r.busy("nope"), None);
        let shown = r.to_string();
        assert!(shown.contains("busy: read 0.6 s, write 0.1 s"), "{shown}");
        let json = serde_json::to_string(&r).expect("serialises");
        assert!(json.contains(r#""stage":"read","busy_s":0.6"#), "{json}");
    }
}
