//! Sharding E2 nodes over replicas, judged from the E2T's side: real `slice-xapp` processes
//! (distinct `e2t.app_instance_id`, each serving `/ric/v1/shard` on its own loopback port)
//! against one simulator of nine E2 nodes, the simulator logging which instance subscribed
//! and controlled each node when.
//!
//! - three replicas: every node subscribed and controlled by exactly one instance, the one
//!   rendezvous hashing names; one replica killed with SIGKILL: its nodes are subscribed
//!   and controlled by the survivors within the stated bound (printed with the measured
//!   times);
//! - a fourth replica joins (configured `replicas = 4`, started late): the nodes it wins move
//!   to it, each released (unsubscribed, last control) before it is acquired; then one
//!   leaves on SIGTERM and the others take its nodes over;
//! - in both, over the whole run: per node, no two instances' subscriptions are open at
//!   once and no two instances' controls interleave;
//! - A1 with sharding: the mediator (a real RMR endpoint) fans policy type 21010 out to
//!   every replica (`rte|20010|r0;r1;r2`, one group per replica); each answers OK under its
//!   own `handler_id`, every node's quotas are bounded by whichever replica owns it, and
//!   after a SIGKILL the heirs keep bounding the nodes they take over;
//! - the interference xApp (its StatefulSet in the manifests) shares the radio simulator's
//!   four nodes the same way over two replicas: each subscribed by exactly its owner, a
//!   killed replica's nodes taken over by the survivor, never two instances on one node.
//!
//! The binaries are `target/debug/slice-xapp` and `target/debug/interference-xapp`
//! (`cargo build -p slice-xapp -p interference-xapp`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::time::Duration;

use common::xapp_proc::{XappProcess, demo_config};
use common::{start_sim, wait_for};
use nf_core::shard::{ShardSettings, owner};
use testbed::ports::free_port;
use testbed::sim::{RunningSim, SimConfig, SubscriptionEvent};

const NODES: usize = 9;
const PROBE_MS: u64 = 200;
const THRESHOLD: u32 = 3;
const GRACE_MS: u64 = 400;
/// Start-up of several xApps (onnxruntime, discovery) on a busy 2-core host.
const LIMIT: Duration = Duration::from_secs(90);
/// Allowed beyond the bound of the node task's start: its KPM subscription exchange and a
/// busy 2-core host running the simulator, three xApps and the test.
const SLACK_MS: u64 = 2_500;

/// The tests here start several xApp processes each: one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn bound_ms() -> u64 {
    ShardSettings {
        ordinal: 0,
        replicas: 3,
        failure_threshold: THRESHOLD,
        handover_grace_ms: GRACE_MS,
    }
    .takeover_bound_ms(PROBE_MS)
}

fn instance(ordinal: u32) -> String {
    format!("slice-xapp-{ordinal}")
}

/// The demo config with the repository's model, every decision sent (the latency budget
/// only counted: the host is busy), and `[shard]` for `ordinal` of `replicas` whose HTTP
/// endpoints are `ports`.
fn config(replicas: u32, ordinal: u32, ports: &[u16]) -> String {
    let text = demo_config()
        .replace(
            "latency_budget_ms = 10.0",
            "latency_budget_ms = 10.0\nlatency_budget_mode = \"count\"",
        )
        .replace(
            "app_instance_id = \"slice-xapp-1\"",
            "app_instance_id = \"slice-xapp-{ordinal}\"",
        );
    assert!(text.contains("slice-xapp-{ordinal}") && text.contains("\"count\""));
    let peers: Vec<String> = ports
        .iter()
        .map(|p| format!("\"http://127.0.0.1:{p}\""))
        .collect();
    format!(
        "{text}\n[shard]\nreplicas = {replicas}\nordinal = {ordinal}\npeers = [{}]\nprobe_interval_ms = {PROBE_MS}\nfailure_threshold = {THRESHOLD}\nhandover_grace_ms = {GRACE_MS}\n",
        peers.join(", ")
    )
}

/// The simulator and the replicas of one test.
struct Fleet {
    sim: RunningSim,
    replicas: u32,
    ports: Vec<u16>,
    procs: BTreeMap<u32, XappProcess>,
    /// `[a1]` of every replica, when the test runs A1.
    a1: Option<A1Fleet>,
}

