//! tokio / tonic glue of the xApp runtime: the E2T client, one task per E2 node that runs
//! the decision pipeline, the inference worker hookup, Prometheus metrics and the summary.
//!
//! # Layout
//! - [`config`]: the validated runtime configuration.
//! - [`a1`]: the A1 policy handler (slice SLA targets over RMR from the O-RAN SC A1
//!   mediator), its state file and metrics.
//! - [`clock`]: the one clock every timestamp is taken on.
//! - [`transport`]: the seam to the RIC: [`transport::RicTransport`] (node list,
//!   subscriptions, indications, controls) and [`transport::E2smCodec`], one variant per
//!   RIC / encoding (`sdran-grpc` + `proto` built).
//! - [`e2`]: what transports share: E2 nodes, discovery outcome, errors, reconnect backoff.
//! - `node`: the per-node task: connection → ingest → decide → emit, forward only.
//! - [`mobility`]: the interference xApp's per-node task (UE-level KPM → interference
//!   model → handover / restriction controls), same shape; [`run_interference`] starts it.
//! - [`decisions`]: the reproducible decision log.
//! - [`trial`]: A/B arms, per-arm KPIs and the trial guard rail.
//! - [`metrics`]: counters and histograms, Prometheus text exposition.
//! - [`models`]: the model slots of a run and hot model swap (SIGHUP, admin call).
//! - [`http`]: the HTTP endpoint: `/metrics`, the RIC health probes and the admin routes,
//!   bounded.
//! - [`health`]: readiness, the per-state E2 node gauges, node tasks given up.
//! - [`process`]: `process_*` metrics read from `/proc`.
//! - [`lograte`]: rate limits of repetitive log lines.
//! - `discovery`: E2 node discovery, bounded and counted; the node limit.
//! - `supervise`: restarts of panicked node tasks, giving nodes up.
//! - [`shard`]: serving every node, or this replica's shard of them (`[shard]`): peer
//!   probes, handovers, `GET /ric/v1/shard`.
//! - [`run`]: starts everything, waits for shutdown, drains, returns the [`Summary`].

pub mod a1;
pub mod clock;
pub mod config;
pub mod conflict;
pub mod decisions;
mod discovery;
pub mod e2;
pub mod health;
pub mod http;
pub mod logfile;
pub mod lograte;
pub mod metrics;
pub mod mobility;
pub mod models;
mod node;
pub mod node_series;
pub mod placement;
pub mod process;
mod run;
pub mod shard;
pub mod summary;
mod supervise;
pub mod transport;
pub mod trial;

pub use config::RuntimeConfig;
pub use run::{RuntimeError, run, run_interference, run_models, termination_signal};
pub use summary::Summary;
pub use supervise::MAX_NODE_TASK_RESTARTS;
