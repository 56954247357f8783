//! The xApp's exit codes (sysexits.h numbering), in one table that `main.rs` uses and
//! `docs/operations.md` carries (a test fails when the two drift apart).

/// The run ended on a signal or `--duration` after draining; the summary is on stdout.
pub const OK: u8 = 0;
/// The config file or the command line is refused (sysexits EX_USAGE); every problem is
/// named by its key.
pub const BAD_CONFIG: u8 = 64;
/// The runtime failed after start (sysexits EX_SOFTWARE).
pub const RUNTIME: u8 = 70;
/// The model or onnxruntime cannot be loaded (sysexits EX_CONFIG).
pub const BAD_MODEL: u8 = 78;

/// Every exit code with what it means, as documented.
pub const TABLE: &[(u8, &str)] = &[
    (
        OK,
        "done: a signal (SIGINT, SIGTERM) or `--duration` ended the run, it drained and unsubscribed; the summary is on stdout. `--check` passed.",
    ),
    (
        BAD_CONFIG,
        "configuration refused: the config file (every problem listed, each naming its `section.key`), a path in it, the command line (`--e2t`, `--duration`, `--metrics-listen`, an unknown flag), or a `metrics.listen` address that cannot be bound (taken, not local).",
    ),
    (
        RUNTIME,
        "runtime failure after start (the E2T never reached, no KPM node listed, a node task given up after its restarts); the cause is logged and printed, with the summary when the run got that far.",
    ),
    (
        BAD_MODEL,
        "model refused: contract, hash or input/output mismatch, or onnxruntime not found at `model.onnxruntime_lib` / `ORT_DYLIB_PATH` / the fetched copy.",
    ),
];

/// The Markdown table of [`TABLE`] that `docs/operations.md` carries.
pub fn markdown_table() -> String {
    let mut out = String::from("| exit | meaning |\n|---|---|\n");
    for (code, meaning) in TABLE {
        out.push_str(&format!("| {code} | {meaning} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_table_matches_the_codes() {
        let docs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
        let text = std::fs::read_to_string(&docs).unwrap_or_default();
        let table = super::markdown_table();
        assert!(
            text.contains(&table),
            "docs/operations.md lacks the current exit-code table; paste this between the \
             exit-codes markers:\n{table}"
        );
    }
}
