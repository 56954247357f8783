//! Process metrics with the standard Prometheus `process_*` names, read from `/proc` at
//! each scrape (Linux; elsewhere they are absent).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// Kernel clock ticks per second of `/proc/self/stat` times (`USER_HZ`, 100 on every Linux
/// architecture the xApp targets).
const USER_HZ: f64 = 100.0;

/// One reading of the process figures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    pub max_fds: u64,
    pub cpu_seconds: f64,
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads `/proc/self`; `None` where there is no `/proc`.
    pub fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let (cpu_ticks, start_ticks) = stat_times(&stat)?;
        let boot = boot_time().unwrap_or(0.0);
        Some(Self {
            resident_bytes: status_kb(&status, "VmRSS:").unwrap_or(0) * 1024,
            virtual_bytes: status_kb(&status, "VmSize:").unwrap_or(0) * 1024,
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
            max_fds: max_open_files().unwrap_or(0),
            cpu_seconds: cpu_ticks as f64 / USER_HZ,
            start_time_seconds: boot + start_ticks as f64 / USER_HZ,
        })
    }
}

/// A `kB` field of `/proc/self/status`.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// utime + stime and starttime of `/proc/self/stat`, in clock ticks. Fields are counted
/// after the command name's closing parenthesis (the name may hold spaces).
fn stat_times(stat: &str) -> Option<(u64, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15, starttime 22.
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)? + field(15)?, field(22)?))
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}

fn max_open_files() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Encodes [`ProcessStats`] at each scrape.
#[derive(Debug, Default)]
pub struct ProcessCollector;

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    v: f64,
) -> fmt::Result {
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, unit, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let Some(s) = ProcessStats::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        let help = "Total user and system CPU time spent";
        cpu.encode(enc.encode_descriptor(
            "process_cpu",
            help,
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?)?;
        let bytes = Some(&Unit::Bytes);
        gauge(
            &mut enc,
            "process_resident_memory",
            "Resident memory size",
            bytes,
            s.resident_bytes as f64,
        )?;
        gauge(
            &mut enc,
            "process_virtual_memory",
            "Virtual memory size",
            bytes,
            s.virtual_bytes as f64,
        )?;
        gauge(
            &mut enc,
            "process_open_fds",
            "Open file descriptors",
            None,
            s.open_fds as f64,
        )?;
        gauge(
            &mut enc,
            "process_max_fds",
            "Limit of open file descriptors",
            None,
            s.max_fds as f64,
        )?;
        gauge(
            &mut enc,
            "process_start_time",
            "Start time of the process since the Unix epoch",
            Some(&Unit::Seconds),
            s.start_time_seconds,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let stat = "42 (x app) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 9000 1000 200";
        assert_eq!(stat_times(stat), Some((300, 9000)));
    }

    #[test]
    fn reads_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            println!("skipped: no /proc on this system");
            return;
        }
        let s = ProcessStats::read().expect("readable /proc");
        assert!(s.resident_bytes > 1 << 20, "{s:?}");
        assert!(s.open_fds >= 3 && s.open_fds <= s.max_fds, "{s:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        assert!(
            (now - s.start_time_seconds).abs() < 3600.0,
            "{s:?} vs {now}"
        );
    }
}
