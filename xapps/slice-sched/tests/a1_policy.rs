//! A1 policies over RMR with real parts on loopback: the test plays the O-RAN SC A1
//! mediator with a real RMR endpoint (`nf_rmr`) and a route table (20010 → the xApp), and
//! the xApp routes 20011 / 20012 back to it. The full loop runs the real runtime
//! (`osc-rmr` + `asn1-per`, the A1 handler sharing the transport's RMR port) against the
//! simulator's O-RAN SC face; the refusal cases run the handler alone on its own RMR port.
//!
//! What is shown:
//! - a CREATE capping slice 1's maximum PRB share changes the quotas the simulator accepts
//!   and the decision log, from the first decision after the policy took effect; before it
//!   (and after the DELETE) the same slice got more;
//! - bad policies (min above max, an unknown key, another policy type, bad JSON in the
//!   envelope and in a Go-style string payload, DELETE of an unknown instance) are answered
//!   `ERROR` with the reason, counted, and change nothing (policy and state file);
//! - a restarted xApp with the same state file bounds its very first decisions;
//! - the `A1_POLICY_QUERY` for the policy type is sent at start.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nf_rmr::{Message, RmrConfig, RmrEndpoint, mtype};
use nf_runtime::RuntimeConfig;
use nf_runtime::a1::{A1Config, A1Service};
use nf_runtime::metrics::Metrics;
use nf_runtime::transport::RicTransport;
use nf_runtime::transport::osc::OscConfig;
use serde_json::{Value, json};
use testbed::ports::free_port;
use testbed::sim::Sim;
use testbed::sim::osc as simosc;
use tokio::sync::{mpsc, oneshot};

use common::{route_file, wait_for};
use e2_asn1::kpm::KpmVersion;

const TYPE: u32 = nf_core::a1::DEFAULT_POLICY_TYPE_ID;
/// Slice 1's maximum PRB share under the test policy; unbounded, every maximum is at least
/// `policy.max_ratio_floor` (10).
const CAP: u8 = 8;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("a1-policy", name)
}

/// The A1 mediator: an RMR endpoint routing 20010 to the xApp.
struct Mediator {
    ep: RmrEndpoint,
    rx: mpsc::Receiver<Message>,
}

impl Mediator {
    async fn start(dir: &Path, xapp_rmr: SocketAddr) -> Self {
        let routes = route_file(dir, "mediator.rt", &[(mtype::A1_POLICY_REQ, xapp_rmr)]);
        let (ep, rx) = RmrEndpoint::bind(RmrConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed_routes: Some(routes),
            ..RmrConfig::default()
        })
        .await
        .unwrap();
        Self { ep, rx }
    }

    fn addr(&self) -> SocketAddr {
        self.ep.local_addr()
    }

    /// Sends one `A1_POLICY_REQ` body as the mediator does (`sub_id` = the policy type).
    fn send(&self, body: impl Into<Vec<u8>>) {
        let msg = Message::new(mtype::A1_POLICY_REQ, body.into()).with_sub_id(TYPE as i32);
        self.ep.send(msg).unwrap();
    }

    fn request(&self, op: &str, id: &str, payload: Value) {
        self.send(
            json!({"operation": op, "policy_type_id": TYPE, "policy_instance_id": id,
                   "payload": payload})
            .to_string(),
        );
    }

    /// The next message of type `mtype` (others are collected in `skipped`), as JSON.
    async fn next(&mut self, mtype: i32) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let m = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("no RMR message {mtype} within 10 s"))
                .unwrap();
            if m.mtype == mtype {
                return serde_json::from_slice(&m.payload).unwrap();
            }
        }
    }
}

/// A capping policy on slice 1 (and a floor on slice 2).
fn cap_payload() -> Value {
    json!({"slices": [
        {"sst": 1, "max_prb_share_pct": CAP, "utility_weight": 2},
        {"sst": 2, "min_prb_share_pct": 5, "delay_target_ms": 50}]})
}

