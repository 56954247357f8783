//! The effective policy (the union of the active instances: they never share a slice) and
//! how it bounds one cell's quota set before the guard rails' invariants and the RAN see it.
//!
//! For each slice with a target, in this order:
//! 1. **SLA floor**: the share the slice needs to carry its throughput floor and to drain
//!    its DL buffer within its delay target, at the PRB efficiency its last report shows
//!    (`DRB.UEThpDl / RRU.PrbUsedDl`): `need = max(floor, buffer × 8 / delay_target)`
//!    [kbit/s], `share = ⌈100 × need / efficiency / RRU.PrbAvailDl⌉`, capped by the maximum
//!    share. No floor when the report cannot tell (no PRBs used, no throughput, no cell
//!    size): an idle slice's efficiency is unknown.
//! 2. **Clamp**: `min_ratio` into `[max(min share, SLA floor), max share]`, `max_ratio` into
//!    `[min_ratio, max share]`, `dedicated_ratio ≤ min_ratio`.
//! 3. **Give-back**: when the cell's minimums then sum past 100, the excess is taken back
//!    from the slices of lowest utility weight first (slices without a target weigh 1),
//!    never below a slice's minimum share; the minimum shares sum to at most 100, so this
//!    always succeeds.
//!
//! A cell none of whose slices has a target is left untouched.

use super::instance::{PolicyInstance, SliceTarget};
use crate::ids::Snssai;
use crate::policy::SliceQuota;
use crate::trial::utility::UtilityWeights;

/// What a slice's last report says about its load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceLoad {
    /// `DRB.UEThpDl` [kbit/s].
    pub thp_kbps: f32,
    /// `RRU.PrbUsedDl` [PRB].
    pub prb_used: f32,
    /// `VS.DlBufferBytes` [byte] (NaN when not reported).
    pub buffer_bytes: f32,
}

/// Which bounds changed a quota set (labels of `xapp_a1_bounded_total{bound}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounded {
    /// A maximum ratio was capped at its slice's maximum share.
    pub max_share: bool,
    /// A minimum ratio was raised to its slice's minimum share.
    pub min_share: bool,
    /// A minimum ratio was raised to its slice's SLA floor.
    pub sla_floor: bool,
    /// Minimum share was taken back from low-weight slices to keep Σ min ≤ 100.
    pub give_back: bool,
}

impl Bounded {
    pub const LABELS: [&'static str; 4] = ["max_share", "min_share", "sla_floor", "give_back"];

    /// The labels of the bounds that applied.
    pub fn labels(self) -> impl Iterator<Item = &'static str> {
        [
            self.max_share,
            self.min_share,
            self.sla_floor,
            self.give_back,
        ]
        .into_iter()
        .zip(Self::LABELS)
        .filter_map(|(on, l)| on.then_some(l))
    }
}

/// The merge of the active instances, as one decision reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EffectivePolicy {
    generation: u64,
    /// Every target, by S-NSSAI.
    targets: Vec<SliceTarget>,
    /// The active instances' IDs, sorted.
    instances: Vec<String>,
}

/// The share `t` needs under `load` on a cell of `prb_avail` PRBs, if the report tells.
pub fn sla_share_pct(t: &SliceTarget, load: &SliceLoad, prb_avail: f32) -> Option<u8> {
    let usable = |x: f32| x.is_finite() && x > 0.0;
    if !(usable(load.thp_kbps) && load.prb_used >= 0.5 && usable(prb_avail)) {
        return None;
    }
    let per_prb_kbps = f64::from(load.thp_kbps) / f64::from(load.prb_used);
    let mut need_kbps = t.throughput_floor_mbps.unwrap_or(0.0) * 1000.0;
    if let Some(d) = t.delay_target_ms
        && usable(load.buffer_bytes)
    {
        // bits per ms are kbit/s.
        need_kbps = need_kbps.max(f64::from(load.buffer_bytes) * 8.0 / d);
    }
    if need_kbps <= 0.0 {
        return None;
    }
    let share = (100.0 * need_kbps / per_prb_kbps / f64::from(prb_avail)).ceil();
    Some(share.clamp(0.0, 100.0) as u8)
}

