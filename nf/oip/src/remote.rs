//! [`RemoteModel`]: the seam between the runtime and a model served over the Open
//! Inference Protocol.
//!
//! The runtime holds one per remote model, checks it once at start ([`RemoteModel::check`]:
//! server live, model version ready, metadata against the contract) and then, per tick,
//! hands it the tick's rows with what is left of the tick's budget
//! ([`RemoteModel::infer`]). A tick's rows go out as one `ModelInfer`, or as several in
//! parallel when they exceed `max_batch_rows`; the answer is all rows or an error, never a
//! part. [`RemoteStats`] keeps the counters per outcome and the recent latencies, whose
//! quantiles tell the placement whether the remote model can still answer in time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{ChannelConfig, OipClient};
use crate::config::RemoteConfig;
use crate::error::{KINDS, OipError};
use crate::latency::LatencyWindow;
use crate::metadata::{ModelMetadata, ModelRef, check_contract};
use crate::tensor::{self, Ask};

/// What the remote model answered for one tick.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteOutput {
    /// `rows × outputs per row` values of the contract's first output, row-major, in the
    /// order of the rows given.
    pub values: Vec<f32>,
    pub rows: usize,
    /// `ModelInfer` calls it took.
    pub calls: usize,
    /// From the first request leaving to the last answer decoded.
    pub latency: Duration,
}

/// Counters of a remote model, shared with metrics and the placement.
#[derive(Debug, Default)]
pub struct RemoteStats {
    /// `ModelInfer` calls sent.
    pub calls: AtomicU64,
    /// Rows sent.
    pub rows: AtomicU64,
    /// Calls answered with a usable output.
    pub answered: AtomicU64,
    /// Failed calls by [`OipError::kind`], in the order of [`KINDS`].
    failures: [AtomicU64; KINDS.len()],
    /// Latencies of the recent calls the server answered or let run out (a call past its
    /// deadline counts as its deadline: a lower bound, which is what the placement should
    /// assume). Calls that found no server are left out: a refused connection is quick,
    /// and would make a dead link look fast.
    recent: Mutex<LatencyWindow>,
}

impl RemoteStats {
    /// `ModelInfer` calls sent.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Rows sent in them.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    /// Calls answered with a usable output.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Failed calls of `kind` (one of [`KINDS`]; 0 for anything else).
    pub fn failures(&self, kind: &str) -> u64 {
        KINDS
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.failures[i].load(Ordering::Relaxed))
    }

    /// The `q` quantile of the recent calls' latency; `None` before the first call.
    pub fn latency_quantile(&self, q: f64) -> Option<Duration> {
        self.recent.lock().ok().and_then(|w| w.quantile(q))
    }

    fn record(&self, result: &Result<(), &OipError>, latency: Duration) {
        match result {
            Ok(()) => {
                self.answered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failures[e.kind_index()].fetch_add(1, Ordering::Relaxed);
                if matches!(e, OipError::Unavailable { .. }) {
                    return;
                }
            }
        }
        if let Ok(mut w) = self.recent.lock() {
            w.record(latency);
        }
    }
}

/// A model served by an Open Inference Protocol server, checked against its contract.
#[derive(Debug)]
pub struct RemoteModel {
    client: OipClient,
    cfg: RemoteConfig,
    /// Input dimensions past the batch one.
    input_dims: Vec<i64>,
    /// First output's dimensions past the batch one.
    output_dims: Vec<i64>,
    row_len: usize,
    out_per_row: usize,
    next_id: AtomicU64,
    stats: Arc<RemoteStats>,
}

/// The `link` label of the remote model's TLS metrics.
pub const TLS_LINK: &str = "remote_model";

