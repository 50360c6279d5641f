//! Plain-scalar resolution as kubectl does it: kubectl turns YAML into JSON with go-yaml v2
//! (through sigs.k8s.io/yaml), which resolves YAML 1.1 forms, so an unquoted `yes` reaches
//! the API server as `true` and `0o17`, `017` and `1_000` as numbers. This is a port of
//! go-yaml v2's `resolve` for untagged plain scalars (timestamps are left out: decoded into
//! an untyped value they stay strings, as here).

/// What a plain scalar means.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

/// go-yaml v2's exact table of words (`y`/`n` included, `<<` handled by the caller).
fn word(s: &str) -> Option<Scalar> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Scalar::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

#[derive(Debug, PartialEq)]
enum IntError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseUint(s, 0, 64)` without underscores: `0x`, `0o`, `0b` prefixes and a
/// leading `0` meaning octal.
fn go_parse_uint(s: &str) -> Result<u64, IntError> {
    let (digits, radix) = if let Some(r) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (r, 16)
    } else if let Some(r) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (r, 8)
    } else if let Some(r) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (r, 2)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(IntError::Syntax);
    }
    u64::from_str_radix(digits, radix).map_err(|_| IntError::Range)
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Result<i64, IntError> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Ok((u as i128).wrapping_neg() as i64)
        } else {
            Err(IntError::Range)
        }
    } else {
        i64::try_from(u).map_err(|_| IntError::Range)
    }
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Resolves an untagged plain scalar.
pub fn plain(s: &str) -> Scalar {
    let hint = s.as_bytes().first().copied();
    let hinted = match hint {
        None => true,
        Some(c) => c.is_ascii_digit() || b"+-.yYnNtTfFoO~".contains(&c),
    };
    if !hinted {
        return Scalar::Str;
    }
    if let Some(w) = word(s) {
        return w;
    }
    match hint {
        Some(b'.') => {
            // Go's ParseFloat on the text as written (no underscores).
            if s.bytes()
                .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
            {
                if let Ok(f) = s.parse::<f64>() {
                    if f.is_finite() {
                        return Scalar::Float(f);
                    }
                }
            }
            Scalar::Str
        }
        Some(c) if c.is_ascii_digit() || c == b'+' || c == b'-' => {
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if let Ok(i) = go_parse_int(&plain) {
                return Scalar::Int(i);
            }
            let uint = go_parse_uint(&plain);
            if let Ok(u) = uint {
                return Scalar::UInt(u);
            }
            if yaml_style_float(&plain) {
                if let Ok(f) = plain.parse::<f64>() {
                    if f.is_finite() {
                        return Scalar::Float(f);
                    }
                }
            }
            if uint == Err(IntError::Range) {
                // go-yaml falls back to a big integer; only the API server's range check
                // will see it, and a float carries it there as a number just the same.
                let (digits, radix) = match plain.get(..2) {
                    Some("0x" | "0X") => (&plain[2..], 16),
                    Some("0o" | "0O") => (&plain[2..], 8),
                    Some("0b" | "0B") => (&plain[2..], 2),
                    _ => (&plain[1..], 8),
                };
                let big = digits.chars().fold(0f64, |acc, c| {
                    acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
                });
                return Scalar::Float(big);
            }
            Scalar::Str
        }
        _ => Scalar::Str,
    }
}

/// A scalar map key as sigs.k8s.io/yaml turns it into a JSON key (`None`: the key is
/// rejected, as a null or uint64 key is there). Floats print as Go's
/// `FormatFloat(f, 'g', -1, 32)`.
pub fn key_string(raw: &str, resolved: &Scalar) -> Option<String> {
    Some(match resolved {
        Scalar::Str => raw.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => go_format_float32(*f),
        Scalar::Null | Scalar::UInt(_) => return None,
    })
}

fn go_format_float32(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let x = f as f32;
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let exp = x.abs().log10().floor() as i32;
    if (-4..21).contains(&exp) && exp < 6 {
        return format!("{x}");
    }
    // Go writes the exponent with a sign and at least two digits: 1e+06.
    let e = format!("{x:e}");
    let (mant, pow) = e.split_once('e').unwrap_or((&e, "0"));
    let pow: i32 = pow.parse().unwrap_or(0);
    let sign = if pow < 0 { '-' } else { '+' };
    format!("{mant}e{sign}{:02}", pow.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_yaml_v2_forms() {
        for (s, want) in [
            ("yes", Scalar::Bool(true)),
            ("y", Scalar::Bool(true)),
            ("N", Scalar::Bool(false)),
            ("off", Scalar::Bool(false)),
            ("On", Scalar::Bool(true)),
            ("yES", Scalar::Str),
            ("~", Scalar::Null),
            ("", Scalar::Null),
            ("0o17", Scalar::Int(15)),
            ("017", Scalar::Int(15)),
            ("0x1F", Scalar::Int(31)),
            ("-0x10", Scalar::Int(-16)),
            ("0b101", Scalar::Int(5)),
            ("1_000", Scalar::Int(1000)),
            ("+80", Scalar::Int(80)),
            ("08", Scalar::Float(8.0)),
            ("1e3", Scalar::Float(1000.0)),
            (".5", Scalar::Float(0.5)),
            ("18446744073709551615", Scalar::UInt(u64::MAX)),
            ("1:30", Scalar::Str),
            ("_1", Scalar::Str),
            ("0x", Scalar::Str),
            ("2001-12-14", Scalar::Str),
            ("80/TCP", Scalar::Str),
            (".inf", Scalar::Float(f64::INFINITY)),
        ] {
            assert_eq!(plain(s), want, "{s}");
        }
        assert!(matches!(plain(".nan"), Scalar::Float(f) if f.is_nan()));
    }

    #[test]
    fn keys_print_as_sigs_yaml_does() {
        assert_eq!(key_string("yes", &plain("yes")).as_deref(), Some("true"));
        assert_eq!(key_string("0x10", &plain("0x10")).as_deref(), Some("16"));
        assert_eq!(key_string("1.5", &plain("1.5")).as_deref(), Some("1.5"));
        assert_eq!(key_string("1e6", &plain("1e6")).as_deref(), Some("1e+06"));
        assert_eq!(key_string("~", &plain("~")), None);
    }
}