/// Each replica's A1 handler: its own RMR port and state file, one route table back to
/// the mediator.
struct A1Fleet {
    rmr_ports: Vec<u16>,
    routes: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Fleet {
    async fn new(replicas: u32) -> Self {
        let sim = start_sim(SimConfig {
            nodes: NODES,
            cells_per_node: 1,
            speed: 10.0,
            ..SimConfig::default()
        })
        .await;
        Self {
            sim,
            replicas,
            ports: (0..replicas).map(|_| free_port()).collect(),
            procs: BTreeMap::new(),
            a1: None,
        }
    }

    fn start(&mut self, ordinal: u32) {
        let mut text = config(self.replicas, ordinal, &self.ports);
        if let Some(a1) = &self.a1 {
            let state = a1.dir.join(format!("a1-{ordinal}.json"));
            text.push_str(&format!(
                "\n[a1]\nstate_file = {:?}\nrmr_listen = \"127.0.0.1:{}\"\nrmr_route_table = {:?}\n",
                state.display().to_string(),
                a1.rmr_ports[ordinal as usize],
                a1.routes.display().to_string()
            ));
        }
        let listen = format!("127.0.0.1:{}", self.ports[ordinal as usize]);
        let name = format!("shard-{}-{ordinal}", self.replicas);
        let p = XappProcess::start_listening("slice-xapp", &name, &self.sim, &text, &listen);
        self.procs.insert(ordinal, p);
    }

    fn nodes(&self) -> Vec<String> {
        self.sim.sim.nodes.iter().map(|n| n.id.clone()).collect()
    }

    /// Every node subscribed by exactly its rendezvous owner over `live`, and controlled by
    /// it at or after `since_ms`.
    fn settled(&self, live: &[u32], since_ms: u64) -> bool {
        let open = open_subscriptions(&self.sim);
        let controls = self.sim.sim.control_log();
        self.nodes().iter().all(|n| {
            let want = instance(owner(n, live.iter().copied()).unwrap());
            open.get(n) == Some(&BTreeSet::from([want.clone()]))
                && controls
                    .iter()
                    .any(|c| &c.node == n && c.app_instance_id == want && c.t_ms >= since_ms)
        })
    }

    async fn wait_settled(&self, live: &[u32], since_ms: u64, what: &str) {
        let ok = wait_for(LIMIT, || self.settled(live, since_ms)).await;
        if !ok {
            let logs: Vec<String> = self
                .procs
                .iter()
                .map(|(o, p)| format!("--- replica {o}:\n{}", tail(&p.stderr())))
                .collect();
            panic!(
                "{what}: nodes not served by their owners over {live:?} within {LIMIT:?}; open subscriptions {:?}\n{}",
                open_subscriptions(&self.sim),
                logs.join("\n")
            );
        }
    }

    /// Stops every replica with SIGTERM; each must drain and exit 0.
    async fn stop(mut self) {
        for (o, p) in std::mem::take(&mut self.procs) {
            let (exit, _, stderr) = p.stop().await;
            assert!(
                exit.success(),
                "replica {o} exit {exit}:\n{}",
                tail(&stderr)
            );
        }
        self.sim.stop().await;
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Per node: the instances whose KPM subscription is open now.
fn open_subscriptions(sim: &RunningSim) -> BTreeMap<String, BTreeSet<String>> {
    let mut open: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for r in sim.sim.subscription_log() {
        let n = open
            .entry(r.node)
            .or_default()
            .entry(r.app_instance_id)
            .or_default();
        *n += match r.event {
            SubscriptionEvent::Opened => 1,
            SubscriptionEvent::Closed => -1,
        };
    }
    open.into_iter()
        .map(|(node, by)| {
            let on = by.into_iter().filter(|(_, n)| *n > 0).map(|(i, _)| i);
            (node, on.collect())
        })
        .collect()
}

/// Over the whole run, per node: no two instances' subscriptions open at once, and no two
/// instances' controls interleave (each instance's controls of a node lie in one time
/// window that no other instance's window overlaps).
fn check_exclusive(sim: &RunningSim) {
    let now = sim.sim.elapsed_ms();
    // (node, instance) → [opened, closed) intervals.
    let mut spans: BTreeMap<(String, String), Vec<(u64, u64)>> = BTreeMap::new();
    let mut opened: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for r in sim.sim.subscription_log() {
        let key = (r.node, r.app_instance_id);
        match r.event {
            SubscriptionEvent::Opened => opened.entry(key).or_default().push(r.t_ms),
            SubscriptionEvent::Closed => {
                let from = opened.entry(key.clone()).or_default().pop().unwrap();
                spans.entry(key).or_default().push((from, r.t_ms));
            }
        }
    }
    for (key, left) in opened {
        for from in left {
            spans.entry(key.clone()).or_default().push((from, now));
        }
    }
    let all: Vec<_> = spans.iter().collect();
    for ((n1, i1), s1) in &all {
        for ((n2, i2), s2) in &all {
            if n1 != n2 || i1 >= i2 {
                continue;
            }
            for a in s1.iter() {
                for b in s2.iter() {
                    let overlap = a.0 < b.1 && b.0 < a.1;
                    assert!(
                        !overlap,
                        "{n1}: {i1} subscribed {a:?} while {i2} subscribed {b:?}"
                    );
                }
            }
        }
    }
    let mut windows: BTreeMap<String, BTreeMap<String, (u64, u64)>> = BTreeMap::new();
    for c in sim.sim.control_log() {
        let w = windows
            .entry(c.node)
            .or_default()
            .entry(c.app_instance_id)
            .or_insert((c.t_ms, c.t_ms));
        w.1 = c.t_ms;
    }
    for (node, by) in &windows {
        let w: Vec<_> = by.iter().collect();
        for (i, (a, wa)) in w.iter().enumerate() {
            for (b, wb) in &w[i + 1..] {
                let overlap = wa.0 < wb.1 && wb.0 < wa.1;
                assert!(
                    !overlap,
                    "{node}: controls of {a} {wa:?} interleave with {b} {wb:?}"
                );
            }
        }
    }
}

/// Per node, the instances that sent it controls at or after `since_ms`, in turn (an
/// instance listed again only after another one).
fn senders_since(sim: &RunningSim, since_ms: u64) -> BTreeMap<String, Vec<String>> {
    let mut order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in sim.sim.control_log() {
        let seq = order.entry(c.node).or_default();
        if c.t_ms >= since_ms && seq.last() != Some(&c.app_instance_id) {
            seq.push(c.app_instance_id);
        }
    }
    order
}

/// `node`'s senders since the fleet settled: `old` then `new` when the node moved (`old`
/// may have sent nothing between the settling and its departure), else `old` alone.
fn check_senders(node: &str, senders: &[String], old: &str, new: &str) {
    let ok = if old == new {
        senders == [old]
    } else {
        senders == [old, new] || senders == [new]
    };
    assert!(
        ok,
        "{node}: controls from {senders:?}, expected {old} then {new}"
    );
}

/// `GET /ric/v1/shard` of the replica on `port`.
fn shard_report(port: u16) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /ric/v1/shard HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    serde_json::from_str(body).unwrap()
}

fn strings(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// When each node was first subscribed and first controlled by `instance` at or after
/// `since_ms`.
fn first_service(sim: &RunningSim, node: &str, instance: &str, since_ms: u64) -> (u64, u64) {
    let sub = sim
        .sim
        .subscription_log()
        .into_iter()
        .find(|r| {
            r.node == node
                && r.app_instance_id == instance
                && r.event == SubscriptionEvent::Opened
                && r.t_ms >= since_ms
        })
        .unwrap()
        .t_ms;
    let ctl = sim
        .sim
        .control_log()
        .into_iter()
        .find(|c| c.node == node && c.app_instance_id == instance && c.t_ms >= since_ms)
        .unwrap()
        .t_ms;
    (sub, ctl)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_the_nodes_and_survivors_take_over_a_killed_ones() {
    let _one = SERIAL.lock().await;
    let mut fleet = Fleet::new(3).await;
    for o in 0..3 {
        fleet.start(o);
    }
    fleet.wait_settled(&[0, 1, 2], 0, "start").await;
    // From here on each node changes hands only when a replica goes. (Before, a replica
    // whose endpoint came up more than three probes after a peer's was dead to that peer
    // for a while: its nodes went there first, then moved back.)
    let settled_at = fleet.sim.sim.elapsed_ms();
    // Each replica's report names the nodes it serves: together every node, once.
    let nodes = fleet.nodes();
    let mut seen = BTreeSet::new();
    for o in 0..3u32 {
        let r = shard_report(fleet.ports[o as usize]);
        assert_eq!(r["ordinal"], o);
        assert_eq!(r["xapp"], "slice-xapp");
        assert_eq!(r["live"], serde_json::json!([0, 1, 2]), "{r}");
        let owned = strings(&r["owned"]);
        let want: BTreeSet<String> = nodes
            .iter()
            .filter(|n| owner(n, 0..3) == Some(o))
            .cloned()
            .collect();
        assert_eq!(owned, want, "replica {o}: {r}");
        assert!(seen.is_disjoint(&owned));
        seen.extend(owned);
    }
    assert_eq!(seen.len(), NODES);

    // Kill the replica owning most nodes; the survivors take them over.
    let victim = (0..3u32)
        .max_by_key(|o| nodes.iter().filter(|n| owner(n, 0..3) == Some(*o)).count())
        .unwrap();
    let survivors: Vec<u32> = (0..3).filter(|o| *o != victim).collect();
    let moved: Vec<&String> = nodes
        .iter()
        .filter(|n| owner(n, 0..3) == Some(victim))
        .collect();
    assert!(!moved.is_empty());
    let killed_at = fleet.sim.sim.elapsed_ms();
    fleet.procs.get_mut(&victim).unwrap().kill();
    fleet
        .wait_settled(&survivors, killed_at, "after the kill")
        .await;
    let (mut sub_ms, mut ctl_ms) = (0, 0);
    for n in &moved {
        let heir = instance(owner(n, survivors.iter().copied()).unwrap());
        let (sub, ctl) = first_service(&fleet.sim, n, &heir, killed_at);
        sub_ms = sub_ms.max(sub - killed_at);
        ctl_ms = ctl_ms.max(ctl - killed_at);
    }
    let bound = bound_ms();
    println!(
        "{} nodes of the killed replica {victim}: all subscribed by survivors {sub_ms} ms and controlled {ctl_ms} ms after SIGKILL (task start bound {bound} ms: probe {PROBE_MS} ms, threshold {THRESHOLD}, grace {GRACE_MS} ms)",
        moved.len()
    );
    assert!(
        sub_ms <= bound + SLACK_MS,
        "taken over after {sub_ms} ms, bound {bound} ms + {SLACK_MS} ms"
    );
    check_exclusive(&fleet.sim);
    let senders = senders_since(&fleet.sim, settled_at);
    for n in &nodes {
        let heir = instance(owner(n, survivors.iter().copied()).unwrap());
        check_senders(n, &senders[n], &instance(owner(n, 0..3).unwrap()), &heir);
    }
    fleet.procs.remove(&victim);
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_replica_gets_its_nodes_released_first_and_a_leaving_one_hands_them_over() {
    let _one = SERIAL.lock().await;
    // Four ordinals configured, three running: ordinal 3 is declared dead, then starts.
    let mut fleet = Fleet::new(4).await;
    for o in 0..3 {
        fleet.start(o);
    }
    fleet.wait_settled(&[0, 1, 2], 0, "start").await;
    let settled_at = fleet.sim.sim.elapsed_ms();
    let nodes = fleet.nodes();
    let moving: Vec<&String> = nodes.iter().filter(|n| owner(n, 0..4) == Some(3)).collect();
    assert!(!moving.is_empty(), "ordinal 3 wins some of {nodes:?}");
    let joined_at = fleet.sim.sim.elapsed_ms();
    fleet.start(3);
    fleet
        .wait_settled(&[0, 1, 2, 3], joined_at, "after the join")
        .await;
    let log = fleet.sim.sim.subscription_log();
    let mut served_ms = 0;
    for n in &moving {
        let old = instance(owner(n, 0..3).unwrap());
        let released = log
            .iter()
            .find(|r| {
                &&r.node == n
                    && r.app_instance_id == old
                    && r.event == SubscriptionEvent::Closed
                    && r.t_ms >= joined_at
            })
            .unwrap_or_else(|| panic!("{n}: {old} never unsubscribed"))
            .t_ms;
        let (sub, _) = first_service(&fleet.sim, n, &instance(3), joined_at);
        assert!(
            released <= sub,
            "{n}: acquired at {sub} ms, released at {released} ms"
        );
        served_ms = served_ms.max(sub - joined_at);
    }
    println!(
        "{} nodes moved to the joining replica, the last subscribed {served_ms} ms after its start (released first)",
        moving.len()
    );
    check_exclusive(&fleet.sim);
    let senders = senders_since(&fleet.sim, settled_at);
    for n in &nodes {
        let (old, new) = (owner(n, 0..3).unwrap(), owner(n, 0..4).unwrap());
        check_senders(n, &senders[n], &instance(old), &instance(new));
    }

    // Replica 0 leaves gracefully (SIGTERM, as in a rolling update or a scale-down): it
    // reports `leaving`, releases its nodes and says so before it exits, so the others take
    // them over without waiting to declare it dead.
    let leaving: Vec<&String> = nodes.iter().filter(|n| owner(n, 0..4) == Some(0)).collect();
    let left_at = fleet.sim.sim.elapsed_ms();
    let (exit, _, stderr) = fleet.procs.remove(&0).unwrap().stop().await;
    assert!(exit.success(), "replica 0 exit {exit}:\n{}", tail(&stderr));
    fleet
        .wait_settled(&[1, 2, 3], left_at, "after replica 0 left")
        .await;
    let mut taken_ms = 0;
    for n in &leaving {
        let heir = instance(owner(n, 1..4).unwrap());
        let (sub, _) = first_service(&fleet.sim, n, &heir, left_at);
        taken_ms = taken_ms.max(sub - left_at);
    }
    println!(
        "{} nodes of replica 0, leaving on SIGTERM: all subscribed by the others {taken_ms} ms after the signal",
        leaving.len()
    );
    assert!(taken_ms <= bound_ms() + SLACK_MS, "{taken_ms} ms");
    check_exclusive(&fleet.sim);
    fleet.stop().await;
}

/// Slice 1's maximum PRB ratio in a logged quota control (`"1 0..40/0%, 2 ..."`).
fn slice1_max(value: &str) -> Option<u8> {
    value.split(", ").find_map(|q| {
        let rest = q.strip_prefix("1 ")?;
        rest.split("..").nth(1)?.split('/').next()?.parse().ok()
    })
}

/// `GET /metrics` of the replica on `port`: the value of the unlabelled series `name`.
fn metric(port: u16, name: &str) -> Option<f64> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_a1_policy_fanned_out_to_every_replica_bounds_every_node_and_follows_a_takeover() {
    use nf_rmr::{Message, RmrConfig, RmrEndpoint, mtype};
    use testbed::osc::write_route_table;
    /// Slice 1's maximum PRB share under the policy; unbounded, every maximum is at least
    /// `policy.max_ratio_floor` (10).
    const CAP: u8 = 8;
    const TYPE: u32 = nf_core::a1::DEFAULT_POLICY_TYPE_ID;
    let _one = SERIAL.lock().await;
    let dir = std::env::temp_dir().join(format!("shard-a1-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rmr_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    // The mediator: 20010 to every replica (one group each: each gets a copy).
    let fanout: Vec<String> = rmr_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let med_routes = write_route_table(
        &dir,
        "mediator.rt",
        &[(mtype::A1_POLICY_REQ, fanout.join(";"))],
    )
    .unwrap();
    let (med, mut from_xapps) = RmrEndpoint::bind(RmrConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        seed_routes: Some(med_routes),
        ..RmrConfig::default()
    })
    .await
    .unwrap();
    let back = med.local_addr().to_string();
    let routes = write_route_table(
        &dir,
        "xapp-a1.rt",
        &[
            (mtype::A1_POLICY_RESP, back.clone()),
            (mtype::A1_POLICY_QUERY, back),
        ],
    )
    .unwrap();
    let mut fleet = Fleet::new(3).await;
    fleet.a1 = Some(A1Fleet {
        rmr_ports,
        routes,
        dir: dir.clone(),
    });
    for o in 0..3 {
        fleet.start(o);
    }
    fleet.wait_settled(&[0, 1, 2], 0, "start").await;
    let nodes = fleet.nodes();
    let owner_of = |n: &String, live: &[u32]| instance(owner(n, live.iter().copied()).unwrap());
    // Before the policy, no node's slice 1 is under the cap.
    let latest = |sim: &RunningSim, n: &String| {
        sim.sim
            .control_log()
            .iter()
            .rev()
            .find(|c| &c.node == n && c.accepted)
            .and_then(|c| slice1_max(&c.value))
    };
    for n in &nodes {
        let max = latest(&fleet.sim, n);
        assert!(
            max.is_some_and(|m| m > CAP),
            "{n} before the policy: {max:?}"
        );
    }

    // CREATE, sent once by the mediator: every replica answers OK under its own handler_id.
    let body = serde_json::json!({"operation": "CREATE", "policy_type_id": TYPE,
        "policy_instance_id": "17",
        "payload": {"slices": [{"sst": 1, "max_prb_share_pct": CAP}]}});
    med.send(
        Message::new(mtype::A1_POLICY_REQ, body.to_string().into_bytes()).with_sub_id(TYPE as i32),
    )
    .unwrap();
    let mut handlers = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while handlers.len() < 3 {
        let m = tokio::time::timeout_at(deadline, from_xapps.recv())
            .await
            .unwrap_or_else(|_| panic!("responses from {handlers:?} only within 20 s"))
            .unwrap();
        if m.mtype != mtype::A1_POLICY_RESP {
            continue; // the query each replica sends at start
        }
        let r: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(r["status"], "OK", "{r}");
        assert_eq!(r["policy_instance_id"], "17", "{r}");
        assert!(
            handlers.insert(r["handler_id"].as_str().unwrap().to_owned()),
            "{r}"
        );
    }
    assert_eq!(handlers, (0..3).map(instance).collect::<BTreeSet<_>>());
    for o in 0..3 {
        assert_eq!(
            metric(fleet.ports[o], "xapp_a1_policy_instances"),
            Some(1.0),
            "replica {o}"
        );
    }
    // Every node's latest control, sent by its owner, bounds slice 1.
    let capped = wait_for(LIMIT, || {
        let log = fleet.sim.sim.control_log();
        nodes.iter().all(|n| {
            log.iter()
                .rev()
                .find(|c| &c.node == n && c.accepted)
                .is_some_and(|c| {
                    c.app_instance_id == owner_of(n, &[0, 1, 2])
                        && slice1_max(&c.value).is_some_and(|m| m <= CAP)
                })
        })
    })
    .await;
    assert!(
        capped,
        "not every node capped: {:?}",
        nodes
            .iter()
            .map(|n| (n, latest(&fleet.sim, n)))
            .collect::<Vec<_>>()
    );
    let capped_at = fleet.sim.sim.elapsed_ms();

    // The replica owning most nodes is killed; its heirs hold the policy too.
    let victim = (0..3u32)
        .max_by_key(|o| nodes.iter().filter(|n| owner(n, 0..3) == Some(*o)).count())
        .unwrap();
    let survivors: Vec<u32> = (0..3).filter(|o| *o != victim).collect();
    let killed_at = fleet.sim.sim.elapsed_ms();
    fleet.procs.get_mut(&victim).unwrap().kill();
    fleet
        .wait_settled(&survivors, killed_at, "after the kill")
        .await;
    // From the moment every node was capped, no accepted control (the victim's last ones,
    // the heirs' first ones included) lifts slice 1 above the cap.
    let log = fleet.sim.sim.control_log();
    let after: Vec<_> = log
        .iter()
        .filter(|c| c.t_ms >= capped_at && c.accepted)
        .collect();
    let moved: Vec<_> = after
        .iter()
        .filter(|c| c.t_ms >= killed_at && owner(&c.node, 0..3) == Some(victim))
        .collect();
    assert!(!moved.is_empty(), "no control of a taken-over node");
    for c in &after {
        assert!(
            slice1_max(&c.value).is_some_and(|m| m <= CAP),
            "{} by {} at {} ms: {}",
            c.node,
            c.app_instance_id,
            c.t_ms,
            c.value
        );
    }
    println!(
        "A1 fanned out to 3 replicas: {} controls after every node was capped, {} of them by heirs of the killed replica {victim}, all with slice 1 ≤ {CAP} %",
        after.len(),
        moved.len()
    );
    fleet.procs.remove(&victim);
    fleet.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_interference_replicas_share_the_radio_nodes_and_the_survivor_takes_over() {
    let _one = SERIAL.lock().await;
    let Some(sim) = common::radio::radio_sim_of(7, 10.0, 4).await else {
        return;
    };
    let contract = common::xapp_proc::repo()
        .join("models/interference/interference.contract.toml")
        .canonicalize()
        .unwrap();
    let shipped = common::radio::interference_config(&sim, &contract);
    let base = shipped.replace(
        "app_instance_id = \"interference-xapp-1\"",
        "app_instance_id = \"interference-xapp-{ordinal}\"",
    );
    assert_ne!(base, shipped, "the shipped config names its instance");
    let ports: Vec<u16> = (0..2).map(|_| free_port()).collect();
    let peers: Vec<String> = ports
        .iter()
        .map(|p| format!("\"http://127.0.0.1:{p}\""))
        .collect();
    let name = |o: u32| format!("interference-xapp-{o}");
    let mut procs: BTreeMap<u32, XappProcess> = BTreeMap::new();
    for o in 0..2u32 {
        let text = format!(
            "{base}\n[shard]\nreplicas = 2\nordinal = {o}\npeers = [{}]\nprobe_interval_ms = {PROBE_MS}\nfailure_threshold = {THRESHOLD}\nhandover_grace_ms = {GRACE_MS}\n",
            peers.join(", ")
        );
        let listen = format!("127.0.0.1:{}", ports[o as usize]);
        let p = XappProcess::start_listening(
            "interference-xapp",
            &format!("intf-shard-{o}"),
            &sim,
            &text,
            &listen,
        );
        procs.insert(o, p);
    }
    // The twin's four cells, one on each node.
    let nodes: Vec<String> = sim
        .sim
        .nodes
        .iter()
        .filter(|n| !n.cells.is_empty())
        .map(|n| n.id.clone())
        .collect();
    assert_eq!(nodes.len(), 4, "{:?}", sim.sim.nodes.len());
    let served_by_owners = |live: &[u32]| {
        let open = open_subscriptions(&sim);
        nodes.iter().all(|n| {
            let want = name(owner(n, live.iter().copied()).unwrap());
            open.get(n) == Some(&BTreeSet::from([want]))
        })
    };
    let settled = wait_for(LIMIT, || served_by_owners(&[0, 1])).await;
    assert!(
        settled,
        "nodes not subscribed by their owners: {:?}\n{}",
        open_subscriptions(&sim),
        procs
            .values()
            .map(|p| tail(&p.stderr()))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    for o in 0..2u32 {
        let r = shard_report(ports[o as usize]);
        assert_eq!(r["xapp"], "interference-xapp", "{r}");
        let want: BTreeSet<String> = nodes
            .iter()
            .filter(|n| owner(n, 0..2) == Some(o))
            .cloned()
            .collect();
        assert!(!want.is_empty(), "replica {o} owns none of {nodes:?}");
        assert_eq!(strings(&r["owned"]), want, "replica {o}: {r}");
    }
    // The replica owning most nodes is killed; the survivor subscribes them.
    let victim = (0..2u32)
        .max_by_key(|o| nodes.iter().filter(|n| owner(n, 0..2) == Some(*o)).count())
        .unwrap();
    let survivor = 1 - victim;
    let killed_at = sim.sim.elapsed_ms();
    procs.get_mut(&victim).unwrap().kill();
    let taken = wait_for(LIMIT, || served_by_owners(&[survivor])).await;
    assert!(
        taken,
        "{} did not take the nodes of the killed {}: {:?}",
        name(survivor),
        name(victim),
        open_subscriptions(&sim)
    );
    let moved: Vec<&String> = nodes
        .iter()
        .filter(|n| owner(n, 0..2) == Some(victim))
        .collect();
    let mut took_ms = 0;
    for n in &moved {
        let at = sim
            .sim
            .subscription_log()
            .into_iter()
            .find(|r| {
                &&r.node == n
                    && r.app_instance_id == name(survivor)
                    && r.event == SubscriptionEvent::Opened
                    && r.t_ms >= killed_at
            })
            .unwrap()
            .t_ms;
        took_ms = took_ms.max(at - killed_at);
    }
    println!(
        "interference-xapp: {} node(s) of the killed replica subscribed by the survivor {took_ms} ms after SIGKILL (bound {} ms)",
        moved.len(),
        bound_ms()
    );
    assert!(took_ms <= bound_ms() + SLACK_MS, "{took_ms} ms");
    check_exclusive(&sim);
    procs.remove(&victim);
    let (exit, _, stderr) = procs.remove(&survivor).unwrap().stop().await;
    assert!(exit.success(), "survivor exit {exit}:\n{}", tail(&stderr));
    sim.stop().await;
}