impl RemoteModel {
    /// The model of `cfg`; connects on first use (no I/O here). An `https://` endpoint's
    /// TLS link (label [`TLS_LINK`]) counts its reloads and handshake failures in
    /// `tls_metrics` (the process's registered [`nf_tls::TlsMetrics`]).
    pub fn new(cfg: RemoteConfig, tls_metrics: &nf_tls::TlsMetrics) -> Result<Self, OipError> {
        let tls = cfg
            .tls
            .clone()
            .map(|settings| nf_tls::ClientTls::new(settings, TLS_LINK, tls_metrics));
        tracing::info!(
            endpoint = %cfg.endpoint,
            tls = tls.is_some(),
            mtls = cfg.tls.as_ref().is_some_and(nf_tls::ClientSettings::presents_certificate),
            "remote model link"
        );
        let client = OipClient::new(&ChannelConfig {
            endpoint: cfg.endpoint.clone(),
            connect_timeout: cfg.connect_timeout,
            max_message_bytes: cfg.max_message_bytes,
            tls,
        })?;
        let input_dims = cfg.contract.input.shape[1..].to_vec();
        let output_dims = cfg
            .contract
            .outputs
            .first()
            .map(|o| o.shape[1..].to_vec())
            .unwrap_or_default();
        let count = |d: &[i64]| d.iter().map(|v| (*v).max(0) as usize).product::<usize>();
        Ok(Self {
            row_len: count(&input_dims),
            out_per_row: count(&output_dims),
            input_dims,
            output_dims,
            client,
            cfg,
            next_id: AtomicU64::new(1),
            stats: Arc::new(RemoteStats::default()),
        })
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.cfg
    }

    pub fn client(&self) -> &OipClient {
        &self.client
    }

    pub fn stats(&self) -> &Arc<RemoteStats> {
        &self.stats
    }

    /// Floats per input row.
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// Floats per output row.
    pub fn out_per_row(&self) -> usize {
        self.out_per_row
    }

    fn model_ref(&self) -> ModelRef {
        ModelRef {
            name: self.cfg.model_name.clone(),
            version: self.cfg.model_version.clone(),
            endpoint: self.cfg.endpoint.clone(),
        }
    }

    /// The start check: the server is live, the model version is ready, and its metadata
    /// matches the contract. Returns the metadata.
    pub async fn check(&self) -> Result<ModelMetadata, OipError> {
        let deadline = self.cfg.connect_timeout + self.cfg.deadline;
        let want = self.model_ref();
        let not_ready = |detail: String| OipError::NotReady {
            model: want.name.clone(),
            version: want.version.clone(),
            endpoint: want.endpoint.clone(),
            detail,
        };
        if !self.client.server_live(deadline).await? {
            return Err(not_ready("the server says it is not live".into()));
        }
        let ready = match self
            .client
            .model_ready(&want.name, Some(&want.version), deadline)
            .await
        {
            Ok(ready) => ready,
            // Servers differ on a version they do not hold: false, NOT_FOUND, or (MLServer)
            // UNKNOWN; the metadata below tells what they do hold.
            Err(OipError::Refused { .. } | OipError::ServerError { .. }) => false,
            Err(e) => return Err(e),
        };
        if !ready {
            return Err(self.why_not_ready(&want, deadline, not_ready).await);
        }
        let meta = self
            .client
            .model_metadata(&want.name, Some(&want.version), deadline)
            .await?;
        check_contract(&self.cfg.contract, &want, &meta)?;
        tracing::info!(
            endpoint = %want.endpoint, model = %want.name, version = %want.version,
            platform = %meta.platform, "remote model matches its contract"
        );
        Ok(meta)
    }

    /// A model that is not ready at our version may be there at another: that is a
    /// contract mismatch (`version`), not a wait.
    async fn why_not_ready(
        &self,
        want: &ModelRef,
        deadline: Duration,
        not_ready: impl Fn(String) -> OipError,
    ) -> OipError {
        match self.client.model_metadata(&want.name, None, deadline).await {
            Ok(meta) if !meta.versions.is_empty() && !meta.versions.contains(&want.version) => {
                crate::error::ContractMismatch {
                    model: want.name.clone(),
                    endpoint: want.endpoint.clone(),
                    field: "version".into(),
                    expected: want.version.clone(),
                    found: format!("{:?}", meta.versions),
                }
                .into()
            }
            Ok(_) => not_ready("ModelReady answered false".into()),
            Err(e) => not_ready(format!("ModelReady answered false; ModelMetadata: {e}")),
        }
    }