impl EffectivePolicy {
    /// The merge of `instances` (slices disjoint, as [`super::A1Policies`] keeps them).
    pub fn new<'a>(generation: u64, instances: impl Iterator<Item = &'a PolicyInstance>) -> Self {
        let mut p = Self {
            generation,
            ..Self::default()
        };
        for i in instances {
            p.instances.push(i.id.clone());
            p.targets.extend(i.slices.iter().copied());
        }
        p.instances.sort();
        p.targets.sort_by_key(|t| t.snssai);
        p
    }

    /// Bumped by every change of the active instances.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// True when no instance is active.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
    }

    /// The active instances' IDs, sorted.
    pub fn instances(&self) -> &[String] {
        &self.instances
    }

    /// The target of slice `s`, if an instance names it.
    pub fn target(&self, s: Snssai) -> Option<&SliceTarget> {
        self.targets
            .binary_search_by_key(&s, |t| t.snssai)
            .ok()
            .map(|i| &self.targets[i])
    }

    /// Bounds one cell's `quotas` (ratios each within 0..=100, as the policies produce
    /// them); `loads` holds the last report of the cell's slices, `prb_avail` the cell's DL
    /// PRBs. Returns which bounds applied.
    pub fn bound(
        &self,
        quotas: &mut [SliceQuota],
        loads: &[(Snssai, SliceLoad)],
        prb_avail: Option<f32>,
    ) -> Bounded {
        let mut b = Bounded::default();
        let mut hard = vec![0u8; quotas.len()];
        let mut weight = vec![1.0f64; quotas.len()];
        let mut any = false;
        for (i, q) in quotas.iter_mut().enumerate() {
            let Some(t) = self.target(q.snssai) else {
                continue;
            };
            any = true;
            (hard[i], weight[i]) = (t.min_share_pct, t.utility_weight);
            let load = loads.iter().find(|(s, _)| *s == q.snssai).map(|(_, l)| *l);
            let sla = load
                .zip(prb_avail)
                .and_then(|(l, p)| sla_share_pct(t, &l, p))
                .unwrap_or(0)
                .min(t.max_share_pct);
            let (lo, hi) = (t.min_share_pct.max(sla), t.max_share_pct);
            b.max_share |= q.max_ratio > hi;
            b.min_share |= q.min_ratio < t.min_share_pct;
            b.sla_floor |= q.min_ratio >= t.min_share_pct && q.min_ratio < lo;
            q.min_ratio = q.min_ratio.clamp(lo, hi);
            q.max_ratio = q.max_ratio.clamp(q.min_ratio, hi);
            q.dedicated_ratio = q.dedicated_ratio.min(q.min_ratio);
        }
        if any {
            b.give_back = give_back(quotas, &hard, &weight);
        }
        b
    }

    /// Whether `quotas` (what a cell was last sent) keep every share bound of this policy:
    /// a cell whose last quota breaks the policy in force must not wait for the hysteresis.
    pub fn admits(&self, quotas: &[SliceQuota]) -> bool {
        quotas.iter().all(|q| {
            self.target(q.snssai)
                .is_none_or(|t| q.min_ratio >= t.min_share_pct && q.max_ratio <= t.max_share_pct)
        })
    }

    /// The slice utility's weights under this policy: per service (eMBB: SST 1 and any SST
    /// not listed, URLLC: 2, mMTC: 3) the mean utility weight of the targets of that
    /// service, else `base`'s; the SLA penalty stays `base`'s.
    pub fn utility_weights(&self, base: UtilityWeights) -> UtilityWeights {
        let mean = |service: fn(u8) -> bool, fallback: f64| {
            let ws: Vec<f64> = self
                .targets
                .iter()
                .filter(|t| service(t.snssai.sst))
                .map(|t| t.utility_weight)
                .collect();
            if ws.is_empty() {
                fallback
            } else {
                ws.iter().sum::<f64>() / ws.len() as f64
            }
        };
        UtilityWeights {
            embb: mean(|s| s != 2 && s != 3, base.embb),
            urllc: mean(|s| s == 2, base.urllc),
            mmtc: mean(|s| s == 3, base.mmtc),
            sla_penalty: base.sla_penalty,
        }
    }
}

