use std::collections::{BTreeMap, BTreeSet};

use super::*;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("e2:4/{:x}", 0xe0000 + i)).collect()
}

#[test]
fn the_hash_is_the_documented_one() {
    // FNV-1a-64 reference vectors (Fowler, Noll, Vo).
    assert_eq!(fnv1a64(*b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(*b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(*b"foobar"), 0x8594_4171_f739_67e8);
    assert_eq!(fmix64(0), 0);
    // The weight is fmix64 of FNV-1a over node ID, 0xFF, ordinal (big-endian u32).
    let mut input = b"gnb-1".to_vec();
    input.extend([0xff, 0, 0, 0, 2]);
    assert_eq!(weight("gnb-1", 2), fmix64(fnv1a64(input)));
    // Pinned: any change of the function moves nodes between replicas of a running fleet.
    assert_eq!(weight("e2:4/e0000", 0), PINNED[0]);
    assert_eq!(weight("e2:4/e0000", 1), PINNED[1]);
    assert_eq!(weight("e2:4/e0001", 0), PINNED[2]);
}

/// `weight("e2:4/e0000", 0)`, `weight("e2:4/e0000", 1)`, `weight("e2:4/e0001", 0)`.
const PINNED: [u64; 3] = [
    0xf063_f39f_a7fb_17a0,
    0xddf9_aec5_619a_c92a,
    0xfef7_c2ec_b722_1dca,
];

#[test]
fn nodes_spread_evenly() {
    for replicas in [2u32, 3, 5, 10] {
        let nodes = ids(10_000);
        let mut count = vec![0usize; replicas as usize];
        for n in &nodes {
            count[owner(n, 0..replicas).unwrap() as usize] += 1;
        }
        let fair = nodes.len() as f64 / f64::from(replicas);
        for (o, c) in count.iter().enumerate() {
            let off = (*c as f64 - fair).abs() / fair;
            assert!(
                off < 0.08,
                "{replicas} replicas: ordinal {o} owns {c} (fair {fair})"
            );
        }
    }
}

#[test]
fn only_the_changed_replicas_nodes_move() {
    let nodes = ids(5_000);
    let before: Vec<u32> = nodes.iter().map(|n| owner(n, 0..4).unwrap()).collect();
    // Ordinal 1 leaves: exactly its nodes move, spread over the others.
    let after: Vec<u32> = nodes.iter().map(|n| owner(n, [0, 2, 3]).unwrap()).collect();
    let mut moved_to = [0usize; 4];
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b != a, *b == 1, "only ordinal 1's nodes move");
        if b != a {
            moved_to[*a as usize] += 1;
        }
    }
    assert!(
        moved_to[0] > 300 && moved_to[2] > 300 && moved_to[3] > 300,
        "{moved_to:?}"
    );
    // Ordinal 4 joins: nodes move only to it, about a fifth of them.
    let joined: Vec<u32> = nodes.iter().map(|n| owner(n, 0..5).unwrap()).collect();
    let moved = before.iter().zip(&joined).filter(|(b, j)| b != j).count();
    for (b, j) in before.iter().zip(&joined) {
        assert!(b == j || *j == 4);
    }
    assert!((800..1200).contains(&moved), "{moved} moved");
}

#[test]
fn ties_and_empty_sets() {
    assert_eq!(owner("x", []), None);
    assert_eq!(owner("x", [7]), Some(7));
}

fn settings(ordinal: u32, replicas: u32) -> ShardSettings {
    ShardSettings {
        ordinal,
        replicas,
        failure_threshold: 3,
        handover_grace_ms: 500,
    }
}

fn report(ordinal: u32, owned: &[&str]) -> ShardReport {
    ShardReport {
        ordinal,
        replicas: 3,
        owned: owned.iter().map(|s| (*s).to_owned()).collect(),
        ..ShardReport::default()
    }
}

fn starts(actions: &[Action]) -> BTreeSet<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start(n) => Some(n.clone()),
            Action::Stop(_) => None,
        })
        .collect()
}