    /// Runs `rows` (n × [`Self::row_len`] floats) on the remote model within
    /// `min(deadline, deadline_ms)`.
    pub async fn infer(&self, rows: &[f32], deadline: Duration) -> Result<RemoteOutput, OipError> {
        if rows.is_empty() || !rows.len().is_multiple_of(self.row_len) {
            return Err(OipError::BadInput(format!(
                "{} values are not whole rows of {}",
                rows.len(),
                self.row_len
            )));
        }
        let deadline = deadline.min(self.cfg.deadline);
        if deadline.is_zero() {
            return Err(OipError::Deadline {
                call: "ModelInfer",
                deadline,
            });
        }
        let n = rows.len() / self.row_len;
        let started = Instant::now();
        let chunk = self.cfg.max_batch_rows * self.row_len;
        let calls = rows
            .chunks(chunk)
            .map(|part| self.infer_batch(part, deadline));
        let parts = futures::future::try_join_all(calls).await?;
        let values = if parts.len() == 1 {
            parts.into_iter().next().unwrap_or_default()
        } else {
            parts.concat()
        };
        Ok(RemoteOutput {
            values,
            rows: n,
            calls: n.div_ceil(self.cfg.max_batch_rows),
            latency: started.elapsed(),
        })
    }

    /// One `ModelInfer` for `rows`, counted in the stats.
    async fn infer_batch(&self, rows: &[f32], deadline: Duration) -> Result<Vec<f32>, OipError> {
        let n = (rows.len() / self.row_len) as i64;
        let with_batch = |dims: &[i64]| std::iter::once(n).chain(dims.iter().copied()).collect();
        let ask = Ask {
            model: &self.cfg.model_name,
            version: &self.cfg.model_version,
            id: format!("{:x}", self.next_id.fetch_add(1, Ordering::Relaxed)),
            input: &self.cfg.contract.input.name,
            shape: with_batch(&self.input_dims),
            output: self
                .cfg
                .contract
                .outputs
                .first()
                .map_or("", |o| o.name.as_str()),
            encoding: self.cfg.encoding,
        };
        let expected: Vec<i64> = with_batch(&self.output_dims);
        let request = tensor::request(&ask, rows);
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats.rows.fetch_add(n as u64, Ordering::Relaxed);
        let started = Instant::now();
        let result = self
            .client
            .model_infer(request, deadline)
            .await
            .and_then(|resp| {
                tensor::decode(&ask, &expected, resp).map_err(|reason| OipError::BadOutput {
                    call: "ModelInfer",
                    reason,
                })
            });
        self.stats
            .record(&result.as_ref().map(|_| ()), started.elapsed());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_tasks_can_share_one() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<RemoteModel>();
        shared::<Arc<RemoteStats>>();
    }

    #[test]
    fn a_dead_link_does_not_look_fast() {
        let stats = RemoteStats::default();
        let ms = Duration::from_millis;
        stats.record(&Ok(()), ms(40));
        let late = OipError::Deadline {
            call: "ModelInfer",
            deadline: ms(80),
        };
        stats.record(&Err(&late), ms(80));
        let gone = OipError::Unavailable {
            call: "ModelInfer",
            detail: "connection refused".into(),
        };
        for _ in 0..10 {
            stats.record(&Err(&gone), Duration::ZERO);
        }
        assert_eq!(stats.answered(), 1);
        assert_eq!(stats.failures("deadline"), 1);
        assert_eq!(stats.failures("unavailable"), 10);
        assert_eq!(stats.failures("no_such_kind"), 0);
        // Only the answered and the late call are in the window.
        assert_eq!(stats.latency_quantile(0.0), Some(ms(40)));
        assert_eq!(stats.latency_quantile(1.0), Some(ms(80)));
    }
}
