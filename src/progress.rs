//! Progress reporting for long steps: an indicatif bar on a terminal; on a log file (a workflow engine's
//! stderr) a short line every few seconds instead, since a bar's carriage returns make logs unreadable;
//! nothing with `--quiet`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Lines,
    Quiet,
}

impl ProgressMode {
    /// Bar on a terminal, periodic lines otherwise, nothing when quiet.
    pub fn detect(quiet: bool) -> Self {
        use std::io::IsTerminal;
        if quiet {
            ProgressMode::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Counts processed items of one step. Cheap to call from many threads.
pub struct Progress {
    label: String,
    unit: &'static str,
    total: Option<u64>,
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    done: AtomicU64,
    started: Instant,
    last_line: Mutex<Instant>,
    message: Mutex<String>,
}

impl Progress {
    pub fn new(mode: ProgressMode, label: &str, unit: &'static str, total: Option<u64>) -> Self {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let template = if total.is_some() {
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} {unit} ({per_sec}, eta {eta}) {msg}"
            } else {
                "{prefix} [{elapsed_precise}] {spinner} {pos} {unit} ({per_sec}) {msg}"
            };
            let template = template.replace("{unit}", unit);
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            label: label.to_string(),
            unit,
            total,
            mode,
            bar,
            done: AtomicU64::new(0),
            started: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            message: Mutex::new(String::new()),
        }
    }

    pub fn hidden() -> Self {
        Self::new(ProgressMode::Quiet, "", "", None)
    }

    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        } else if self.mode == ProgressMode::Lines {
            let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= LINE_INTERVAL {
                *last = Instant::now();
                drop(last);
                eprintln!("{}", self.line(done));
            }
        }
    }

    /// Extra counts shown after the rate, e.g. "computed 10, cached 3, failed 0".
    pub fn set_message(&self, msg: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.clone());
        }
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = msg;
    }

    fn line(&self, done: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let of = self.total.map(|t| format!("/{t}")).unwrap_or_default();
        let msg = self.message.lock().map(|m| m.clone()).unwrap_or_default();
        let sep = if msg.is_empty() { "" } else { ", " };
        format!("{}: {done}{of} {} ({:.1}/s){sep}{msg}", self.label, self.unit, done as f64 / secs)
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode == ProgressMode::Lines {
            eprintln!(
                "{} (done in {:.1}s)",
                self.line(self.done.load(Ordering::Relaxed)),
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    /// Like [`Progress::finish`], then one line with the rate and where the time went (on a terminal too,
    /// where the bar is cleared): `extract-seqs: 10000 variants (2500.0/s); wall 4.0 s; busy: parse 1.0 s, …`.
    pub fn finish_with(&self, times: &crate::timing::StageTimes) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != ProgressMode::Quiet {
            eprintln!("{}; {times}", self.line(self.done.load(Ordering::Relaxed)));
        }
    }

    pub fn mode(&self) -> ProgressMode {
        self.mode
    }
}
