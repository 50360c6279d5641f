//! kubectl's `--request-timeout` values: `0` (no limit), plain seconds (`30`), or a Go
//! duration (`30s`, `1m`, `2m30s`, `500ms`, `1.5h`).

use std::time::Duration;

/// A parsed `--request-timeout`: `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeout(pub Option<Duration>);

const FORMS: &str = "a number of seconds (30), or numbers with units ns, us, ms, s, m, h \
                     (30s, 1m, 2m30s); 0 means no limit";

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

/// Go's `time.ParseDuration` for non-negative values, as kubectl reads the flag after
/// it tried a plain integer.
fn parse_go_duration(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += number * unit_seconds(&rest[..unit_len])?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

pub fn parse_request_timeout(text: &str) -> Result<RequestTimeout, String> {
    let seconds = match text.parse::<u64>() {
        Ok(n) => n as f64,
        Err(_) => parse_go_duration(text)
            .ok_or_else(|| format!("invalid timeout {text:?}: expected {FORMS}"))?,
    };
    Ok(RequestTimeout(
        (seconds > 0.0).then(|| Duration::from_secs_f64(seconds)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<f64> {
        parse_request_timeout(text)
            .unwrap()
            .0
            .map(|d| d.as_secs_f64())
    }

    #[test]
    fn kubectl_forms() {
        assert_eq!(secs("0"), None);
        assert_eq!(secs("0s"), None);
        assert_eq!(secs("30"), Some(30.0));
        assert_eq!(secs("30s"), Some(30.0));
        assert_eq!(secs("1m"), Some(60.0));
        assert_eq!(secs("2m30s"), Some(150.0));
        assert_eq!(secs("1.5h"), Some(5400.0));
        assert_eq!(secs("500ms"), Some(0.5));
    }

    #[test]
    fn bad_forms_say_what_is_expected() {
        for bad in ["", "-1", "1x", "s", "1 m", "ten"] {
            let err = parse_request_timeout(bad).unwrap_err();
            assert!(err.contains("0 means no limit"), "{bad}: {err}");
        }
    }
}