/// The handler alone on its own RMR port (the runtime's non-O-RAN SC case).
async fn own_handler(
    dir: &Path,
    state_file: &Path,
    mediator: SocketAddr,
    xapp_rmr: SocketAddr,
    metrics: &Arc<Metrics>,
) -> A1Service {
    let routes = route_file(
        dir,
        "xapp-a1.rt",
        &[
            (mtype::A1_POLICY_RESP, mediator),
            (mtype::A1_POLICY_QUERY, mediator),
        ],
    );
    let mut cfg = A1Config::new(state_file);
    cfg.rmr_listen = Some(xapp_rmr);
    cfg.rmr_route_table = Some(routes);
    cfg.handler_id = "slice-xapp-test".into();
    // A gRPC transport is built lazily: nothing listens at its address.
    let transport = RicTransport::new(&RuntimeConfig::local("http://127.0.0.1:9")).unwrap();
    nf_runtime::a1::prepare(cfg)
        .unwrap()
        .start(&transport, metrics)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_policies_are_refused_with_the_reason_and_change_nothing() {
    let dir = temp_dir("refused");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut med = Mediator::start(&dir, xapp_rmr).await;
    let metrics = Arc::new(Metrics::new());
    let state = dir.join("a1.json");
    let a1 = own_handler(&dir, &state, med.addr(), xapp_rmr, &metrics).await;
    // (d) The query for the policy type comes first.
    assert_eq!(
        med.next(mtype::A1_POLICY_QUERY).await,
        json!({"policy_type_id": TYPE})
    );
    med.request("CREATE", "cap", cap_payload());
    let ok = med.next(mtype::A1_POLICY_RESP).await;
    assert_eq!(
        ok,
        json!({"policy_type_id": TYPE, "policy_instance_id": "cap",
               "handler_id": "slice-xapp-test", "status": "OK"})
    );
    let policy = a1.policy();
    let before = policy.borrow().clone();
    let stored = std::fs::read(&state).unwrap();
    assert_eq!(before.instances(), ["cap"]);

    let slice = |extra: Value| {
        let mut s = json!({"sst": 3});
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "slices": [s] })
    };
    let go_string = json!({"operation": "CREATE", "policy_type_id": TYPE.to_string(),
        "policy_instance_id": "go", "payload": "{\"slices\": [{\"sst\": 3"})
    .to_string();
    // (what the mediator sends, instance answered, refusal kind, part of the reason)
    let cases: Vec<(SendFn, &str, &str, &str)> = vec![
        (
            Box::new(move |m| {
                m.request(
                    "CREATE",
                    "minmax",
                    slice(json!({"min_prb_share_pct": 60, "max_prb_share_pct": 40})),
                )
            }),
            "minmax",
            "min_above_max",
            "min_prb_share_pct 60 is above max_prb_share_pct 40",
        ),
        (
            Box::new(move |m| m.request("CREATE", "typo", slice(json!({"max_share": 40})))),
            "typo",
            "unknown_key",
            "unknown key `slices[0].max_share`",
        ),
        (
            Box::new(|m| {
                m.send(
                    json!({"operation": "CREATE", "policy_type_id": 20008,
                           "policy_instance_id": "other", "payload": {"slices": [{"sst": 3}]}})
                    .to_string(),
                )
            }),
            "other",
            "wrong_policy_type",
            "policy type 20008 is not handled here",
        ),
        (
            Box::new(|m| m.send(&b"{\"operation\": \"CREATE\", "[..])),
            "",
            "bad_json",
            "not JSON",
        ),
        (
            Box::new(move |m| m.send(go_string.clone())),
            "go",
            "bad_json",
            "payload (a string holding JSON)",
        ),
        (
            Box::new(|m| m.request("CREATE", "overlap", json!({"slices": [{"sst": 1}]}))),
            "overlap",
            "overlap",
            "already bounded by active instance \"cap\"",
        ),
        (
            Box::new(|m| m.request("DELETE", "never-created", Value::Null)),
            "never-created",
            "unknown_instance",
            "no active instance \"never-created\"",
        ),
    ];
    for (send, id, kind, reason) in &cases {
        send(&med);
        let r = med.next(mtype::A1_POLICY_RESP).await;
        assert_eq!(r["status"], "ERROR", "{kind}: {r}");
        assert_eq!(r["policy_instance_id"], *id, "{kind}: {r}");
        assert_eq!(r["handler_id"], "slice-xapp-test");
        let message = r["message"].as_str().unwrap();
        assert!(message.contains(reason), "{kind}: {message}");
    }
    let count = |op, result| metrics.a1.requests_of(op, result);
    assert_eq!(count("create", "min_above_max"), 1);
    assert_eq!(count("create", "unknown_key"), 1);
    assert_eq!(count("create", "wrong_policy_type"), 1);
    assert_eq!(count("unknown", "bad_json"), 1);
    assert_eq!(count("create", "bad_json"), 1);
    assert_eq!(count("create", "overlap"), 1);
    assert_eq!(count("delete", "unknown_instance"), 1);
    assert_eq!(count("create", "ok"), 1);
    // Nothing changed: the same effective policy, the same bytes on disk.
    assert_eq!(*policy.borrow().clone(), *before);
    assert_eq!(std::fs::read(&state).unwrap(), stored);
    assert_eq!(metrics.a1.instances.get(), 1);
    // And the handler keeps serving: a good request after the bad ones is applied.
    med.request("DELETE", "cap", Value::Null);
    assert_eq!(med.next(mtype::A1_POLICY_RESP).await["status"], "DELETED");
    assert!(policy.borrow().is_empty());
    assert_eq!(metrics.a1.instances.get(), 0);
    let text = metrics.encode();
    assert!(
        text.contains(
            "xapp_a1_policy_requests_total{operation=\"create\",result=\"min_above_max\"} 1"
        ),
        "metric missing"
    );
    assert!(text.contains("xapp_a1_messages_sent_total{message=\"query\",result=\"sent\"} 1"));
    a1.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The full loop: simulator (O-RAN SC face), runtime with the A1 handler on the
