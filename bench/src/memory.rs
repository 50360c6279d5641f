//! The process's resident memory, from /proc/self/status: the peak (VmHWM) and the
//! current figure (VmRSS). The peak can be reset (writing 5 to /proc/self/clear_refs,
//! Linux 4.0 and later), so each phase reports its own peak rather than the largest of
//! all phases before it; the process's own peak is kept across resets. Elsewhere than
//! Linux every figure is None.

use std::sync::atomic::{AtomicU64, Ordering};

/// The highest VmHWM seen before a reset, in kB.
static HIGHEST_KB: AtomicU64 = AtomicU64::new(0);

/// Resets the peak to the current resident size; false when the kernel refused.
pub fn reset_peak() -> bool {
    if let Some(kb) = status_kb("VmHWM:") {
        HIGHEST_KB.fetch_max(kb, Ordering::Relaxed);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident size since the start or the last [`reset_peak`], in MB.
pub fn peak_mb() -> Option<f64> {
    status_kb("VmHWM:").map(|kb| kb as f64 / 1024.0)
}

/// The process's peak resident size since it started, resets or not, in MB.
pub fn process_peak_mb() -> Option<f64> {
    let now = status_kb("VmHWM:")?;
    Some(now.max(HIGHEST_KB.load(Ordering::Relaxed)) as f64 / 1024.0)
}

/// The current resident size, in MB.
pub fn current_mb() -> Option<f64> {
    status_kb("VmRSS:").map(|kb| kb as f64 / 1024.0)
}

fn status_kb(key: &str) -> Option<u64> {
    field_kb(&std::fs::read_to_string("/proc/self/status").ok()?, key)
}

/// A kB field (`VmHWM:`, `VmRSS:`) of a /proc/PID/status text.
pub fn field_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// "123.4 MB", or "-" when unknown.
pub fn show(mb: Option<f64>) -> String {
    mb.map_or_else(|| "-".to_string(), |m| format!("{m:.1} MB"))
}
