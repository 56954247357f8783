//! Collecting config problems: validation goes on past the first bad key so that an operator
//! sees every problem of a file at once, each named by `section.key`, each reported once.

use std::fmt;
use std::path::{Path, PathBuf};

use super::bounds::Bound;

/// One refused value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `section.key`, with where the value came from when not the file (`--e2t`).
    pub key: String,
    /// The value as written.
    pub value: String,
    /// What the value must be.
    pub rule: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {}: {}", self.key, self.value, self.rule)
    }
}

/// Every problem found so far, in the order of the file.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Records a problem with `key` unless `ok`.
    pub fn rule(
        &mut self,
        ok: bool,
        key: impl Into<String>,
        value: impl fmt::Display,
        rule: impl Into<String>,
    ) {
        if !ok {
            self.0.push(Problem {
                key: key.into(),
                value: value.to_string(),
                rule: rule.into(),
            });
        }
    }

    /// Checks an integer against its bound; true when it is in range.
    pub fn int<T: TryInto<u64> + fmt::Display + Copy>(&mut self, b: &Bound, value: T) -> bool {
        self.int_at(b, b.key, value)
    }

    /// Checks an integer against a bound, naming `key` (an element of a list, an arm).
    pub fn int_at<T: TryInto<u64> + fmt::Display + Copy>(
        &mut self,
        b: &Bound,
        key: impl Into<String>,
        value: T,
    ) -> bool {
        let ok = b.range.contains_int(value);
        self.rule(ok, key, value, format!("must be {}", b.range));
        ok
    }

    /// Records the breach of `b`'s rule against another key (its `also`, e.g. "≥ x"),
    /// showing that key's value: checked only once both keys are in range.
    pub fn relation(&mut self, b: &Bound, ok: bool, value: u64, other: u64) {
        self.rule(ok, b.key, value, format!("must be {} ({other})", b.also));
    }

    /// Checks a real number against its bound (NaN and infinities are refused).
    pub fn real(&mut self, b: &Bound, value: f64) {
        self.real_at(b, b.key, value);
    }

    /// Checks a real number against a bound, naming `key`.
    pub fn real_at(&mut self, b: &Bound, key: impl Into<String>, value: f64) {
        let ok = b.range.contains_real(value);
        self.rule(ok, key, value, format!("must be in {}", b.range));
    }

    /// Checks that `written` (resolved against the config folder to `resolved`) is a file.
    pub fn file(&mut self, key: &str, written: &Path, resolved: &Path) {
        let value = format!(
            "\"{}\" (resolved to {})",
            written.display(),
            resolved.display()
        );
        let rule = match std::fs::metadata(resolved) {
            Ok(m) if m.is_file() => return,
            Ok(_) => "is not a file".to_owned(),
            Err(e) => format!("cannot be read: {e}"),
        };
        self.rule(false, key, value, rule);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{}", if n == 1 { "" } else { "s" })?;
        for p in &self.0 {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Resolves a path written in the config against the config file's folder.
pub fn resolve(base: &Path, written: &Path) -> PathBuf {
    base.join(written)
}
