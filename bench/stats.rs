//! Times and statistics.

use crate::*;

pub(crate) fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1000.0
}

pub(crate) fn signed_ms(from: Instant, to: Instant) -> f64 {
    match to.checked_duration_since(from) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(from.duration_since(to).as_secs_f64() * 1000.0),
    }
}

/// A period as the configs write it ("1s").
pub(crate) fn seconds(period: &str) -> Duration {
    let n = period.strip_suffix('s').and_then(|n| n.parse().ok());
    Duration::from_secs(n.unwrap_or_else(|| panic!("{period:?}: whole seconds, as \"1s\"")))
}

pub(crate) fn stats(v: &[f64]) -> String {
    format!(
        "{:.3} | {:.3} | {:.3}",
        percentile(v, 0.5),
        percentile(v, 0.0),
        percentile(v, 1.0)
    )
}

pub(crate) fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<&str> = text.split_whitespace().take(3).collect();
    v.join(" / ")
}

pub(crate) fn prosody_version() -> String {
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "prosody"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
