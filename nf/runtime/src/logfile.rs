//! The file behind a decision log: opened for appending, so that a restart never truncates
//! what an earlier run wrote, and rotated by size (`file-rotate`): past `max_bytes` the file
//! becomes `PATH.1` (the previous `.1` becomes `.2`, and so on) and a new `PATH` is started;
//! at most `keep` rotated files are kept, the oldest deleted.
//!
//! Lines are never split across two files: lines are buffered here and handed to the
//! rotating writer in whole-line batches, and `file-rotate` decides to rotate only between
//! two writes. A file that cannot be reopened after a rotation (`file-rotate` then drops
//! writes without an error) is reported as a write error.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};

/// Size rotation of a log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The file is rotated once it holds more than this [bytes].
    pub max_bytes: u64,
    /// Rotated files kept (`PATH.1` … `PATH.keep`).
    pub keep: usize,
}

impl Default for Rotation {
    /// 64 MiB per file, 8 rotated files: at most about 576 MiB of decisions on disk.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            keep: 8,
        }
    }
}

/// Bytes buffered before a batch of whole lines is written.
const BATCH_BYTES: usize = 64 << 10;

/// Opens `path` for appending, rotated by `rotation`. The folder is created; an error
/// names what failed (the folder or the file cannot be created or written).
pub fn open_appending(path: &Path, rotation: Rotation) -> io::Result<Box<dyn Write + Send>> {
    if rotation.max_bytes == 0 || rotation.keep == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "max_bytes and keep must be at least 1",
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    // Surface a file that cannot be opened now, rather than as silently dropped lines.
    drop(OpenOptions::new().create(true).append(true).open(path)?);
    let max = usize::try_from(rotation.max_bytes).unwrap_or(usize::MAX);
    let inner = FileRotate::new(
        path,
        AppendCount::new(rotation.keep),
        ContentLimit::BytesSurpassed(max),
        Compression::None,
        None,
    );
    Ok(Box::new(WholeLines {
        inner,
        buf: Vec::with_capacity(BATCH_BYTES),
        path: path.to_path_buf(),
    }))
}

/// Hands the rotating writer whole lines only.
struct WholeLines {
    inner: FileRotate<AppendCount>,
    buf: Vec<u8>,
    path: PathBuf,
}

impl WholeLines {
    /// Writes the buffered whole lines (and, with `all`, a trailing partial one).
    fn drain(&mut self, all: bool) -> io::Result<()> {
        let end = if all {
            self.buf.len()
        } else {
            match self.buf.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => return Ok(()),
            }
        };
        if end == 0 {
            return Ok(());
        }
        let r = self.inner.write_all(&self.buf[..end]);
        self.buf.drain(..end);
        r?;
        if !self.path.exists() {
            return Err(io::Error::other(format!(
                "{} could not be reopened after rotation: lines lost",
                self.path.display()
            )));
        }
        Ok(())
    }
}

impl Write for WholeLines {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH_BYTES {
            self.drain(false)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain(true)?;
        self.inner.flush()
    }
}

impl Drop for WholeLines {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("logfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_reopened_log_is_appended_to_never_truncated() {
        let dir = scratch("append");
        let path = dir.join("nested/decisions.jsonl");
        for run in 0..3 {
            let mut w = open_appending(&path, Rotation::default()).unwrap();
            writeln!(w, "{{\"run\":{run}}}").unwrap();
            w.flush().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"run\":0}\n{\"run\":1}\n{\"run\":2}\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotation_keeps_whole_lines_and_at_most_keep_files() {
        let dir = scratch("rotate");
        let path = dir.join("d.jsonl");
        let rotation = Rotation {
            max_bytes: 100 << 10,
            keep: 2,
        };
        let mut w = open_appending(&path, rotation).unwrap();
        // 1 MiB of numbered lines of uneven length.
        let mut n = 0u64;
        let mut total = 0usize;
        while total < 1 << 20 {
            let line = format!(
                "{{\"n\":{n},\"pad\":\"{}\"}}\n",
                "x".repeat((n % 97) as usize)
            );
            w.write_all(line.as_bytes()).unwrap();
            total += line.len();
            n += 1;
        }
        drop(w);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["d.jsonl", "d.jsonl.1", "d.jsonl.2"]);
        // Every file holds whole lines, in order; the newest lines are in the current file.
        let mut last = None;
        for f in ["d.jsonl.2", "d.jsonl.1", "d.jsonl"] {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(text.ends_with('\n'), "{f} ends mid-line");
            assert!(
                text.len() <= (100 << 10) + BATCH_BYTES + 200,
                "{f}: {}",
                text.len()
            );
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                let k = v["n"].as_u64().unwrap();
                if let Some(prev) = last {
                    assert_eq!(k, prev + 1, "{f}: lines out of order or lost");
                }
                last = Some(k);
            }
        }
        assert_eq!(
            last,
            Some(n - 1),
            "the last line written is the last in the file"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_log_that_cannot_be_created_is_refused_naming_the_cause() {
        let dir = scratch("refuse");
        std::fs::create_dir_all(&dir).unwrap();
        // A file where the folder should be.
        std::fs::write(dir.join("f"), b"").unwrap();
        let e = open_appending(&dir.join("f/log.jsonl"), Rotation::default())
            .err()
            .unwrap();
        assert!(!e.to_string().is_empty());
        let e = open_appending(
            &dir.join("x"),
            Rotation {
                max_bytes: 0,
                keep: 1,
            },
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("max_bytes"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
