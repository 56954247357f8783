//! E2 node discovery at start: the transport's node list retried with backoff until the RIC
//! lists a node offering KPM. A RIC that cannot list its nodes at all (SD-RAN's current
//! onos-e2t answers `ListE2NodeConnections` with `UNIMPLEMENTED`: onos-topo does discovery
//! there) is served the configured `[[ric.nodes]]` instead, logged and counted as
//! `node_list_unimplemented`; without configured nodes it is retried, each time named. What the E2T got wrong is logged by name and counted in
//! `xapp_e2_failures_total`; entries refused (bad node ID, oversize, duplicate, undecodable
//! RAN function, past `max_e2_nodes`) in `xapp_e2_nodes_refused_total`. Shutdown ends the wait
//! with an error naming the endpoint.

use crate::config::RuntimeConfig;
use crate::e2::{Backoff, Discovery, E2Error, E2Node};
use crate::metrics::Metrics;
use crate::run::RuntimeError;
use crate::transport::{E2smCodec, RicTransport};

/// Lists the E2 nodes, retrying with backoff until at least one offers KPM. Entries the
/// E2T got wrong are counted and named; shutdown ends the wait with an error naming the
/// endpoint.
pub(crate) async fn discover(
    lister: &mut RicTransport,
    codec: &E2smCodec,
    cfg: &RuntimeConfig,
    metrics: &Metrics,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Result<Vec<E2Node>, RuntimeError> {
    let mut backoff = Backoff::new(cfg.backoff);
    let mut attempts = 0;
    let mut answered = false;
    let mut last = None;
    loop {
        attempts += 1;
        let listed = tokio::select! {
            r = lister.list_nodes(cfg.discovery_timeout, codec) => Some(r),
            _ = shutdown.as_mut() => None,
        };
        match listed {
            Some(Ok(d)) => {
                answered = true;
                metrics.health.reached();
                if let Some(nodes) = accept_discovery(d, metrics) {
                    return Ok(nodes);
                }
            }
            Some(Err(e)) if e.is_unimplemented() => {
                answered = true;
                metrics.health.reached();
                if let Some(nodes) = configured_nodes(cfg, metrics, &e) {
                    return Ok(nodes);
                }
                last = Some(e);
            }
            Some(Err(e)) => {
                Metrics::inc(&metrics.e2_failures, discovery_reason(&e));
                tracing::warn!(cause = %e, endpoint = %cfg.e2t_endpoint, "E2 node discovery failed");
                last = Some(e);
            }
            None => return Err(never_discovered(cfg, attempts, last, answered)),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.as_mut() => return Err(never_discovered(cfg, attempts, last, answered)),
        }
    }
}

/// The configured nodes, when the RIC cannot list its own (counted and logged either way).
fn configured_nodes(cfg: &RuntimeConfig, metrics: &Metrics, e: &E2Error) -> Option<Vec<E2Node>> {
    Metrics::inc(&metrics.e2_failures, "node_list_unimplemented");
    if cfg.nodes.is_empty() {
        tracing::warn!(cause = %e, endpoint = %cfg.e2t_endpoint, "E2T cannot list E2 nodes and no [[ric.nodes]] are configured");
        return None;
    }
    let cells: usize = cfg.nodes.iter().map(|n| n.cells.len()).sum();
    tracing::warn!(cause = %e, nodes = cfg.nodes.len(), cells, "E2T cannot list E2 nodes: serving the configured [[ric.nodes]]");
    Some(cfg.nodes.clone())
}

fn discovery_reason(e: &E2Error) -> &'static str {
    match e {
        E2Error::Timeout { .. } => "discovery_timeout",
        _ => "discovery_failed",
    }
}

/// The error of a run that ended before discovery found a node: unreachable when the E2T
/// never answered at all.
fn never_discovered(
    cfg: &RuntimeConfig,
    attempts: u32,
    last: Option<E2Error>,
    answered: bool,
) -> RuntimeError {
    let endpoint = cfg.e2t_endpoint.clone();
    match last {
        Some(last) if !answered => RuntimeError::E2tUnreachable {
            endpoint,
            attempts,
            last,
        },
        _ => RuntimeError::NoE2Nodes { endpoint, attempts },
    }
}

/// Counts and names what discovery skipped; the nodes, if there are any.
fn accept_discovery(d: Discovery, metrics: &Metrics) -> Option<Vec<E2Node>> {
    for s in &d.skipped {
        Metrics::inc(&metrics.nodes_refused, s.reason);
        tracing::warn!(e2_node = %s.node, reason = s.reason, detail = %s.detail, "E2 node entry skipped");
    }
    if let Some((reason, detail)) = &d.cut_short {
        Metrics::inc(&metrics.e2_failures, reason);
        tracing::warn!(reason, %detail, kept = d.nodes.len(), "E2 node list cut short; keeping the nodes read");
    }
    if d.nodes.is_empty() {
        tracing::warn!("E2T lists no E2 node offering KPM yet");
        return None;
    }
    Some(d.nodes)
}

/// The first `limit` nodes; the others are refused by name and counted.
pub(crate) fn within_node_limit(
    mut nodes: Vec<E2Node>,
    limit: usize,
    metrics: &Metrics,
) -> Vec<E2Node> {
    if nodes.len() > limit {
        for n in &nodes[limit..] {
            Metrics::inc(&metrics.nodes_refused, "node_limit");
            tracing::warn!(e2_node = %n.id, limit, "E2 node refused: over max_e2_nodes");
        }
        nodes.truncate(limit);
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> E2Node {
        E2Node {
            id: id.into(),
            cells: Vec::new(),
        }
    }

    #[test]
    fn nodes_past_the_limit_are_refused_and_counted() {
        let m = Metrics::new();
        let kept = within_node_limit(vec![node("a"), node("b"), node("c")], 2, &m);
        assert_eq!(kept, vec![node("a"), node("b")]);
        assert_eq!(Metrics::count(&m.nodes_refused, "node_limit"), 1);
        assert_eq!(within_node_limit(vec![node("a")], 2, &m).len(), 1);
    }

    #[test]
    fn a_ric_without_a_node_list_is_served_the_configured_nodes_and_counted() {
        let m = Metrics::new();
        let e = E2Error::NoNodeList { ric: "osc-rmr" };
        assert!(e.is_unimplemented());
        let mut cfg = RuntimeConfig::local("http://127.0.0.1:1");
        assert!(configured_nodes(&cfg, &m, &e).is_none());
        cfg.nodes = vec![node("gnb-1")];
        assert_eq!(configured_nodes(&cfg, &m, &e), Some(vec![node("gnb-1")]));
        assert_eq!(Metrics::count(&m.e2_failures, "node_list_unimplemented"), 2);
        let timeout = E2Error::Timeout {
            call: "ListE2NodeConnections",
            after: std::time::Duration::from_secs(1),
        };
        assert!(!timeout.is_unimplemented());
    }

    #[test]
    fn skipped_entries_are_counted_and_an_empty_list_is_not_a_discovery() {
        let m = Metrics::new();
        let d = Discovery {
            nodes: Vec::new(),
            skipped: vec![crate::e2::Skipped {
                node: "huge".into(),
                reason: "oversize_node_entry",
                detail: "16 MiB".into(),
            }],
            cut_short: Some(("node_list_unterminated", "deadline".into())),
        };
        assert!(accept_discovery(d, &m).is_none());
        assert_eq!(Metrics::count(&m.nodes_refused, "oversize_node_entry"), 1);
        assert_eq!(Metrics::count(&m.e2_failures, "node_list_unterminated"), 1);
    }
}
