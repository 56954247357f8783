//! `[shard]`: the xApp as several StatefulSet replicas, each serving its share of the E2
//! nodes (both xApps; `nf_runtime::shard`, `docs/operations.md` "Sharding over replicas").
//!
//! `replicas = 1` (the default) is one replica serving every node: no key below is read,
//! nothing is probed. With more, this replica's ordinal is `ordinal`, else the `-N` suffix
//! of `POD_NAME` (the downward API) or of `HOSTNAME` (a StatefulSet pod's name); peers are
//! found by `peer_url` (a template with `{ordinal}`) or `peers` (one URL per ordinal).
//! `{ordinal}` in `e2t.app_instance_id` and `ric.osc.callback_host` becomes the ordinal, so
//! one ConfigMap serves every replica; with `replicas > 1` the instance ID must contain it,
//! or the replicas would be one E2 app instance to the RIC.

use nf_runtime::shard::ShardConfig;
use serde::Deserialize;

use super::bounds as b;
use super::endpoint_problem;
use super::problems::Problems;

/// The placeholder replaced by the replica's ordinal.
pub const ORDINAL: &str = "{ordinal}";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardSection {
    /// Ordinals probed, `0..replicas` (the StatefulSet's replicas, or more to scale up to
    /// without a restart); 1: not sharded.
    #[serde(default = "one")]
    pub replicas: u64,
    /// This replica's ordinal (default: from `POD_NAME` / `HOSTNAME`).
    pub ordinal: Option<u64>,
    /// Each peer's HTTP endpoint, `{ordinal}` replaced, e.g.
    /// `http://slice-xapp-{ordinal}.slice-xapp-headless:9464`.
    pub peer_url: Option<String>,
    /// Or one URL per ordinal, in ordinal order.
    pub peers: Option<Vec<String>>,
    /// Every peer is probed this often; also the probe's timeout [ms].
    #[serde(default = "default_probe_interval_ms")]
    pub probe_interval_ms: u64,
    /// Failed probes in a row before a peer is dead and its nodes move.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u64,
    /// Least wait before a node is started here [ms].
    #[serde(default = "default_handover_grace_ms")]
    pub handover_grace_ms: u64,
    /// Where `replicas` came from when not the file (`--shard-replicas`), for messages.
    #[serde(skip)]
    pub replicas_from: Option<&'static str>,
}

impl Default for ShardSection {
    fn default() -> Self {
        Self {
            replicas: one(),
            ordinal: None,
            peer_url: None,
            peers: None,
            probe_interval_ms: default_probe_interval_ms(),
            failure_threshold: default_failure_threshold(),
            handover_grace_ms: default_handover_grace_ms(),
            replicas_from: None,
        }
    }
}

fn one() -> u64 {
    1
}
fn default_probe_interval_ms() -> u64 {
    1000
}
fn default_failure_threshold() -> u64 {
    3
}
fn default_handover_grace_ms() -> u64 {
    2000
}

