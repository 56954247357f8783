//! Sharding E2 nodes over xApp replicas: who owns a node, and how a node changes hands
//! without two replicas controlling it at once.
//!
//! # Ownership: rendezvous hashing
//! Every replica of a StatefulSet has an ordinal (`slice-xapp-2` → 2). A node belongs to the
//! live ordinal with the highest [`weight`] of (node ID, ordinal): rendezvous (highest random
//! weight) hashing. When a replica leaves, only its nodes move (each to the live replica with
//! the next highest weight); when one joins, only the nodes it now wins move to it. Two
//! replicas that both count each other live can never both claim one node: between them the
//! higher weight wins in both views. So a duplicate owner needs one replica to hold another
//! dead while it is not, and the handover rules below guard even that window as far as the
//! peers' reports allow.
//!
//! The weight is a fixed function, the same in every process and every build (no seeded
//! hasher): `weight = fmix64(FNV-1a-64(node_id ‖ 0xFF ‖ ordinal as 4 big-endian bytes))`,
//! with FNV-1a-64 (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) and MurmurHash3's
//! 64-bit finaliser `fmix64`. `0xFF` never occurs in UTF-8, so the input is unambiguous. Ties
//! (never seen in practice) go to the lower ordinal.
//!
//! # Handover: the state machine
//! [`Shard`] holds, per node, one [`Ownership`], and per peer its liveness and last report
//! ([`ShardReport`], what `GET /ric/v1/shard` answers). Time is an argument (ms on any
//! monotonic clock of the caller); nothing here does I/O. The caller probes each peer every
//! interval and hands the outcome in ([`Shard::answered`], [`Shard::failed`]), calls
//! [`Shard::step`] and carries out the [`Action`]s it returns, and tells the shard when a
//! stopped node's task has ended ([`Shard::stopped`]).
//!
//! - A peer is *dead* after `failure_threshold` probes in a row failed; until then it counts
//!   as live, including at start (a replica never assumes the others are gone). A peer that
//!   reports `leaving` (it is shutting down) no longer counts for ownership.
//! - **Release first.** A node owned here whose rendezvous owner is now another replica is
//!   stopped at once ([`Action::Stop`]: the node task drains its decisions, awaits control
//!   outcomes and unsubscribes). It stays reported as owned (`Releasing`) until the task has
//!   ended.
//! - **Then acquire.** A node whose rendezvous owner is this replica becomes `Acquiring`; it
//!   is started ([`Action::Start`]) once it has been so for `handover_grace_ms` *and* every
//!   peer not dead has answered a probe sent after the acquisition began without listing the
//!   node as owned or acquiring.
//!
//! A killed replica's nodes are therefore started elsewhere within
//! `failure_threshold` probe rounds (to declare it dead) plus the grace rounded up to whole
//! probe rounds (at least one, for fresh reports) plus one round's probe timeout:
//! [`ShardSettings::takeover_bound_ms`].

use std::collections::BTreeMap;

/// Most replicas (ordinals `0..MAX_REPLICAS`).
pub const MAX_REPLICAS: u32 = 256;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a64(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// The rendezvous weight of `node_id` at replica `ordinal` (see the module docs for the
/// exact function).
pub fn weight(node_id: &str, ordinal: u32) -> u64 {
    let input = node_id.bytes().chain([0xff]).chain(ordinal.to_be_bytes());
    fmix64(fnv1a64(input))
}

/// The replica among `live` that owns `node_id`: the highest weight, ties to the lower
/// ordinal. `None` when `live` is empty.
pub fn owner(node_id: &str, live: impl IntoIterator<Item = u32>) -> Option<u32> {
    live.into_iter()
        .map(|o| (weight(node_id, o), std::cmp::Reverse(o)))
        .max()
        .map(|(_, std::cmp::Reverse(o))| o)
}

/// What this replica does with one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Not served here.
    Released,
    /// This replica is the owner in its view since `since_ms`; waiting for the grace and
    /// for the peers' reports to clear the node.
    Acquiring { since_ms: u64 },
    /// Served here: its task runs.
    Owned,
    /// Its task was told to stop (drain, unsubscribe) and has not ended yet: still
    /// reported as owned.
    Releasing,
}