/// transport's RMR port, decision log.
struct Loop {
    sim: Arc<Sim>,
    ric: simosc::OscRic,
    metrics: Arc<Metrics>,
    stop: oneshot::Sender<()>,
    run: tokio::task::JoinHandle<Result<nf_runtime::Summary, nf_runtime::RuntimeError>>,
    log: PathBuf,
}

impl Loop {
    async fn start(
        dir: &Path,
        name: &str,
        state_file: &Path,
        xapp_rmr: SocketAddr,
        mediator: SocketAddr,
    ) -> Self {
        let sim = common::bundled_sim(1);
        let ric = simosc::OscRic::start(
            sim.clone(),
            simosc::OscConfig {
                xapp_rmr: Some(xapp_rmr.to_string()),
                ..simosc::OscConfig::default()
            },
        )
        .await
        .unwrap();
        let http_port = free_port();
        let mut cfg = common::osc_config(http_port);
        cfg.nodes = common::sim_e2_nodes(&sim);
        let routes = route_file(
            dir,
            &format!("{name}.rt"),
            &[
                (mtype::RIC_CONTROL_REQ, ric.rmr_addr()),
                (mtype::A1_POLICY_RESP, mediator),
                (mtype::A1_POLICY_QUERY, mediator),
            ],
        );
        cfg.osc = OscConfig {
            submgr: ric.submgr_addr().to_string(),
            rmr_listen: xapp_rmr,
            rmr_route_table: Some(routes),
            callback_host: "127.0.0.1".into(),
            callback_http_port: http_port,
            requestor_id: 1001,
            nodes: common::sim_osc_nodes(&sim, Some(KpmVersion::V3_00)),
            ..OscConfig::default()
        };
        let mut a1 = A1Config::new(state_file);
        a1.confirm_within = Duration::from_millis(300);
        cfg.a1 = Some(a1);
        let log = dir.join(format!("{name}.decisions.jsonl"));
        cfg.decision_log = Some(
            slice_xapp::open_decision_log(&log, 0, false, nf_runtime::logfile::Rotation::default())
                .unwrap(),
        );
        let model = common::forecaster();
        let metrics = Arc::new(Metrics::new());
        let (stop, stopped) = oneshot::channel::<()>();
        let run = tokio::spawn(nf_runtime::run(cfg, model, metrics.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            sim,
            ric,
            metrics,
            stop,
            run,
            log,
        }
    }

    /// Waits until every cell's last accepted control gives slice 1 a maximum `ok` takes.
    async fn slice1_max_until(&self, what: &str, ok: impl Fn(u8) -> bool) {
        let cells = self.sim.cell_count();
        let done = wait_for(Duration::from_secs(30), || {
            let maxima = self.last_slice1_max();
            maxima.len() == cells && maxima.iter().all(|m| ok(*m))
        })
        .await;
        assert!(done, "{what}: slice 1 maxima {:?}", self.last_slice1_max());
    }

    /// Slice 1's maximum ratio in each cell's last accepted control.
    fn last_slice1_max(&self) -> Vec<u8> {
        self.sim
            .controls()
            .values()
            .filter_map(|c| {
                c.last
                    .iter()
                    .find(|q| q.snssai == nf_core::Snssai::new(1, None))
                    .map(|q| q.max_ratio)
            })
            .collect()
    }

    /// Stops the run; the decision log's lines.
    async fn finish(self) -> (Arc<Metrics>, Vec<Value>) {
        let _ = self.stop.send(());
        self.run.await.unwrap().expect("runtime ran");
        self.ric.stop().await;
        let text = std::fs::read_to_string(&self.log).unwrap();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (self.metrics, lines)
    }
}

/// A request the mediator sends.
type SendFn = Box<dyn Fn(&Mediator)>;

/// Slice 1's maximum ratio in a decision, and the A1 instances that bounded it.
type Slice1 = (u64, Option<Vec<String>>);

/// Slice 1's maximum ratio in a decision log line, and the instances that bounded it.
fn slice1(line: &Value) -> Option<Slice1> {
    let max = line["quotas"]
        .as_array()?
        .iter()
        .find(|q| q["snssai"] == "1")?["max_ratio"]
        .as_u64()?;
    let a1 = line.get("a1_instances").map(|v| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    });
    Some((max, a1))
}