/// The ordinal a StatefulSet pod name ends with (`slice-xapp-2` → 2).
pub fn ordinal_of(pod_name: &str) -> Option<u64> {
    let (_, n) = pod_name.trim().rsplit_once('-')?;
    (!n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

/// `POD_NAME`, else `HOSTNAME`, with the variable's name.
fn pod_name() -> Option<(&'static str, String)> {
    ["POD_NAME", "HOSTNAME"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().map(|n| (v, n)))
}

/// `[shard]` checked: this replica's ordinal (0 when not sharded and none is given) and the
/// runtime's sharding (`None` for one replica).
#[derive(Debug)]
pub struct Checked {
    pub ordinal: u64,
    pub shard: Option<ShardConfig>,
}

impl Checked {
    /// Puts the ordinal into `e2t.app_instance_id`, `ric.osc.callback_host` and
    /// `a1.handler_id` (where written as `{ordinal}`: each replica is its own E2 app
    /// instance and answers A1 under its own name) and the sharding into `runtime`.
    pub fn apply(self, runtime: &mut nf_runtime::RuntimeConfig) {
        let n = self.ordinal.to_string();
        runtime.app_instance_id = runtime.app_instance_id.replace(ORDINAL, &n);
        runtime.osc.callback_host = runtime.osc.callback_host.replace(ORDINAL, &n);
        if let Some(a1) = &mut runtime.a1 {
            a1.handler_id = a1.handler_id.replace(ORDINAL, &n);
        }
        runtime.shard = self.shard;
    }
}

impl ShardSection {
    /// Replaces the file's `replicas` (`--shard-replicas`); problems then name `from`.
    pub fn override_replicas(&mut self, replicas: u64, from: &'static str) {
        self.replicas = replicas;
        self.replicas_from = Some(from);
    }

    fn replicas_key(&self) -> String {
        match self.replicas_from {
            Some(from) => format!("shard.replicas (from {from})"),
            None => "shard.replicas".to_owned(),
        }
    }

    /// Checks the section; `listen` is `metrics.listen` (peers read the report there) and
    /// `instance_id` is `e2t.app_instance_id` as written.
    pub fn check(
        &self,
        listen: Option<std::net::SocketAddr>,
        instance_id: &str,
        p: &mut Problems,
    ) -> Checked {
        let replicas_ok = p.int_at(&b::SHARD_REPLICAS, self.replicas_key(), self.replicas);
        if !replicas_ok || self.replicas == 1 {
            if let Some(o) = self.ordinal {
                p.int(&b::SHARD_ORDINAL, o);
            }
            return Checked {
                ordinal: self.ordinal.unwrap_or(0),
                shard: None,
            };
        }
        let ordinal = self.ordinal(p);
        p.int(&b::SHARD_PROBE_INTERVAL_MS, self.probe_interval_ms);
        p.int(&b::SHARD_FAILURE_THRESHOLD, self.failure_threshold);
        p.int(&b::SHARD_HANDOVER_GRACE_MS, self.handover_grace_ms);
        let rule =
            "is required with shard.replicas > 1: peers read this replica's /ric/v1/shard there";
        p.rule(listen.is_some(), "metrics.listen", "none", rule);
        p.rule(
            instance_id.contains(ORDINAL),
            "e2t.app_instance_id",
            format!("{instance_id:?}"),
            "must contain {ordinal} with shard.replicas > 1 (each replica is its own E2 app instance)",
        );
        let peers = self.peers(p);
        if let Some(l) = listen.filter(|l| l.ip().is_loopback())
            && let Some(far) = peers.iter().find(|a| !is_loopback_host(a))
        {
            // Peers that cannot read the report would take this replica for dead while it
            // serves its nodes: both would control them.
            let rule = format!(
                "is a loopback address, which peer {far} cannot reach: listen where the peers can (e.g. 0.0.0.0:9464)"
            );
            p.rule(false, "metrics.listen", l, rule);
        }
        let shard = ordinal.map(|ordinal| ShardConfig {
            ordinal: ordinal as u32,
            replicas: self.replicas as u32,
            peers,
            probe_interval: std::time::Duration::from_millis(self.probe_interval_ms),
            failure_threshold: u32::try_from(self.failure_threshold).unwrap_or(u32::MAX),
            handover_grace: std::time::Duration::from_millis(self.handover_grace_ms),
        });
        Checked {
            ordinal: ordinal.unwrap_or(0),
            shard,
        }
    }

    /// The ordinal: the key, else the pod name's suffix; checked against `replicas`.
    fn ordinal(&self, p: &mut Problems) -> Option<u64> {
        let (ordinal, source) = match self.ordinal {
            Some(o) => (o, "shard.ordinal".to_owned()),
            None => match pod_name() {
                Some((var, name)) => match ordinal_of(&name) {
                    Some(o) => (o, format!("shard.ordinal (from {var} = {name:?})")),
                    None => {
                        let rule = format!(
                            "not set, and {var} = {name:?} does not end in -N (a StatefulSet pod name): set shard.ordinal or POD_NAME"
                        );
                        p.rule(false, "shard.ordinal", "none", rule);
                        return None;
                    }
                },
                None => {
                    let rule = "not set, and neither POD_NAME nor HOSTNAME is: set shard.ordinal, or POD_NAME through the downward API";
                    p.rule(false, "shard.ordinal", "none", rule);
                    return None;
                }
            },
        };
        let ok = ordinal < self.replicas;
        let rule = format!("must be below shard.replicas ({})", self.replicas);
        p.rule(ok, source, ordinal, rule);
        ok.then_some(ordinal)
    }

    /// `host:port` of every ordinal, from `peer_url` or `peers` (exactly one of them).
    fn peers(&self, p: &mut Problems) -> Vec<String> {
        let urls: Vec<(String, String)> = match (&self.peer_url, &self.peers) {
            (Some(t), None) => {
                if !t.contains(ORDINAL) {
                    let rule = "must contain {ordinal} (replaced by each replica's ordinal)";
                    p.rule(false, "shard.peer_url", format!("{t:?}"), rule);
                    return Vec::new();
                }
                (0..self.replicas)
                    .map(|o| {
                        (
                            "shard.peer_url".to_owned(),
                            t.replace(ORDINAL, &o.to_string()),
                        )
                    })
                    .collect()
            }
            (None, Some(list)) => {
                let ok = list.len() as u64 == self.replicas;
                let rule = format!("must list one URL per ordinal ({})", self.replicas);
                p.rule(ok, "shard.peers", format!("{} URLs", list.len()), rule);
                list.iter()
                    .enumerate()
                    .map(|(i, u)| (format!("shard.peers[{i}]"), u.clone()))
                    .collect()
            }
            (Some(_), Some(_)) => {
                let rule = "give peer_url or peers, not both";
                p.rule(false, "shard.peers", "present", rule);
                return Vec::new();
            }
            (None, None) => {
                let rule = "is required with shard.replicas > 1 (or shard.peers): e.g. \"http://slice-xapp-{ordinal}.slice-xapp-headless:9464\"";
                p.rule(false, "shard.peer_url", "none", rule);
                return Vec::new();
            }
        };
        urls.into_iter()
            .map(|(key, url)| {
                if let Some(rule) = endpoint_problem(&url) {
                    p.rule(false, key, format!("{url:?}"), rule);
                }
                authority(&url)
            })
            .collect()
    }
}

/// Whether the host of `authority` (`host:port`) is this machine's loopback.
fn is_loopback_host(authority: &str) -> bool {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_matches(['[', ']']);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `host:port` of a checked `http://host:port` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, listening: bool, instance: &str) -> (Checked, Problems) {
        let listen = listening.then(|| "0.0.0.0:9464".parse().unwrap());
        let s: ShardSection = toml::from_str(text).unwrap();
        let mut p = Problems::default();
        let c = s.check(listen, instance, &mut p);
        (c, p)
    }

    #[test]
    fn one_replica_is_not_sharded() {
        let (c, p) = check("", false, "x");
        assert!(p.is_empty() && c.shard.is_none() && c.ordinal == 0);
        let (c, p) = check("ordinal = 0\npeer_url = \"junk\"", false, "x");
        assert!(p.is_empty() && c.shard.is_none());
    }

    #[test]
    fn pod_names_give_ordinals() {
        assert_eq!(ordinal_of("slice-xapp-2"), Some(2));
        assert_eq!(ordinal_of("slice-xapp-12\n"), Some(12));
        for bad in ["slice-xapp", "slice-xapp-", "slice-xapp-x1", "7", "x-+1"] {
            assert_eq!(ordinal_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_sharded_replica_finds_its_peers() {
        let text = "replicas = 3\nordinal = 1\npeer_url = \"http://x-{ordinal}.h:9464\"\nprobe_interval_ms = 200\nhandover_grace_ms = 0";
        let (c, p) = check(text, true, "x-{ordinal}");
        assert!(p.is_empty(), "{p}");
        let s = c.shard.unwrap();
        assert_eq!(s.ordinal, 1);
        assert_eq!(s.peers, ["x-0.h:9464", "x-1.h:9464", "x-2.h:9464"]);
        assert_eq!(s.probe_interval.as_millis(), 200);
        assert_eq!(s.failure_threshold, 3);
        let list =
            "replicas = 2\nordinal = 0\npeers = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\"]";
        let (c, p) = check(list, true, "x-{ordinal}");
        assert!(p.is_empty(), "{p}");
        assert_eq!(c.shard.unwrap().peers, ["127.0.0.1:1", "127.0.0.1:2"]);
    }

    #[test]
    fn every_sharding_problem_is_named() {
        let text = "replicas = 3\nordinal = 3\npeers = [\"https://a:1\"]\nprobe_interval_ms = 1\nfailure_threshold = 0";
        let (c, p) = check(text, false, "fixed");
        assert!(c.shard.is_none());
        let keys: Vec<&str> = p.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "shard.ordinal",
                "shard.probe_interval_ms",
                "shard.failure_threshold",
                "metrics.listen",
                "e2t.app_instance_id",
                "shard.peers",
                "shard.peers[0]",
            ],
            "{p}"
        );
        let (_, p) = check("replicas = 300", true, "x");
        assert_eq!(p.iter().next().unwrap().key, "shard.replicas");
        let (_, p) = check(
            "replicas = 2\nordinal = 0\npeer_url = \"http://a:1\"",
            true,
            "x-{ordinal}",
        );
        assert_eq!(p.iter().next().unwrap().key, "shard.peer_url");
    }

    #[test]
    fn a_loopback_listener_is_refused_when_peers_are_elsewhere() {
        let s: ShardSection =
            toml::from_str("replicas = 2\nordinal = 0\npeer_url = \"http://x-{ordinal}.h:9464\"")
                .unwrap();
        let mut p = Problems::default();
        s.check(
            Some("127.0.0.1:9464".parse().unwrap()),
            "x-{ordinal}",
            &mut p,
        );
        assert_eq!(p.iter().next().unwrap().key, "metrics.listen", "{p}");
        let local: ShardSection = toml::from_str(
            "replicas = 2\nordinal = 0\npeers = [\"http://127.0.0.1:1\", \"http://localhost:2\"]",
        )
        .unwrap();
        let mut p = Problems::default();
        local.check(
            Some("127.0.0.1:9464".parse().unwrap()),
            "x-{ordinal}",
            &mut p,
        );
        assert!(p.is_empty(), "{p}");
    }
}