/// What a replica reports about itself (`GET /ric/v1/shard`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardReport {
    pub ordinal: u32,
    /// Ordinals this replica probes (`0..replicas`).
    pub replicas: u32,
    /// Nodes whose task runs here, or is stopping (sorted).
    pub owned: Vec<String>,
    /// Nodes this replica is about to start (sorted).
    pub acquiring: Vec<String>,
    /// Ordinals counted live for ownership, this replica's included (sorted).
    #[serde(default)]
    pub live: Vec<u32>,
    /// The replica is shutting down: it acquires nothing and releases everything.
    #[serde(default)]
    pub leaving: bool,
}

impl ShardReport {
    /// Whether the report claims `node` (owned, stopping or about to be started).
    pub fn claims(&self, node: &str) -> bool {
        let has = |list: &[String]| list.binary_search_by(|n| n.as_str().cmp(node)).is_ok();
        has(&self.owned) || has(&self.acquiring)
    }
}

/// The sharding settings, validated by the caller (`ordinal < replicas <= MAX_REPLICAS`,
/// `failure_threshold >= 1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSettings {
    pub ordinal: u32,
    pub replicas: u32,
    /// Probes in a row that must fail before a peer is dead.
    pub failure_threshold: u32,
    /// Least time a node is `Acquiring` before it is started [ms].
    pub handover_grace_ms: u64,
}

impl ShardSettings {
    /// Longest time from a replica's death to the start of its nodes elsewhere, when every
    /// probe round takes at most `probe_interval_ms` (its timeout): `failure_threshold`
    /// failed rounds, then the grace rounded up to whole rounds (at least one, for reports
    /// sent after the acquisition began), plus one round of slack for the round in flight.
    pub fn takeover_bound_ms(&self, probe_interval_ms: u64) -> u64 {
        let i = probe_interval_ms.max(1);
        let grace_rounds = self.handover_grace_ms.div_ceil(i).max(1);
        (u64::from(self.failure_threshold) + grace_rounds + 1) * i
    }
}

/// Something the caller must do to a node's task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start serving the node (subscribe, decide, control).
    Start(String),
    /// Stop serving it: drain, unsubscribe; then call [`Shard::stopped`].
    Stop(String),
}

/// A change of a peer's liveness seen by [`Shard::answered`] or [`Shard::failed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerChange {
    /// It failed `failure_threshold` probes in a row: its nodes may move here.
    Died,
    /// It answered again after being dead.
    Returned,
}

#[derive(Clone, Debug, Default)]
struct Peer {
    /// Probes failed in a row.
    failures: u32,
    /// The last answer and when its probe was sent [ms].
    last: Option<(u64, ShardReport)>,
}

/// The ownership state of one replica (see the module docs).
#[derive(Clone, Debug)]
pub struct Shard {
    settings: ShardSettings,
    /// Per ordinal (this replica's entry unused).
    peers: Vec<Peer>,
    nodes: BTreeMap<String, Ownership>,
    leaving: bool,
}

impl Shard {
    /// A replica that serves nothing yet, over the E2 nodes `nodes`.
    pub fn new(settings: ShardSettings, nodes: impl IntoIterator<Item = String>) -> Self {
        Self {
            settings,
            peers: vec![Peer::default(); settings.replicas as usize],
            nodes: nodes
                .into_iter()
                .map(|n| (n, Ownership::Released))
                .collect(),
            leaving: false,
        }
    }

    pub fn settings(&self) -> &ShardSettings {
        &self.settings
    }

