// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Memory sizes: parsing `--memory-limit` values and the default limit.

use crate::error::{CoreError, Result};

/// Parses a size such as `4G`, `512M`, `1.5GB`, `64k` or `1048576` (bytes) into bytes.
///
/// Units are binary (`1K` is 1024 bytes) and case-insensitive; a trailing `B` or `iB`
/// is accepted.
pub fn parse_memory_size(text: &str) -> Result<usize> {
    let invalid = || {
        CoreError::invalid(format!(
            "invalid memory size '{text}': use a number of bytes or a size such as 512M or 4G"
        ))
    };
    let trimmed = text.trim();
    let lower = trimmed.to_ascii_lowercase();
    let without_b = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (number, shift) = match without_b.chars().last() {
        Some('k') => (&without_b[..without_b.len() - 1], 10),
        Some('m') => (&without_b[..without_b.len() - 1], 20),
        Some('g') => (&without_b[..without_b.len() - 1], 30),
        Some('t') => (&without_b[..without_b.len() - 1], 40),
        _ => (without_b, 0),
    };
    let value: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !value.is_finite() || value <= 0.0 {
        return Err(invalid());
    }
    let bytes = value * (1u64 << shift) as f64;
    // `usize::MAX as f64` rounds up to 2^64, which no usize holds.
    if bytes < 1.0 || bytes >= usize::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as usize)
}

/// The memory limit when none is given: 80% of the machine's physical memory, so that a
/// query fails with a resources error before the operating system kills the process.
/// `None` where physical memory cannot be read.
pub fn default_memory_limit() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: usize = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 10 * 8 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_memory_size("1024").unwrap(), 1024);
        assert_eq!(parse_memory_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_memory_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_memory_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_memory_size("4gb").unwrap(), 4 << 30);
        assert_eq!(parse_memory_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_memory_size("1.5G").unwrap(), 3 << 29);
    }

    #[test]
    fn bad_sizes_name_the_value() {
        for bad in ["", "G", "-1G", "0", "lots", "1.5X", "nan"] {
            let err = parse_memory_size(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn default_limit_is_four_fifths_of_physical_memory() {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let total_kib: usize = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        let limit = default_memory_limit().unwrap();
        let total = total_kib * 1024;
        assert!(
            limit < total && limit > total / 10 * 7,
            "{limit} of {total}"
        );
    }
}
