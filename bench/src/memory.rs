//! The process's resident memory, from /proc/self/status: the peak (VmHWM) and the
//! current figure (VmRSS). The peak can be reset (writing 5 to /proc/self/clear_refs,
//! Linux 4.0 and later), so each phase reports its own peak rather than the largest of
//! all phases before it. Elsewhere than Linux every figure is None.

/// Resets the peak to the current resident size; false when the kernel refused.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident size since the start or the last [`reset_peak`], in MB.
pub fn peak_mb() -> Option<f64> {
    status_kb("VmHWM:").map(|kb| kb as f64 / 1024.0)
}

/// The current resident size, in MB.
pub fn current_mb() -> Option<f64> {
    status_kb("VmRSS:").map(|kb| kb as f64 / 1024.0)
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
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
