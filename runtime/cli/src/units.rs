//! Human units on the command line: `--max-memory 64MiB`, `--timeout 30s`.

/// Bytes: a number with an optional unit, `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or
/// `KB`, `MB`, `GB` (powers of 1000); case-insensitive; e.g. `64MiB`, `512 KiB`, `1048576`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let (number, unit) = split(s);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size; write e.g. 64MiB, 512KiB or 1GiB"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(format!(
                "{s:?}: unknown size unit {unit:?}; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    let bytes = n
        .checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if bytes == 0 {
        return Err("a size must be greater than zero".into());
    }
    Ok(bytes)
}

/// Milliseconds from a duration with a unit: `ms`, `s`, `m` or `h`, e.g. `30s`, `500ms`,
/// `2m`. A bare number is refused: seconds and milliseconds are too easy to confuse.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let (number, unit) = split(s);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration; write e.g. 30s, 500ms or 2m"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("{s:?} needs a unit: ms, s, m or h (e.g. 30s)")),
        _ => {
            return Err(format!(
                "{s:?}: unknown duration unit {unit:?}; use ms, s, m or h"
            ));
        }
    };
    let ms = n
        .checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if ms == 0 {
        return Err("a duration must be greater than zero".into());
    }
    Ok(ms)
}

/// A positive count (`--fuel`, `--max-host-calls`).
pub fn parse_count(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if n == 0 {
        return Err("must be greater than zero".into());
    }
    Ok(n)
}

fn split(s: &str) -> (&str, &str) {
    let s = s.trim();
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..at], s[at..].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("512 kib"), Ok(512 << 10));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("2MB"), Ok(2_000_000));
        assert!(
            parse_bytes("64 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0MiB").is_err());
        assert!(
            parse_bytes("99999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("2m"), Ok(120_000));
        assert!(
            parse_duration_ms("30")
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(parse_duration_ms("3 days").is_err());
        assert!(parse_duration_ms("0s").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10_000"), Ok(10_000));
        assert!(parse_count("0").is_err());
        assert!(parse_count("-1").is_err());
    }
}
