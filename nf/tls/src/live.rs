//! A rustls configuration built from files and rebuilt when they change.
//!
//! The files are re-read every `reload_ms` (default 5 s) by a task started with the first
//! connection; a change of any byte (whatever the mtime says: a Kubernetes Secret update
//! swaps a symlink, `cp -p` keeps the mtime) rebuilds the configuration from one read of
//! every file. Success swaps it in: connections made after it (new handshakes) use the new
//! certificates, established ones keep theirs. A file that cannot be used keeps the
//! previous configuration in use, logs an error naming the key and the file, and counts
//! `tls_reload_failures_total{link}`: once per content, not once per poll, so a broken
//! file is reported when it appears and again only when it changes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use crate::material::{Fault, FileError};
use crate::metrics::{LinkLabel, TlsMetrics};

/// One file of a configuration: the config key that names it and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    /// `section.key` as the operator wrote it (`ric.tls.ca`, `--tls-cert`).
    pub key: String,
    /// The file, resolved against the config folder.
    pub path: PathBuf,
}

/// Builds a configuration from the bytes of its files (same order as the `FileRef`s).
pub(crate) type Build<T> = fn(&[FileRef], &[Vec<u8>]) -> Result<T, Fault>;

/// What one look at the files found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Same bytes as last time.
    Unchanged,
    /// Changed, and the new configuration is in use.
    Reloaded,
    /// Changed, and refused: the previous configuration stays in use.
    Failed,
}

/// A file that cannot be used, named by key and path.
#[derive(Debug, thiserror::Error)]
#[error("`{key}` = {path}: {error}")]
pub struct FileProblem {
    pub key: String,
    pub path: PathBuf,
    #[source]
    pub error: FileError,
}

impl FileProblem {
    pub(crate) fn of(files: &[FileRef], (i, error): Fault) -> Self {
        let f = &files[i];
        Self {
            key: f.key.clone(),
            path: f.path.clone(),
            error,
        }
    }
}

/// The bytes of every file, or the first that cannot be read.
pub(crate) fn read_all(files: &[FileRef]) -> Result<Vec<Vec<u8>>, FileProblem> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            std::fs::read(&f.path).map_err(|e| FileProblem::of(files, (i, FileError::Read(e))))
        })
        .collect()
}

/// Files read and built once, before anything starts (what validation produces).
#[derive(Clone)]
pub(crate) struct Loaded<T> {
    pub files: Vec<FileRef>,
    pub build: Build<T>,
    pub every: Duration,
    pub config: Arc<T>,
    pub bytes: Vec<Vec<u8>>,
}

impl<T> Loaded<T> {
    /// Reads and builds; the error names the file at fault.
    pub fn load(
        files: Vec<FileRef>,
        build: Build<T>,
        every: Duration,
    ) -> Result<Self, FileProblem> {
        let bytes = read_all(&files)?;
        let config = build(&files, &bytes).map_err(|f| FileProblem::of(&files, f))?;
        Ok(Self {
            files,
            build,
            every,
            config: Arc::new(config),
            bytes,
        })
    }
}

/// The configuration in use, and what is needed to rebuild it.
pub(crate) struct Live<T> {
    link: &'static str,
    files: Vec<FileRef>,
    build: Build<T>,
    every: Duration,
    current: RwLock<Arc<T>>,
    /// The bytes last looked at (`None`: unreadable), used or refused.
    seen: Mutex<Vec<Option<Vec<u8>>>>,
    watching: AtomicBool,
    metrics: TlsMetrics,
}

impl<T: Send + Sync + 'static> Live<T> {
    pub fn new(loaded: Loaded<T>, link: &'static str, metrics: &TlsMetrics) -> Arc<Self> {
        metrics.precreate(link);
        Arc::new(Self {
            link,
            files: loaded.files,
            build: loaded.build,
            every: loaded.every,
            current: RwLock::new(loaded.config),
            seen: Mutex::new(loaded.bytes.into_iter().map(Some).collect()),
            watching: AtomicBool::new(false),
            metrics: metrics.clone(),
        })
    }

    pub fn link(&self) -> &'static str {
        self.link
    }

    pub fn metrics(&self) -> &TlsMetrics {
        &self.metrics
    }

    pub fn files(&self) -> &[FileRef] {
        &self.files
    }

    /// The configuration for a new handshake; starts the watcher on first use inside a
    /// tokio runtime.
    pub fn current(self: &Arc<Self>) -> Arc<T> {
        self.watch();
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Starts re-reading the files every `reload_ms` (once; needs a tokio runtime). The
    /// task ends when the last handle on the configuration is dropped.
    pub fn watch(self: &Arc<Self>) {
        if self.watching.load(Ordering::Relaxed) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.watching.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let every = self.every;
        rt.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(live) = weak.upgrade() else { return };
                // A few small files: read in place rather than on the blocking pool.
                live.check();
            }
        });
    }

    /// Looks at the files once: rebuilds and swaps when they changed.
    pub fn check(&self) -> Reload {
        let read: Vec<std::io::Result<Vec<u8>>> =
            self.files.iter().map(|f| std::fs::read(&f.path)).collect();
        let now: Vec<Option<Vec<u8>>> = read.iter().map(|r| r.as_ref().ok().cloned()).collect();
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Reload::Unchanged;
            }
            *seen = now;
        }
        let mut bytes = Vec::with_capacity(read.len());
        for (i, r) in read.into_iter().enumerate() {
            match r {
                Ok(b) => bytes.push(b),
                Err(e) => {
                    return self.refused(&FileProblem::of(&self.files, (i, FileError::Read(e))));
                }
            }
        }
        match (self.build)(&self.files, &bytes) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
                self.metrics
                    .reloads
                    .get_or_create(&LinkLabel { link: self.link })
                    .inc();
                let files: Vec<String> = self
                    .files
                    .iter()
                    .map(|f| f.path.display().to_string())
                    .collect();
                tracing::info!(link = self.link, files = ?files, "tls certificates reloaded: new handshakes use them");
                Reload::Reloaded
            }
            Err(fault) => self.refused(&FileProblem::of(&self.files, fault)),
        }
    }

    fn refused(&self, problem: &FileProblem) -> Reload {
        self.metrics
            .reload_failures
            .get_or_create(&LinkLabel { link: self.link })
            .inc();
        tracing::error!(
            link = self.link,
            key = %problem.key,
            file = %problem.path.display(),
            cause = %problem.error,
            "tls reload refused: the previous certificates stay in use"
        );
        Reload::Failed
    }
}
