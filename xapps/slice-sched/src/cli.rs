//! Command-line pieces both xApp binaries share (`slice-xapp`, `interference-xapp`):
//! `--duration` parsing, the default worker count, `--log-format` and logging set-up.

use std::time::Duration;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// The longest `--duration` accepted [s] (about 31 years; leave the flag out to run until a
/// signal).
pub const MAX_DURATION_S: f64 = 1e9;

/// `--log-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// `--duration`: finite seconds in [0, MAX_DURATION_S].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() {
        return Err(format!(
            "{s:?} is not a duration; leave --duration out to run until SIGINT or SIGTERM"
        ));
    }
    if !(0.0..=MAX_DURATION_S).contains(&secs) {
        return Err(format!("must be in [0, {MAX_DURATION_S}] seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// tokio worker threads when `--worker-threads` is not given: one per core, less the core
/// left to the inference thread; at least one.
pub fn default_workers() -> u16 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.saturating_sub(1).clamp(1, 256) as u16
}

/// `tracing` to stderr in `format`, filtered by `RUST_LOG` (default `info`, chatty
/// dependencies at `warn`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,ort=warn,h2=warn,tower=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_finite_and_bounded() {
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in [
            "inf", "infinity", "-inf", "nan", "-0.1", "-1", "1e10", "", "ten", "x",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
