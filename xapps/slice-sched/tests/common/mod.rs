//! Set-ups the O-RAN SC path tests share (`osc_path.rs`, `a1_policy.rs`): the shipped
//! forecaster, RMR route files, the `osc-rmr` + `asn1-per` runtime config with test-speed
//! guard rails, and the simulator's O-RAN SC face as the xApp's node list.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use e2_asn1::kpm::KpmVersion;
use e2_asn1::rc::RcProfile;
use nf_runtime::RuntimeConfig;
use nf_runtime::e2::E2Node;
use nf_runtime::transport::osc::OscNode;
use nf_runtime::transport::{TransportKind, WireEncoding};
use testbed::sim::{Sim, SimConfig, osc as simosc};
use testbed::trace::{bundled_root, read_cells};

pub use testbed::shipped::forecaster;

/// A fresh folder `<prefix>-<name>-<pid>` under the temp dir.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A static RMR route table in `dir/name`: message type → endpoint.
pub fn route_file(dir: &Path, name: &str, routes: &[(i32, SocketAddr)]) -> PathBuf {
    let routes: Vec<(i32, String)> = routes.iter().map(|(m, to)| (*m, to.to_string())).collect();
    testbed::osc::write_route_table(dir, name, &routes).expect("route file")
}

pub use testbed::poll::wait_for;

/// The runtime on the O-RAN SC path (`osc-rmr`, APER, srsRAN RC profile) with the guard
/// rails a test run needs (1 s budget, 20–200 ms backoff, 50 controls per cell and second,
/// 2 s control timeout, 5 s staleness and discovery) and metrics on `http_port`, which is
/// also the Subscription Manager's callback port. The caller sets `nodes` and `osc`.
pub fn osc_config(http_port: u16) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::local("http://unused.invalid:1");
    cfg.transport = TransportKind::OscRmr;
    cfg.encoding = WireEncoding::Asn1Per;
    cfg.rc_profile = RcProfile::Srsran;
    cfg.budget = nf_core::latency::Budget::from_ms(1000.0);
    cfg.backoff.initial = Duration::from_millis(20);
    cfg.backoff.max = Duration::from_millis(200);
    cfg.stale_after_ms = 5_000;
    cfg.guard.max_controls_per_cell_per_sec = 50;
    cfg.control_timeout = Duration::from_secs(2);
    cfg.discovery_timeout = Duration::from_secs(5);
    cfg.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], http_port)));
    cfg
}

/// The simulator replaying the bundled trace as `nodes` nodes of 2 cells at 2.5× speed.
pub fn bundled_sim(nodes: usize) -> Arc<Sim> {
    let traces = read_cells(&bundled_root()).expect("bundled traces");
    Sim::new(
        SimConfig {
            nodes,
            cells_per_node: 2,
            speed: 2.5,
            ..SimConfig::default()
        },
        traces,
    )
}

/// The simulator's nodes as the xApp's E2 nodes (named as its O-RAN SC face names them).
pub fn sim_e2_nodes(sim: &Sim) -> Vec<E2Node> {
    sim.nodes
        .iter()
        .enumerate()
        .map(|(n, node)| E2Node {
            id: simosc::ran_name(n),
            cells: node.cells.iter().map(|c| c.info.clone()).collect(),
        })
        .collect()
}

/// The simulator's nodes as `[[ric.osc.nodes]]`; `kpm_version: None` learns it from the
/// E2 manager.
pub fn sim_osc_nodes(sim: &Sim, kpm_version: Option<KpmVersion>) -> Vec<OscNode> {
    (0..sim.nodes.len())
        .map(|n| OscNode {
            meid: simosc::ran_name(n),
            kpm_function_id: simosc::KPM_RAN_FUNCTION_ID,
            rc_function_id: simosc::RC_RAN_FUNCTION_ID,
            kpm_version,
            rc_profile: None,
        })
        .collect()
}
