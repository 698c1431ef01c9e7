//! Recording retention: recordings live under `ROOT/YYYY/MM/DD/`; a sweep
//! deletes the day folders older than the retention period, judged by the
//! folder's date (not file times, which copies and restores change).
//!
//! Invariants: only folders shaped like a date (four, two and two digits)
//! under ROOT are touched; a day is deleted only once it is entirely older
//! than the cutoff; emptied month and year folders are removed too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::time::Timestamp;

/// What a sweep removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub days_removed: Vec<PathBuf>,
    pub files_removed: u64,
    pub bytes_removed: u64,
}

fn numeric_dirs(dir: &Path, width: usize) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            (name.len() == width && name.bytes().all(|b| b.is_ascii_digit()))
                .then(|| name.parse().ok().map(|n| (n, e.path())))
                .flatten()
        })
        .collect();
    out.sort();
    out
}

/// The UTC date (y, m, d) of a timestamp.
fn date(t: Timestamp) -> (u32, u32, u32) {
    let when = std::time::UNIX_EPOCH + Duration::from_millis(t.as_millis());
    let s = humantime::format_rfc3339(when).to_string();
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse().ok()).unwrap_or(0);
    (num(0..4), num(5..7), num(8..10))
}

/// Deletes the day folders whose whole day ended more than `keep` before `now`.
pub fn sweep(root: &Path, now: Timestamp, keep: Duration) -> std::io::Result<SweepReport> {
    let cutoff = date(Timestamp(now.as_millis().saturating_sub(keep.as_millis() as u64)));
    let mut report = SweepReport::default();
    for (y, year_dir) in numeric_dirs(root, 4) {
        for (m, month_dir) in numeric_dirs(&year_dir, 2) {
            for (d, day_dir) in numeric_dirs(&month_dir, 2) {
                // Kept while the day is on or after the cutoff date.
                if (y, m, d) >= cutoff {
                    continue;
                }
                for f in std::fs::read_dir(&day_dir)?.filter_map(Result::ok) {
                    if let Ok(meta) = f.metadata() {
                        report.files_removed += 1;
                        report.bytes_removed += meta.len();
                    }
                }
                std::fs::remove_dir_all(&day_dir)?;
                report.days_removed.push(day_dir);
            }
            let _ = std::fs::remove_dir(&month_dir); // only if now empty
        }
        let _ = std::fs::remove_dir(&year_dir);
    }
    Ok(report)
}