#[test]
fn nothing_starts_before_the_grace_and_every_peers_fresh_answer() {
    let nodes = ids(30);
    let mut s = Shard::new(settings(0, 3), nodes.clone());
    let mine: BTreeSet<String> = nodes
        .iter()
        .filter(|n| owner(n, 0..3) == Some(0))
        .cloned()
        .collect();
    assert!(!mine.is_empty());
    assert!(s.step(100).is_empty());
    assert_eq!(s.report().acquiring.len(), mine.len());
    // Grace over, but no peer has answered yet.
    assert!(s.step(700).is_empty());
    // Peer 1 answers; peer 2 answers a probe sent before the acquisition began.
    s.answered(800, report(1, &[]));
    s.answered(50, report(2, &[]));
    assert!(s.step(900).is_empty());
    s.answered(1000, report(2, &[]));
    let started = starts(&s.step(1100));
    assert_eq!(started, mine);
    assert_eq!(s.report().owned, mine.iter().cloned().collect::<Vec<_>>());
    assert!(s.report().acquiring.is_empty());
}

#[test]
fn a_peer_claiming_a_node_holds_it_back() {
    let nodes = ids(30);
    let mine = nodes.iter().find(|n| owner(n, 0..2) == Some(0)).unwrap();
    let mut s = Shard::new(settings(0, 2), [mine.clone()]);
    s.step(0);
    for t in 1..10 {
        s.answered(t * 100, report(1, &[mine]));
        assert!(s.step(t * 100 + 1).is_empty(), "peer 1 still owns it");
    }
    s.answered(1000, report(1, &[]));
    assert_eq!(starts(&s.step(1001)), BTreeSet::from([mine.clone()]));
}

#[test]
fn a_dead_peers_nodes_move_here_and_back_when_it_returns() {
    let nodes = ids(60);
    let mut s = Shard::new(settings(0, 3), nodes.clone());
    s.step(0);
    s.answered(10, report(1, &[]));
    s.answered(10, report(2, &[]));
    s.step(600);
    let first = s.report().owned;
    // Peer 2 stops answering: dead after 3 failures.
    assert_eq!(s.failed(2), None);
    assert_eq!(s.failed(2), None);
    assert_eq!(s.failed(2), Some(PeerChange::Died));
    assert_eq!(s.live(), vec![0, 1]);
    assert!(starts(&s.step(700)).is_empty(), "grace first");
    s.answered(800, report(1, &[]));
    let taken = starts(&s.step(1300));
    let expected: BTreeSet<String> = nodes
        .iter()
        .filter(|n| owner(n, 0..3) == Some(2) && owner(n, [0, 1]) == Some(0))
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(taken, expected);
    // It returns: those nodes are stopped here first, released once their tasks end.
    assert_eq!(s.answered(1400, report(2, &[])), Some(PeerChange::Returned));
    let stops: BTreeSet<String> = s
        .step(1401)
        .into_iter()
        .map(|a| match a {
            Action::Stop(n) => n,
            Action::Start(n) => panic!("started {n}"),
        })
        .collect();
    assert_eq!(stops, expected);
    let still = s.report();
    assert!(
        expected.iter().all(|n| still.claims(n)),
        "claimed while stopping"
    );
    for n in &expected {
        s.stopped(n);
    }
    assert_eq!(s.report().owned, first);
}

#[test]
fn leaving_releases_everything_and_acquires_nothing() {
    let nodes = ids(30);
    let mut s = Shard::new(settings(1, 2), nodes.clone());
    s.step(0);
    s.answered(1, report(0, &[]));
    let owned = starts(&s.step(600));
    assert!(!owned.is_empty());
    let stops = s.leave();
    assert_eq!(stops.len(), owned.len());
    assert!(stops.iter().all(|a| matches!(a, Action::Stop(_))));
    let r = s.report();
    assert!(r.leaving && r.live == vec![0]);
    assert_eq!(r.owned.len(), owned.len(), "reported until stopped");
    for n in &owned {
        s.stopped(n);
    }
    assert!(s.report().owned.is_empty());
    assert!(s.step(10_000).is_empty());
}

/// Replicas exchanging reports every round, some killed, started or stopping gracefully,
/// their tasks taking longer to drain than the grace (so the grace alone would not keep two
/// from serving a node): a node's task never runs on two replicas at once, and every node
/// ends up served exactly once, by its rendezvous owner.
struct Fleet {
    replicas: Vec<Option<Shard>>,
    /// Per replica: node → when its stop completes (`None`: running).
    running: Vec<BTreeMap<String, Option<u64>>>,
    nodes: Vec<String>,
    drain_ms: u64,
    interval_ms: u64,
    /// Per node: when it was last started anywhere.
    started_at: BTreeMap<String, u64>,
}

