//! What a month of token requests costs each runtime, from the durations this run
//! measured: Lambda bills each invocation's duration rounded up to the next millisecond
//! (the init phase of a cold start included), plus a per-request charge; API Gateway's
//! HTTP API charges per request.

use serde_json::{json, Value};

/// Prices, us-east-1, as published by AWS and read on this date.
pub const PRICES_AS_OF: &str = "2026-11";
/// Lambda on arm64 (Graviton), per GB-second of billed duration.
const LAMBDA_ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// Lambda, per request.
const LAMBDA_PER_REQUEST: f64 = 0.20 / 1e6;
/// API Gateway HTTP API, per request (first 300 million a month, requests up to 512 KB).
const HTTP_API_PER_REQUEST: f64 = 1.00 / 1e6;
/// The memory size priced: Lambda's smallest, which both functions fit (see peak RSS).
pub const MEMORY_MB: f64 = 128.0;
/// Share of requests that meet a cold start. An assumption, not a measurement: it depends
/// on the traffic's shape (bursts at meeting starts, idle nights).
pub const COLD_START_SHARE: f64 = 0.01;
/// The monthly volumes priced.
pub const MONTHLY_REQUESTS: [f64; 3] = [1e6, 10e6, 100e6];

/// Lambda's billed milliseconds for a duration.
fn billed_ms(duration_ms: f64) -> f64 {
    duration_ms.max(0.0).ceil().max(1.0)
}

/// The monthly bill of one runtime at each volume, from its measured warm duration (net
/// of the harness: what Lambda's own clock would see) and cold start (spawn to first
/// response: init and first invocation).
pub fn monthly(warm_ms: f64, cold_ms: f64) -> Value {
    let gb = MEMORY_MB / 1024.0;
    let per_request_duration = (1.0 - COLD_START_SHARE) * billed_ms(warm_ms) + COLD_START_SHARE * billed_ms(cold_ms);
    let rows: Vec<Value> = MONTHLY_REQUESTS
        .iter()
        .map(|requests| {
            let lambda_duration = requests * per_request_duration / 1000.0 * gb * LAMBDA_ARM64_PER_GB_SECOND;
            let lambda_requests = requests * LAMBDA_PER_REQUEST;
            let api = requests * HTTP_API_PER_REQUEST;
            json!({
                "requests": requests,
                "lambda_duration_usd": round_cents(lambda_duration),
                "lambda_requests_usd": round_cents(lambda_requests),
                "http_api_usd": round_cents(api),
                "total_usd": round_cents(lambda_duration + lambda_requests + api),
            })
        })
        .collect();
    json!({
        "billed_ms_warm": billed_ms(warm_ms),
        "billed_ms_cold": billed_ms(cold_ms),
        "by_volume": rows,
    })
}

/// Rounded to a tenth of a cent: the duration part is that small.
fn round_cents(usd: f64) -> f64 {
    (usd * 1000.0).round() / 1000.0
}

/// The assumptions, for the report.
pub fn assumptions() -> Value {
    json!({
        "prices_as_of": PRICES_AS_OF,
        "region": "us-east-1",
        "lambda_arm64_per_gb_second_usd": LAMBDA_ARM64_PER_GB_SECOND,
        "lambda_per_million_requests_usd": LAMBDA_PER_REQUEST * 1e6,
        "http_api_per_million_requests_usd": HTTP_API_PER_REQUEST * 1e6,
        "memory_mb": MEMORY_MB,
        "cold_start_share": COLD_START_SHARE,
        "free_tier": "not applied",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_bills_whole_milliseconds_and_at_least_one() {
        assert_eq!(billed_ms(0.18), 1.0);
        assert_eq!(billed_ms(1.0), 1.0);
        assert_eq!(billed_ms(15.2), 16.0);
    }

    #[test]
    fn a_million_warm_requests_at_one_millisecond() {
        // 1e6 × 1 ms × 0.125 GB = 125 GB-s → $0.00167; requests $0.20; HTTP API $1.00.
        let bill = monthly(0.2, 0.2);
        let first = &bill["by_volume"][0];
        assert_eq!(first["lambda_requests_usd"], 0.2);
        assert_eq!(first["http_api_usd"], 1.0);
        assert_eq!(first["lambda_duration_usd"], 0.002);
        assert_eq!(first["total_usd"], 1.202);
    }
}