/// Takes Σ min − 100 back from the lowest-weight slices first, never below `hard`.
fn give_back(quotas: &mut [SliceQuota], hard: &[u8], weight: &[f64]) -> bool {
    let sum: u32 = quotas.iter().map(|q| u32::from(q.min_ratio)).sum();
    let Some(mut excess) = sum.checked_sub(100).filter(|e| *e > 0) else {
        return false;
    };
    let mut order: Vec<usize> = (0..quotas.len()).collect();
    order.sort_by(|a, b| weight[*a].total_cmp(&weight[*b]).then(a.cmp(b)));
    for i in order {
        let q = &mut quotas[i];
        let room = u32::from(q.min_ratio.saturating_sub(hard[i]));
        let take = room.min(excess);
        q.min_ratio -= take as u8;
        q.dedicated_ratio = q.dedicated_ratio.min(q.min_ratio);
        excess -= take;
        if excess == 0 {
            break;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::a1::A1Policies;
    use crate::a1::request::{Operation, PolicyRequest};
    use crate::guard;

    fn policy(payload: serde_json::Value) -> EffectivePolicy {
        let req = PolicyRequest {
            operation: Operation::Create,
            policy_type_id: 21010,
            instance_id: "p".into(),
            payload,
        };
        A1Policies::new(21010).plan(&req).unwrap().0.effective()
    }

    fn q(sst: u8, min: u8, max: u8, ded: u8) -> SliceQuota {
        SliceQuota {
            snssai: Snssai::new(sst, None),
            min_ratio: min,
            max_ratio: max,
            dedicated_ratio: ded,
        }
    }

    #[test]
    fn shares_clamp_min_max_and_dedicated() {
        let p = policy(serde_json::json!({"slices": [
            {"sst": 1, "max_prb_share_pct": 8},
            {"sst": 2, "min_prb_share_pct": 30, "max_prb_share_pct": 50}]}));
        let mut qs = vec![q(1, 20, 60, 10), q(2, 5, 90, 2), q(3, 40, 70, 20)];
        let b = p.bound(&mut qs, &[], None);
        assert_eq!(qs, vec![q(1, 8, 8, 8), q(2, 30, 50, 2), q(3, 40, 70, 20)]);
        assert!(b.max_share && b.min_share && !b.sla_floor && !b.give_back);
        assert_eq!(b.labels().collect::<Vec<_>>(), ["max_share", "min_share"]);
        assert!(p.admits(&qs));
        assert!(!p.admits(&[q(1, 0, 9, 0)]) && !p.admits(&[q(2, 29, 40, 0)]));
        guard::validate(&qs.iter().map(SliceQuota::wire).collect::<Vec<_>>()).unwrap();
        // A cell without any targeted slice is untouched, even with Σ min above 100.
        let mut other = vec![q(4, 70, 80, 0), q(5, 60, 90, 0)];
        assert_eq!(p.bound(&mut other, &[], None), Bounded::default());
        assert_eq!(other, vec![q(4, 70, 80, 0), q(5, 60, 90, 0)]);
    }

    #[test]
    fn minimums_competing_give_back_by_weight_never_below_the_floor() {
        let p = policy(serde_json::json!({"slices": [
            {"sst": 1, "min_prb_share_pct": 50, "utility_weight": 5},
            {"sst": 2, "min_prb_share_pct": 10, "utility_weight": 0.5}]}));
        // Model minimums 60 + 40 + 30 = 130: 30 goes back, the URLLC slice (weight 0.5)
        // first down to its floor 10, then the unlisted slice (weight 1).
        let mut qs = vec![q(1, 60, 90, 30), q(2, 40, 60, 20), q(3, 30, 50, 15)];
        let b = p.bound(&mut qs, &[], None);
        assert!(b.give_back);
        assert_eq!(
            qs,
            vec![q(1, 60, 90, 30), q(2, 10, 60, 10), q(3, 30, 50, 15)]
        );
        let mut qs = vec![q(1, 90, 95, 0), q(2, 40, 60, 0), q(3, 30, 50, 0)];
        p.bound(&mut qs, &[], None);
        assert_eq!(
            qs.iter().map(|q| q.min_ratio).collect::<Vec<_>>(),
            [90, 10, 0]
        );
    }

    #[test]
    fn sla_floors_follow_the_reported_efficiency() {
        let p = policy(serde_json::json!({"slices": [
            {"sst": 1, "throughput_floor_mbps": 20, "max_prb_share_pct": 60},
            {"sst": 2, "delay_target_ms": 50}]}));
        let t1 = *p.target(Snssai::new(1, None)).unwrap();
        // 10 Mbit/s on 10 PRBs = 1 Mbit/s per PRB; 20 Mbit/s needs 20 of 50 PRBs = 40 %.
        let busy = SliceLoad {
            thp_kbps: 10_000.0,
            prb_used: 10.0,
            buffer_bytes: f32::NAN,
        };
        assert_eq!(sla_share_pct(&t1, &busy, 50.0), Some(40));
        let idle = SliceLoad {
            thp_kbps: 0.0,
            prb_used: 0.0,
            buffer_bytes: 0.0,
        };
        assert_eq!(sla_share_pct(&t1, &idle, 50.0), None);
        // 62 500 bytes in 50 ms = 10 Mbit/s at 0.5 Mbit/s per PRB: 20 PRBs of 50 = 40 %.
        let queued = SliceLoad {
            thp_kbps: 5_000.0,
            prb_used: 10.0,
            buffer_bytes: 62_500.0,
        };
        let t2 = *p.target(Snssai::new(2, None)).unwrap();
        assert_eq!(sla_share_pct(&t2, &queued, 50.0), Some(40));
        let mut qs = vec![q(1, 10, 30, 5), q(2, 10, 30, 5)];
        let b = p.bound(
            &mut qs,
            &[(Snssai::new(2, None), queued), (Snssai::new(1, None), busy)],
            Some(50.0),
        );
        assert!(b.sla_floor && !b.min_share);
        assert_eq!(qs, vec![q(1, 40, 40, 5), q(2, 40, 40, 5)]);
        // The floor never passes the maximum share: 200 Mbit/s would need 400 %.
        let mut t = t1;
        t.throughput_floor_mbps = Some(200.0);
        let p2 = EffectivePolicy {
            targets: vec![t],
            instances: vec!["x".into()],
            generation: 1,
        };
        let mut one = vec![q(1, 10, 30, 5)];
        p2.bound(&mut one, &[(Snssai::new(1, None), busy)], Some(50.0));
        assert_eq!(one, vec![q(1, 60, 60, 5)]);
    }

    #[test]
    fn utility_weights_follow_the_targets_per_service() {
        let p = policy(serde_json::json!({"slices": [
            {"sst": 1, "sd": "000001", "utility_weight": 2},
            {"sst": 1, "sd": "000002", "utility_weight": 4},
            {"sst": 2, "utility_weight": 3}]}));
        let w = p.utility_weights(UtilityWeights::default());
        assert_eq!(
            (w.embb, w.urllc, w.mmtc, w.sla_penalty),
            (3.0, 3.0, 1.0, 0.5)
        );
        assert_eq!(p.instances(), ["p"]);
        assert!(EffectivePolicy::default().is_empty());
    }
}
