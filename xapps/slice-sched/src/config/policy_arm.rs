//! Checks of the arms served by a slice-policy model (contract `kind = "slice_policy"`),
//! made before anything starts: a forecaster-only option on a policy arm, and configured
//! cells carrying a slice the policy was not trained to allocate, are problems naming
//! their key. A contract that cannot be read is not reported here: loading the model
//! reports it (exit 78).

use std::path::Path;

use nf_infer::ModelConfig;
use nf_infer::contract::{Contract, ModelKind};
use nf_runtime::e2::E2Node;
use nf_runtime::trial::{ArmPolicy, ArmSpec};

use super::Problems;

/// The contract at `path` when it is a slice policy's.
pub fn policy_contract(path: &Path) -> Option<Contract> {
    Contract::load(path)
        .ok()
        .filter(|c| c.kind == ModelKind::SlicePolicy)
}

/// The rule a forecaster-only option breaks on the arm of `contract` (a slice policy).
pub fn forecaster_only(option: &str, contract: &Contract, path: &Path) -> String {
    format!(
        "{option} applies to forecaster arms only: {} ({}) is a slice policy whose outputs are the quotas; remove it",
        contract.name,
        path.display()
    )
}

/// Configured cells whose slices a policy of `arms` does not list (each slice a problem).
pub fn check_cells(arms: &[&ArmSpec], models: &[ModelConfig], nodes: &[E2Node], p: &mut Problems) {
    let mut seen = Vec::new();
    for arm in arms {
        let ArmPolicy::Model(i) = arm.policy else {
            continue;
        };
        if seen.contains(&i) {
            continue;
        }
        seen.push(i);
        let Some(m) = models.get(i) else { continue };
        let Some(c) = policy_contract(&m.contract) else {
            continue;
        };
        let listed: Vec<String> = c.slices.iter().map(ToString::to_string).collect();
        for (n, node) in nodes.iter().enumerate() {
            for (j, cell) in node.cells.iter().enumerate() {
                for (k, s) in cell.slices.iter().enumerate() {
                    p.rule(
                        c.slices.contains(s),
                        format!("ric.nodes[{n}].cells[{j}].slices[{k}]"),
                        format!("{:?}", s.to_string()),
                        format!(
                            "is not a slice of the slice policy {} of arm {} (slices {}): the arm would refuse the cell (slice_not_in_contract); serve it with another arm or a policy trained for the slice",
                            c.name,
                            arm.name,
                            listed.join(", ")
                        ),
                    );
                }
            }
        }
    }
}
