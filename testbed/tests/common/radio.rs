//! The interference xApp's test set-up: the simulator's radio mode and the shipped config.

use std::path::Path;

use testbed::radio::{RadioTwin, TwinConfig};
use testbed::sim::{RunningSim, Sim, SimConfig};

use super::xapp_proc::{repo, ric_nodes};

/// The radio-mode simulator: 2 nodes, 4 cells, 8 UEs a cell driven by the held-out ucc5g
/// recordings (the model never saw them), at `speed`× real time, no node list (as
/// onos-e2t). `None` (said on stderr) without `../shared/traces/ucc5g`.
pub async fn radio_sim_with(seed: u64, speed: f64) -> Option<RunningSim> {
    radio_sim_of(seed, speed, 2).await
}

/// [`radio_sim_with`] with `nodes` E2 nodes.
pub async fn radio_sim_of(seed: u64, speed: f64, nodes: usize) -> Option<RunningSim> {
    let Some(root) = testbed::radio::trace::shared_root() else {
        eprintln!("../shared/traces/ucc5g not found: interference loop tests skipped");
        return None;
    };
    let mut recs = testbed::radio::trace::read_all(&root).unwrap();
    recs.retain(|r| testbed::radio::trace::is_test_recording(&r.name));
    let twin = RadioTwin::new(
        &recs,
        &TwinConfig {
            seed,
            ..TwinConfig::default()
        },
    );
    let sim = Sim::new_radio(
        SimConfig {
            nodes,
            speed,
            list_nodes: false,
            rc_profile: e2_asn1::rc::RcProfile::Oran,
            ..SimConfig::default()
        },
        twin,
    );
    Some(RunningSim::bind(sim, 0).await.unwrap())
}

/// The shipped interference config, model contract `contract` (absolute), the simulator's
/// nodes.
pub fn interference_config(sim: &RunningSim, contract: &Path) -> String {
    let shipped =
        std::fs::read_to_string(repo().join("xapps/interference/config/interference.toml"))
            .unwrap();
    let text = shipped.replace(
        "\"../../../models/interference/interference.contract.toml\"",
        &format!("{:?}", contract.display().to_string()),
    );
    assert_ne!(
        text, shipped,
        "the shipped config names the shipped contract"
    );
    // The shipped nodes (e2sim's default radio layout) give way to this simulator's.
    let start = text.find("# The E2 nodes and cells to serve").unwrap();
    let end = text.find("\n[model]").unwrap();
    format!("{}{}{}", &text[..start], &text[end..], ric_nodes(sim))
}