impl Fleet {
    fn new(replicas: u32, alive: u32, nodes: usize) -> Self {
        let nodes = ids(nodes);
        let mut f = Self {
            replicas: (0..replicas).map(|_| None).collect(),
            running: vec![BTreeMap::new(); replicas as usize],
            nodes,
            drain_ms: 1_200,
            interval_ms: 100,
            started_at: BTreeMap::new(),
        };
        for o in 0..alive {
            f.start(o);
        }
        f
    }

    fn start(&mut self, o: u32) {
        let n = self.replicas.len() as u32;
        self.replicas[o as usize] = Some(Shard::new(settings(o, n), self.nodes.clone()));
    }

    fn kill(&mut self, o: u32) {
        self.replicas[o as usize] = None;
        self.running[o as usize].clear();
    }

    fn round(&mut self, t: u64) {
        let n = self.replicas.len();
        for r in 0..n {
            // Stops that completed.
            let done: Vec<String> = self.running[r]
                .iter()
                .filter(|(_, end)| end.is_some_and(|e| e <= t))
                .map(|(k, _)| k.clone())
                .collect();
            for k in done {
                self.running[r].remove(&k);
                if let Some(s) = self.replicas[r].as_mut() {
                    s.stopped(&k);
                }
            }
            if self.replicas[r].is_none() {
                continue;
            }
            for p in 0..n {
                if p == r {
                    continue;
                }
                let peer = self.replicas[p].as_ref().map(Shard::report);
                let s = self.replicas[r].as_mut().unwrap();
                match peer {
                    Some(rep) => drop(s.answered(t, rep)),
                    None => drop(s.failed(p as u32)),
                }
            }
            let actions = self.replicas[r].as_mut().unwrap().step(t + 1);
            self.apply(r, t, actions);
        }
        self.check_exclusive();
    }

    fn apply(&mut self, r: usize, t: u64, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Start(k) => {
                    self.started_at.insert(k.clone(), t);
                    self.running[r].insert(k, None);
                }
                Action::Stop(k) => {
                    self.running[r].insert(k, Some(t + self.drain_ms));
                }
            }
        }
    }

    fn check_exclusive(&self) {
        for k in &self.nodes {
            let on = self.running.iter().filter(|m| m.contains_key(k)).count();
            assert!(on <= 1, "{k} runs on {on} replicas");
        }
    }

    /// Every node served by exactly one replica, the rendezvous owner over `alive`.
    fn settled(&self, alive: &[u32]) -> bool {
        self.nodes.iter().all(|k| {
            let on: Vec<usize> = (0..self.running.len())
                .filter(|&r| self.running[r].get(k) == Some(&None))
                .collect();
            on.len() == 1 && Some(on[0] as u32) == owner(k, alive.iter().copied())
        })
    }

    fn run_until_settled(&mut self, from: u64, alive: &[u32], limit_ms: u64) -> u64 {
        let mut t = from;
        while t <= from + limit_ms {
            self.round(t);
            if self.settled(alive) {
                return t;
            }
            t += self.interval_ms;
        }
        panic!("not settled over {alive:?} within {limit_ms} ms");
    }
}

#[test]
fn a_fleet_hands_nodes_over_without_overlap() {
    let mut f = Fleet::new(4, 3, 90);
    let bound = settings(0, 4).takeover_bound_ms(f.interval_ms);
    // Ordinal 3 never started: declared dead, the three share everything.
    let t = f.run_until_settled(0, &[0, 1, 2], 5_000);
    // Kill 1: its nodes are started elsewhere within the bound.
    f.kill(1);
    let killed = t + f.interval_ms;
    let t = f.run_until_settled(killed, &[0, 2], 5_000);
    let moved: Vec<&String> = f
        .nodes
        .iter()
        .filter(|k| owner(k, 0..3) == Some(1))
        .collect();
    let latest = moved.iter().map(|k| f.started_at[*k]).max().unwrap();
    assert!(
        latest - killed <= bound,
        "taken over after {} ms, bound {bound} ms",
        latest - killed
    );
    // 1 comes back and 3 joins: nodes move to them, released before acquired.
    f.start(1);
    f.start(3);
    let t = f.run_until_settled(t + f.interval_ms, &[0, 1, 2, 3], 5_000);
    // 2 leaves gracefully.
    let stops = f.replicas[2].as_mut().unwrap().leave();
    f.apply(2, t, stops);
    let mut now = t + f.interval_ms;
    while !f.running[2].is_empty() {
        f.round(now);
        now += f.interval_ms;
    }
    f.kill(2);
    f.run_until_settled(now, &[0, 1, 3], 5_000);
}