    /// The ordinals probed: every one but this replica's.
    pub fn peer_ordinals(&self) -> impl Iterator<Item = u32> + '_ {
        let me = self.settings.ordinal;
        (0..self.settings.replicas).filter(move |&o| o != me)
    }

    fn dead(&self, ordinal: u32) -> bool {
        self.peers
            .get(ordinal as usize)
            .is_none_or(|p| p.failures >= self.settings.failure_threshold)
    }

    fn leaving_peer(&self, ordinal: u32) -> bool {
        self.peers[ordinal as usize]
            .last
            .as_ref()
            .is_some_and(|(_, r)| r.leaving)
    }

    /// The peer at `report.ordinal` answered a probe sent at `sent_ms`. The caller checked
    /// that the answer came from the ordinal it probed.
    pub fn answered(&mut self, sent_ms: u64, report: ShardReport) -> Option<PeerChange> {
        let was_dead = self.dead(report.ordinal);
        let peer = self.peers.get_mut(report.ordinal as usize)?;
        peer.failures = 0;
        peer.last = Some((sent_ms, report));
        was_dead.then_some(PeerChange::Returned)
    }

    /// A probe of the peer `ordinal` failed (no answer in time, or not a valid report).
    pub fn failed(&mut self, ordinal: u32) -> Option<PeerChange> {
        let threshold = self.settings.failure_threshold;
        let peer = self.peers.get_mut(ordinal as usize)?;
        peer.failures = peer.failures.saturating_add(1);
        (peer.failures == threshold).then_some(PeerChange::Died)
    }

    /// Ordinals counted for ownership: this replica (unless leaving) and every peer neither
    /// dead nor leaving.
    pub fn live(&self) -> Vec<u32> {
        (0..self.settings.replicas)
            .filter(|&o| {
                if o == self.settings.ordinal {
                    !self.leaving
                } else {
                    !self.dead(o) && !self.leaving_peer(o)
                }
            })
            .collect()
    }

    /// Whether no peer that is not dead might be serving `node` now: each answered a probe
    /// sent at or after `since_ms` without claiming it.
    fn cleared(&self, node: &str, since_ms: u64) -> bool {
        self.peer_ordinals().filter(|&o| !self.dead(o)).all(|o| {
            match &self.peers[o as usize].last {
                Some((at, report)) => *at >= since_ms && !report.claims(node),
                None => false,
            }
        })
    }

    /// Advances every node at `now_ms`; returns what the caller must start and stop.
    pub fn step(&mut self, now_ms: u64) -> Vec<Action> {
        let live = self.live();
        let me = self.settings.ordinal;
        let grace = self.settings.handover_grace_ms;
        let mut actions = Vec::new();
        let ids: Vec<String> = self.nodes.keys().cloned().collect();
        for id in ids {
            let mine = !self.leaving && owner(&id, live.iter().copied()) == Some(me);
            let next = match self.nodes[&id] {
                Ownership::Owned if !mine => {
                    actions.push(Action::Stop(id.clone()));
                    Ownership::Releasing
                }
                Ownership::Released if mine => Ownership::Acquiring { since_ms: now_ms },
                Ownership::Acquiring { .. } if !mine => Ownership::Released,
                Ownership::Acquiring { since_ms }
                    if now_ms.saturating_sub(since_ms) >= grace && self.cleared(&id, since_ms) =>
                {
                    actions.push(Action::Start(id.clone()));
                    Ownership::Owned
                }
                same => same,
            };
            self.nodes.insert(id, next);
        }
        actions
    }

    /// The task of `node`, told to stop, has ended: the node is no longer served here.
    pub fn stopped(&mut self, node: &str) {
        if let Some(o) = self.nodes.get_mut(node)
            && *o == Ownership::Releasing
        {
            *o = Ownership::Released;
        }
    }

    /// Shutdown: acquire nothing more and stop every node served here.
    pub fn leave(&mut self) -> Vec<Action> {
        self.leaving = true;
        self.step(0)
    }

    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// The ownership of `node`, if it is one of the shard's nodes.
    pub fn ownership(&self, node: &str) -> Option<Ownership> {
        self.nodes.get(node).copied()
    }

    fn nodes_in(&self, f: impl Fn(Ownership) -> bool) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, o)| f(**o))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// This replica's report (what peers read).
    pub fn report(&self) -> ShardReport {
        ShardReport {
            ordinal: self.settings.ordinal,
            replicas: self.settings.replicas,
            owned: self.nodes_in(|o| matches!(o, Ownership::Owned | Ownership::Releasing)),
            acquiring: self.nodes_in(|o| matches!(o, Ownership::Acquiring { .. })),
            live: self.live(),
            leaving: self.leaving,
        }
    }
}

#[cfg(test)]
mod tests;