/// Per cell, the log's slice-1 decisions in report order.
fn by_cell(lines: &[Value]) -> Vec<(String, Vec<Slice1>)> {
    let mut cells: Vec<(String, Vec<_>)> = Vec::new();
    for l in lines.iter().filter(|l| l["role"] == "acting") {
        let Some(d) = slice1(l) else { continue };
        let cell = l["cell"].as_str().unwrap().to_owned();
        match cells.iter_mut().find(|(c, _)| *c == cell) {
            Some((_, v)) => v.push(d),
            None => cells.push((cell, vec![d])),
        }
    }
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capping_policy_bounds_quotas_from_its_tick_and_delete_restores() {
    let dir = temp_dir("loop");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut med = Mediator::start(&dir, xapp_rmr).await;
    let state = dir.join("a1.json");
    let lp = Loop::start(&dir, "loop", &state, xapp_rmr, med.addr()).await;
    // (d) The query goes out through the transport's RMR port.
    assert_eq!(
        med.next(mtype::A1_POLICY_QUERY).await,
        json!({"policy_type_id": TYPE})
    );
    lp.slice1_max_until("unbounded", |m| m > CAP).await;

    // Every cell is brought under the cap at its next decisions (hysteresis or not).
    let sent = std::time::Instant::now();
    med.request("CREATE", "cap", cap_payload());
    assert_eq!(med.next(mtype::A1_POLICY_RESP).await["status"], "OK");
    let answered = sent.elapsed();
    lp.slice1_max_until("capped", |m| m <= CAP).await;
    println!(
        "a1: CREATE answered OK in {:.1} ms; every cell's accepted quota capped {:.1} ms after the CREATE",
        answered.as_secs_f64() * 1e3,
        sent.elapsed().as_secs_f64() * 1e3
    );
    assert!(lp.metrics.a1.bounded_of("max_share") > 0);

    med.request("DELETE", "cap", Value::Null);
    assert_eq!(med.next(mtype::A1_POLICY_RESP).await["status"], "DELETED");
    lp.slice1_max_until("restored", |m| m > CAP).await;
    let (_, lines) = lp.finish().await;

    // The decision log: per cell, unbounded decisions, then every decision under the
    // policy capped (from the first one on), then unbounded ones again.
    let cells = by_cell(&lines);
    assert_eq!(cells.len(), 2, "{cells:?}");
    for (cell, ds) in &cells {
        let first = ds.iter().position(|(_, a)| a.is_some()).unwrap();
        let after = first + ds[first..].iter().position(|(_, a)| a.is_none()).unwrap();
        assert!(
            ds[..first].iter().any(|(m, _)| *m > u64::from(CAP)),
            "{cell}"
        );
        for (m, a) in &ds[first..after] {
            assert_eq!(a.as_deref(), Some(&["cap".to_owned()][..]), "{cell}");
            assert!(
                *m <= u64::from(CAP),
                "{cell}: slice 1 max {m} under the policy"
            );
        }
        assert!(ds[after..].iter().all(|(_, a)| a.is_none()), "{cell}");
        assert!(
            ds[after..].iter().any(|(m, _)| *m > u64::from(CAP)),
            "{cell}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_xapp_applies_the_stored_policy_from_its_first_decision() {
    let dir = temp_dir("restart");
    let state = dir.join("a1.json");
    // First life: the handler applies a CREATE and keeps it in the state file.
    {
        let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut med = Mediator::start(&dir, xapp_rmr).await;
        let metrics = Arc::new(Metrics::new());
        let a1 = own_handler(&dir, &state, med.addr(), xapp_rmr, &metrics).await;
        med.request("CREATE", "cap", cap_payload());
        assert_eq!(med.next(mtype::A1_POLICY_RESP).await["status"], "OK");
        a1.stop();
    }
    // Second life: the full xApp with the same state file; the mediator stays silent.
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut med = Mediator::start(&dir, xapp_rmr).await;
    let lp = Loop::start(&dir, "restart", &state, xapp_rmr, med.addr()).await;
    assert_eq!(
        med.next(mtype::A1_POLICY_QUERY).await,
        json!({"policy_type_id": TYPE})
    );
    lp.slice1_max_until("capped from the start", |m| m <= CAP)
        .await;
    // The restored instance was not re-sent after the query: named and counted, still
    // applied.
    let metrics = lp.metrics.clone();
    assert!(wait_for(Duration::from_secs(5), || metrics.a1.unconfirmed.get() == 1).await);
    let (metrics, lines) = lp.finish().await;
    assert_eq!(metrics.a1.requests_of("restore", "ok"), 1);
    let cells = by_cell(&lines);
    assert_eq!(cells.len(), 2, "{cells:?}");
    for (cell, ds) in &cells {
        assert!(!ds.is_empty());
        for (m, a) in ds {
            assert_eq!(a.as_deref(), Some(&["cap".to_owned()][..]), "{cell}");
            assert!(*m <= u64::from(CAP), "{cell}: slice 1 max {m}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child process killed when dropped (a failed assertion must not leave it running).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real librmr plays the mediator's RMR side (`tests/peer/a1_mediator.c`): it receives
/// the handler's query, answers it with a CREATE in the Go mediator's form (payload as a
/// string) and a bad CREATE, routed by `mse|20010|<type>`, and reads both responses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_librmr_mediator_and_the_handler_understand_each_other() {
    use std::io::BufRead;
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer/a1_mediator.c");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let Some(exe) = testbed::librmr::build_peer(tmp, &source, "a1-mediator") else {
        return;
    };
    let dir = temp_dir("librmr");
    let xapp_rmr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mediator = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let seed = dir.join("c-mediator.rt");
    std::fs::write(
        &seed,
        format!("newrt|start\nmse|20010|{TYPE}|{xapp_rmr}\nnewrt|end\n"),
    )
    .unwrap();
    let create = json!({"operation": "CREATE", "policy_type_id": TYPE,
        "policy_instance_id": "cap", "payload": cap_payload().to_string()});
    let bad = json!({"operation": "CREATE", "policy_type_id": TYPE,
        "policy_instance_id": "bad", "payload": {"slices": [
            {"sst": 3, "min_prb_share_pct": 60, "max_prb_share_pct": 40}]}});
    let mut child = Killed(
        std::process::Command::new(&exe)
            .arg(mediator.port().to_string())
            .arg(TYPE.to_string())
            .arg(create.to_string())
            .arg(bad.to_string())
            .env("RMR_SEED_RT", &seed)
            .env("RMR_RTG_SVC", "-1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, mut lines) = mpsc::unbounded_channel();
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut line = async || {
        tokio::time::timeout(Duration::from_secs(60), lines.recv())
            .await
            .expect("the C mediator answers within 60 s")
            .expect("a line")
    };
    assert_eq!(line().await, "ready");
    let metrics = Arc::new(Metrics::new());
    let a1 = own_handler(&dir, &dir.join("a1.json"), mediator, xapp_rmr, &metrics).await;
    let tagged = |l: String, tag: &str| -> Value {
        let body = l
            .strip_prefix(tag)
            .unwrap_or_else(|| panic!("expected {tag}: {l}"));
        serde_json::from_str(body.trim()).unwrap()
    };
    assert_eq!(
        tagged(line().await, "query"),
        json!({"policy_type_id": TYPE})
    );
    let ok = tagged(line().await, "resp");
    assert_eq!(
        (ok["policy_instance_id"].as_str(), ok["status"].as_str()),
        (Some("cap"), Some("OK"))
    );
    let refused = tagged(line().await, "resp");
    assert_eq!(refused["status"], "ERROR");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("min_prb_share_pct 60 is above max_prb_share_pct 40"),
        "{refused}"
    );
    assert!(child.0.wait().unwrap().success());
    assert_eq!(a1.policy().borrow().instances(), ["cap"]);
    a1.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
