//! Percentiles and summaries of raw samples.

use serde_json::{json, Value};

/// Nearest-rank percentile of sorted samples (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted
}

pub fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len() as f64
}

/// Rounds for the JSON output (3 decimals is below every clock we read).
pub fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Median and spread of a small sample (cold starts), raw samples included.
pub fn spread(samples: &[f64]) -> Value {
    let s = sorted(samples);
    json!({
        "n": s.len(),
        "median": round(percentile(&s, 50.0)),
        "min": round(s[0]),
        "p25": round(percentile(&s, 25.0)),
        "p75": round(percentile(&s, 75.0)),
        "max": round(s[s.len() - 1]),
        "mean": round(mean(&s)),
        "samples": samples.iter().map(|v| round(*v)).collect::<Vec<_>>(),
    })
}

/// Latency distribution of a large sample (warm invocations), without the raw samples.
pub fn distribution(samples: &[f64]) -> Value {
    let s = sorted(samples);
    json!({
        "n": s.len(),
        "p50": round(percentile(&s, 50.0)),
        "p90": round(percentile(&s, 90.0)),
        "p99": round(percentile(&s, 99.0)),
        "p99_9": round(percentile(&s, 99.9)),
        "min": round(s[0]),
        "max": round(s[s.len() - 1]),
        "mean": round(mean(&s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 50.0);
        assert_eq!(percentile(&s, 99.0), 99.0);
        assert_eq!(percentile(&s, 100.0), 100.0);
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }
}
