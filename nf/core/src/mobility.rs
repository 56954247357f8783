//! Handover decisions of the interference xApp: when a UE the model calls
//! interference-limited is handed over to a better neighbour (E2SM-RC report style 3,
//! action 1), and when the dominant interferer of a cell is asked to cap its PRB use.
//!
//! # The handover rule
//! Per UE, one [`Assessment`] per report period goes through [`MobilityGuard::consider`],
//! which answers with a [`HandoverOrder`] or the reason it held ([`Held`]). An order needs
//! all of, checked in this order:
//! 1. the model says the UE is interference-limited: `p_limited ≥ min_p_limited` **and**
//!    `loss_db ≥ min_loss_db` ([`Held::NotLimited`]);
//! 2. an A3-like entering condition on the strongest reported neighbour (TS 38.331
//!    5.5.4.4 with offsets folded into one): `nbr_rsrp > rsrp + a3_offset_db + hysteresis_db`,
//!    and the neighbour is another cell ([`Held::NoBetterNeighbour`]);
//! 3. the target is not the cell the UE left less than `ping_pong_window_ms` ago
//!    ([`Held::PingPong`]);
//! 4. 1–2 have held continuously, towards the same neighbour, for `time_to_trigger_ms`
//!    ([`Held::TimeToTrigger`]): any period that breaks them restarts the timer;
//! 5. the UE's previous handover (ordered or completed) is at least
//!    `per_ue_min_interval_ms` old ([`Held::UeRateLimit`]);
//! 6. the source cell has a token in its bucket: `per_cell_max_per_s` tokens per second,
//!    burst `max(1, per_cell_max_per_s)` ([`Held::CellRateLimit`]).
//!
//! # Bounded state
//! A UE not assessed for [`FORGET_AFTER_MS`] is forgotten (so is a cell bucket unused that
//! long: a full bucket and no bucket behave alike); at most [`MAX_UES`] UEs and
//! [`MAX_CELLS`] cell buckets are kept, the least recently seen evicted beyond that.
//!
//! # The coordinated restriction
//! [`propose_restriction`] looks at one (victim) cell's assessments of a period: among its
//! limited UEs (rule 1), the neighbour cell named most often is the candidate interferer.
//! It is capped only when it is the dominant interferer of enough limited UEs
//! (`min_limited_ues`, and a share `min_dominant_share` of all limited UEs of the cell),
//! the victim is loaded (`min_victim_load`: an idle victim gains nothing), and the
//! interferer has load to spare: its PRB utilisation is above the cap it would get
//! (`load − step_pct`, never below `floor_pct`), so the cap bites, and at most
//! `max_interferer_load` (a saturated interferer serves its own demand with every PRB:
//! cutting it costs its users more than the victim's gain). Nothing here does I/O.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::ids::CellId;
use crate::radio::{Neighbour, UeId};

/// A UE not assessed for this long is forgotten [ms].
pub const FORGET_AFTER_MS: u64 = 60_000;
/// Most UEs tracked at once; beyond, the least recently seen is evicted.
pub const MAX_UES: usize = 200_000;
/// Most cell rate-limit buckets kept at once.
pub const MAX_CELLS: usize = 20_000;

/// Handover tuning (TOML section `[mobility]` of the interference xApp).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobilityConfig {
    /// A3 offset [dB]: the neighbour must be this much stronger (plus hysteresis). Default 3.
    pub a3_offset_db: f32,
    /// Hysteresis [dB] added to the offset on entering. Default 1.
    pub hysteresis_db: f32,
    /// How long the conditions must hold before an order [ms]. Default 2000 (three
    /// consecutive 1 s reports).
    pub time_to_trigger_ms: u64,
    /// Least model probability of being interference-limited. Default 0.5.
    pub min_p_limited: f32,
    /// Least predicted interference loss [dB]. Default 3.
    pub min_loss_db: f32,
    /// No handover back to the cell a UE left within this window [ms]. Default 20000.
    pub ping_pong_window_ms: u64,
    /// Least time between two handovers of one UE [ms]. Default 5000.
    pub per_ue_min_interval_ms: u64,
    /// Handovers out of one cell per second (token bucket rate). Default 2.
    pub per_cell_max_per_s: f32,
}

impl Default for MobilityConfig {
    fn default() -> Self {
        Self {
            a3_offset_db: 3.0,
            hysteresis_db: 1.0,
            time_to_trigger_ms: 2_000,
            min_p_limited: 0.5,
            min_loss_db: 3.0,
            ping_pong_window_ms: 20_000,
            per_ue_min_interval_ms: 5_000,
            per_cell_max_per_s: 2.0,
        }
    }
}

impl MobilityConfig {
    /// Refuses values that make no sense, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        let finite_in = |key: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("mobility.{key} = {v} must be within {lo}..={hi}"))
            }
        };
        finite_in("a3_offset_db", self.a3_offset_db, -30.0, 30.0)?;
        finite_in("hysteresis_db", self.hysteresis_db, 0.0, 15.0)?;
        finite_in("min_p_limited", self.min_p_limited, 0.0, 1.0)?;
        finite_in("min_loss_db", self.min_loss_db, 0.0, 60.0)?;
        finite_in("per_cell_max_per_s", self.per_cell_max_per_s, 0.001, 1000.0)?;
        let ms_max = |key: &str, v: u64, hi: u64| {
            if v <= hi {
                Ok(())
            } else {
                Err(format!("mobility.{key} = {v} ms is above {hi} ms"))
            }
        };
        ms_max("time_to_trigger_ms", self.time_to_trigger_ms, 60_000)?;
        ms_max("ping_pong_window_ms", self.ping_pong_window_ms, 3_600_000)?;
        ms_max(
            "per_ue_min_interval_ms",
            self.per_ue_min_interval_ms,
            3_600_000,
        )?;
        if self.time_to_trigger_ms >= FORGET_AFTER_MS {
            return Err(format!(
                "mobility.time_to_trigger_ms = {} must be below {FORGET_AFTER_MS} ms (UEs are forgotten after that)",
                self.time_to_trigger_ms
            ));
        }
        Ok(())
    }
}

/// What the xApp knows about one UE in one period: its measurements and the model's verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub ue: UeId,
    pub serving: CellId,
    pub neighbour: Option<Neighbour>,
    pub rsrp_dbm: f32,
    /// Predicted interference loss [dB] (model output `loss_db`).
    pub loss_db: f32,
    /// Probability the UE is interference-limited (model output `p_limited`).
    pub p_limited: f32,
}

impl Assessment {
    fn limited(&self, cfg: &MobilityConfig) -> bool {
        self.p_limited >= cfg.min_p_limited && self.loss_db >= cfg.min_loss_db
    }
}

/// Why no handover was ordered for a UE this period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    NotLimited,
    NoBetterNeighbour,
    TimeToTrigger { remaining_ms: u64 },
    PingPong,
    UeRateLimit,
    CellRateLimit,
}

impl Held {
    /// Every reason label, for pre-registering metric series.
    pub const REASONS: [&'static str; 6] = [
        "not_limited",
        "no_better_neighbour",
        "time_to_trigger",
        "ping_pong",
        "ue_rate_limit",
        "cell_rate_limit",
    ];

    /// Bounded metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Held::NotLimited => Self::REASONS[0],
            Held::NoBetterNeighbour => Self::REASONS[1],
            Held::TimeToTrigger { .. } => Self::REASONS[2],
            Held::PingPong => Self::REASONS[3],
            Held::UeRateLimit => Self::REASONS[4],
            Held::CellRateLimit => Self::REASONS[5],
        }
    }
}

/// A handover to send (E2SM-RC style 3 action 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandoverOrder {
    pub ue: UeId,
    pub source: CellId,
    pub target: CellId,
}

#[derive(Clone, Debug)]
struct UeState {
    last_seen_ms: u64,
    serving: CellId,
    /// Since when the conditions hold, and towards which neighbour.
    trigger: Option<(u64, CellId)>,
    /// The cell the UE last left, and when.
    left: Option<(CellId, u64)>,
    last_handover_ms: Option<u64>,
}

#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// Per-node handover guard: A3 + time-to-trigger + ping-pong + rate limits.
#[derive(Debug)]
pub struct MobilityGuard {
    cfg: MobilityConfig,
    ues: FxHashMap<UeId, UeState>,
    cells: FxHashMap<CellId, Bucket>,
    last_sweep_ms: u64,
}

impl MobilityGuard {
    pub fn new(cfg: MobilityConfig) -> Self {
        Self {
            cfg,
            ues: FxHashMap::default(),
            cells: FxHashMap::default(),
            last_sweep_ms: 0,
        }
    }

    pub fn config(&self) -> &MobilityConfig {
        &self.cfg
    }

    /// UEs currently tracked.
    pub fn tracked_ues(&self) -> usize {
        self.ues.len()
    }

    /// Cell buckets currently kept.
    pub fn tracked_cells(&self) -> usize {
        self.cells.len()
    }

    fn sweep(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.last_sweep_ms) < FORGET_AFTER_MS / 4 {
            return;
        }
        self.last_sweep_ms = now_ms;
        self.ues
            .retain(|_, s| now_ms.saturating_sub(s.last_seen_ms) < FORGET_AFTER_MS);
        self.cells
            .retain(|_, b| now_ms.saturating_sub(b.at_ms) < FORGET_AFTER_MS);
    }

    fn ue_entry(&mut self, now_ms: u64, ue: UeId, serving: CellId) -> &mut UeState {
        if !self.ues.contains_key(&ue)
            && self.ues.len() >= MAX_UES
            && let Some(oldest) = self
                .ues
                .iter()
                .min_by_key(|(_, s)| s.last_seen_ms)
                .map(|(k, _)| *k)
        {
            self.ues.remove(&oldest);
        }
        let s = self.ues.entry(ue).or_insert(UeState {
            last_seen_ms: now_ms,
            serving,
            trigger: None,
            left: None,
            last_handover_ms: None,
        });
        s.last_seen_ms = s.last_seen_ms.max(now_ms);
        if s.serving != serving {
            // The UE moved without us hearing of it (the network's own mobility, or a
            // completion we missed): it left its old cell now.
            s.left = Some((s.serving, now_ms));
            s.serving = serving;
            s.trigger = None;
        }
        s
    }

    /// Takes a token from `cell`'s bucket, if it has one.
    fn take_token(&mut self, now_ms: u64, cell: CellId) -> bool {
        let rate = f64::from(self.cfg.per_cell_max_per_s);
        let burst = rate.max(1.0);
        if !self.cells.contains_key(&cell)
            && self.cells.len() >= MAX_CELLS
            && let Some(oldest) = self
                .cells
                .iter()
                .min_by_key(|(_, b)| b.at_ms)
                .map(|(k, _)| *k)
        {
            self.cells.remove(&oldest);
        }
        let b = self.cells.entry(cell).or_insert(Bucket {
            tokens: burst,
            at_ms: now_ms,
        });
        let dt_s = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
        b.tokens = (b.tokens + dt_s * rate).min(burst);
        b.at_ms = b.at_ms.max(now_ms);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// One assessment per UE per period; `Ok` = send this handover now.
    pub fn consider(&mut self, now_ms: u64, a: &Assessment) -> Result<HandoverOrder, Held> {
        self.sweep(now_ms);
        let cfg = self.cfg.clone();
        let s = self.ue_entry(now_ms, a.ue, a.serving);
        if !a.limited(&cfg) {
            s.trigger = None;
            return Err(Held::NotLimited);
        }
        let target = match a.neighbour {
            Some(n)
                if n.cell != a.serving
                    && n.rsrp_dbm.is_finite()
                    && a.rsrp_dbm.is_finite()
                    && n.rsrp_dbm > a.rsrp_dbm + cfg.a3_offset_db + cfg.hysteresis_db =>
            {
                n.cell
            }
            _ => {
                s.trigger = None;
                return Err(Held::NoBetterNeighbour);
            }
        };
        let since = match s.trigger {
            Some((t0, cell)) if cell == target => t0,
            _ => {
                s.trigger = Some((now_ms, target));
                now_ms
            }
        };
        if let Some((left, at)) = s.left
            && left == target
            && now_ms.saturating_sub(at) < cfg.ping_pong_window_ms
        {
            return Err(Held::PingPong);
        }
        let held_for = now_ms.saturating_sub(since);
        if held_for < cfg.time_to_trigger_ms {
            return Err(Held::TimeToTrigger {
                remaining_ms: cfg.time_to_trigger_ms - held_for,
            });
        }
        if let Some(last) = s.last_handover_ms
            && now_ms.saturating_sub(last) < cfg.per_ue_min_interval_ms
        {
            return Err(Held::UeRateLimit);
        }
        if !self.take_token(now_ms, a.serving) {
            return Err(Held::CellRateLimit);
        }
        let s = self.ues.get_mut(&a.ue).expect("entry made above");
        s.last_handover_ms = Some(now_ms);
        s.trigger = None;
        Ok(HandoverOrder {
            ue: a.ue,
            source: a.serving,
            target,
        })
    }

    /// The RAN confirmed (or refused) a handover: the UE now serves on `cell`. Resets the
    /// UE's time-to-trigger; the per-UE interval counts from now.
    pub fn completed(&mut self, now_ms: u64, ue: UeId, cell: CellId) {
        let s = self.ue_entry(now_ms, ue, cell);
        s.trigger = None;
        s.last_handover_ms = Some(now_ms);
    }

    pub fn forget_ue(&mut self, ue: UeId) {
        self.ues.remove(&ue);
    }
}

/// Coordinated restriction of a dominant interferer: the cell and its new PRB cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restriction {
    pub cell: CellId,
    /// New maximum DL PRB share of the cell [%].
    pub max_prb_pct: u32,
    pub reason: &'static str,
}

/// Tuning of [`propose_restriction`] (TOML section `[mobility.restriction]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestrictionConfig {
    /// Least limited UEs naming the interferer. Default 2.
    pub min_limited_ues: usize,
    /// Least share of the cell's limited UEs naming the interferer. Default 0.5.
    pub min_dominant_share: f32,
    /// Least PRB utilisation of the victim cell, 0..1. Default 0.3.
    pub min_victim_load: f32,
    /// Most PRB utilisation of the interferer, 0..1 (above: it needs its PRBs). Default 0.9.
    pub max_interferer_load: f32,
    /// The cap is the interferer's utilisation minus this [percentage points]. Default 20.
    pub step_pct: u32,
    /// Never cap below this [%]. Default 40.
    pub floor_pct: u32,
}

impl Default for RestrictionConfig {
    fn default() -> Self {
        Self {
            min_limited_ues: 2,
            min_dominant_share: 0.5,
            min_victim_load: 0.3,
            max_interferer_load: 0.9,
            step_pct: 20,
            floor_pct: 40,
        }
    }
}

impl RestrictionConfig {
    /// Refuses values that make no sense, naming the key.
    pub fn validate(&self) -> Result<(), String> {
        let unit = |key: &str, v: f32| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "mobility.restriction.{key} = {v} must be within 0..=1"
                ))
            }
        };
        unit("min_dominant_share", self.min_dominant_share)?;
        unit("min_victim_load", self.min_victim_load)?;
        unit("max_interferer_load", self.max_interferer_load)?;
        if self.min_limited_ues == 0 {
            return Err("mobility.restriction.min_limited_ues must be at least 1".into());
        }
        if !(1..=100).contains(&self.step_pct) {
            return Err(format!(
                "mobility.restriction.step_pct = {} must be within 1..=100",
                self.step_pct
            ));
        }
        if self.floor_pct > 100 {
            return Err(format!(
                "mobility.restriction.floor_pct = {} must be at most 100",
                self.floor_pct
            ));
        }
        Ok(())
    }
}

/// Proposes capping the dominant interferer of `victim` (see the module doc for the rule).
/// `assessments`: the victim cell's UEs this period (others are ignored); `load`: PRB
/// utilisation 0..1 of a cell, `None` if unknown (no proposal without both loads).
pub fn propose_restriction(
    mob: &MobilityConfig,
    cfg: &RestrictionConfig,
    victim: CellId,
    assessments: &[Assessment],
    load: impl Fn(CellId) -> Option<f32>,
) -> Option<Restriction> {
    let mut counts: Vec<(CellId, usize)> = Vec::new();
    let mut limited = 0usize;
    for a in assessments
        .iter()
        .filter(|a| a.serving == victim && a.limited(mob))
    {
        limited += 1;
        if let Some(n) = a.neighbour.filter(|n| n.cell != victim) {
            match counts.iter_mut().find(|(c, _)| *c == n.cell) {
                Some((_, k)) => *k += 1,
                None => counts.push((n.cell, 1)),
            }
        }
    }
    // Most named; ties to the smaller cell ID so the answer does not depend on UE order.
    let (cell, named) = counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
    if named < cfg.min_limited_ues || (named as f32) < cfg.min_dominant_share * limited as f32 {
        return None;
    }
    let victim_load = load(victim)?;
    let interferer_load = load(cell)?;
    if !victim_load.is_finite() || !interferer_load.is_finite() {
        return None;
    }
    if victim_load < cfg.min_victim_load || interferer_load > cfg.max_interferer_load {
        return None;
    }
    let used_pct = (interferer_load.clamp(0.0, 1.0) * 100.0).round() as u32;
    let cap = used_pct.saturating_sub(cfg.step_pct).max(cfg.floor_pct);
    if cap >= used_pct {
        return None;
    }
    Some(Restriction {
        cell,
        max_prb_pct: cap,
        reason: "dominant_interferer",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLMN: [u8; 3] = [0x00, 0xf1, 0x10];

    fn cell(n: u64) -> CellId {
        CellId::new(PLMN, n)
    }

    fn a(
        ue: u64,
        serving: u64,
        rsrp: f32,
        nbr: Option<(u64, f32)>,
        p: f32,
        loss: f32,
    ) -> Assessment {
        Assessment {
            ue: UeId(ue),
            serving: cell(serving),
            neighbour: nbr.map(|(c, r)| Neighbour {
                cell: cell(c),
                rsrp_dbm: r,
                rsrq_db: None,
            }),
            rsrp_dbm: rsrp,
            loss_db: loss,
            p_limited: p,
        }
    }

    fn cfg() -> MobilityConfig {
        MobilityConfig {
            a3_offset_db: 3.0,
            hysteresis_db: 1.0,
            time_to_trigger_ms: 2_000,
            min_p_limited: 0.5,
            min_loss_db: 3.0,
            ping_pong_window_ms: 20_000,
            per_ue_min_interval_ms: 5_000,
            per_cell_max_per_s: 1.0,
        }
    }

    /// Feeds the same assessment every second from `t0` until an order or `until`.
    fn run_until_order(
        g: &mut MobilityGuard,
        x: &Assessment,
        t0: u64,
        until: u64,
    ) -> Option<(u64, HandoverOrder)> {
        let mut t = t0;
        while t <= until {
            if let Ok(o) = g.consider(t, x) {
                return Some((t, o));
            }
            t += 1_000;
        }
        None
    }

    #[test]
    fn defaults_validate_and_bad_keys_are_named() {
        assert!(MobilityConfig::default().validate().is_ok());
        let bad = MobilityConfig {
            hysteresis_db: f32::NAN,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("hysteresis_db"));
        let bad = MobilityConfig {
            per_cell_max_per_s: 0.0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("per_cell_max_per_s"));
        let bad = MobilityConfig {
            time_to_trigger_ms: FORGET_AFTER_MS,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("time_to_trigger_ms"));
        assert!(RestrictionConfig::default().validate().is_ok());
        let bad = RestrictionConfig {
            step_pct: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("step_pct"));
    }

    #[test]
    fn unknown_toml_keys_are_refused() {
        let e = toml::from_str::<MobilityConfig>("a3_offset_db = 2.0\nhysterisis_db = 1.0\n")
            .unwrap_err();
        assert!(e.to_string().contains("hysterisis_db"), "{e}");
        let c: MobilityConfig = toml::from_str("a3_offset_db = 2.0\n").unwrap();
        assert_eq!(c.a3_offset_db, 2.0);
        assert_eq!(
            c.time_to_trigger_ms,
            MobilityConfig::default().time_to_trigger_ms
        );
    }

    #[test]
    fn a3_condition_is_strict_and_includes_hysteresis() {
        let mut g = MobilityGuard::new(MobilityConfig {
            time_to_trigger_ms: 0,
            ..cfg()
        });
        // Exactly offset + hysteresis: not better.
        assert_eq!(
            g.consider(0, &a(1, 1, -100.0, Some((2, -96.0)), 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        // Offset alone met but not hysteresis.
        assert_eq!(
            g.consider(1_000, &a(1, 1, -100.0, Some((2, -96.5)), 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        // No neighbour, or the neighbour is the serving cell.
        assert_eq!(
            g.consider(2_000, &a(1, 1, -100.0, None, 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        assert_eq!(
            g.consider(3_000, &a(1, 1, -100.0, Some((1, -80.0)), 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        let o = g
            .consider(4_000, &a(1, 1, -100.0, Some((2, -95.9)), 0.9, 6.0))
            .unwrap();
        assert_eq!(
            o,
            HandoverOrder {
                ue: UeId(1),
                source: cell(1),
                target: cell(2)
            }
        );
    }

    #[test]
    fn only_interference_limited_ues_move() {
        let mut g = MobilityGuard::new(MobilityConfig {
            time_to_trigger_ms: 0,
            ..cfg()
        });
        // A much better neighbour but the model says coverage-limited / not limited.
        assert_eq!(
            g.consider(0, &a(1, 1, -110.0, Some((2, -90.0)), 0.49, 10.0)),
            Err(Held::NotLimited)
        );
        assert_eq!(
            g.consider(0, &a(2, 1, -110.0, Some((2, -90.0)), 0.99, 2.9)),
            Err(Held::NotLimited)
        );
        assert!(
            g.consider(0, &a(3, 1, -110.0, Some((2, -90.0)), 0.5, 3.0))
                .is_ok()
        );
    }

    #[test]
    fn time_to_trigger_must_hold_continuously() {
        let mut g = MobilityGuard::new(cfg());
        let good = a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0);
        assert_eq!(
            g.consider(0, &good),
            Err(Held::TimeToTrigger {
                remaining_ms: 2_000
            })
        );
        assert_eq!(
            g.consider(1_000, &good),
            Err(Held::TimeToTrigger {
                remaining_ms: 1_000
            })
        );
        // One period breaks the condition: the timer restarts.
        assert_eq!(
            g.consider(2_000, &a(1, 1, -100.0, Some((2, -99.0)), 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        assert_eq!(
            g.consider(3_000, &good),
            Err(Held::TimeToTrigger {
                remaining_ms: 2_000
            })
        );
        assert_eq!(
            g.consider(4_000, &good),
            Err(Held::TimeToTrigger {
                remaining_ms: 1_000
            })
        );
        assert!(g.consider(5_000, &good).is_ok());
        // Not limited for one period also restarts it.
        let mut g = MobilityGuard::new(cfg());
        g.consider(0, &good).unwrap_err();
        g.consider(1_000, &good).unwrap_err();
        assert_eq!(
            g.consider(2_000, &a(1, 1, -100.0, Some((2, -90.0)), 0.1, 6.0)),
            Err(Held::NotLimited)
        );
        assert!(matches!(
            g.consider(3_000, &good),
            Err(Held::TimeToTrigger { .. })
        ));
        // A change of the best neighbour restarts it too.
        let mut g = MobilityGuard::new(cfg());
        g.consider(0, &good).unwrap_err();
        g.consider(1_000, &good).unwrap_err();
        assert_eq!(
            g.consider(2_000, &a(1, 1, -100.0, Some((3, -90.0)), 0.9, 6.0)),
            Err(Held::TimeToTrigger {
                remaining_ms: 2_000
            })
        );
    }

    #[test]
    fn no_return_to_the_cell_left_within_the_ping_pong_window() {
        let mut g = MobilityGuard::new(MobilityConfig {
            per_ue_min_interval_ms: 0,
            ..cfg()
        });
        let (t, o) = run_until_order(
            &mut g,
            &a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0),
            0,
            10_000,
        )
        .unwrap();
        assert_eq!(t, 2_000);
        g.completed(t, o.ue, o.target);
        // Now on cell 2, cell 1 looks better: held as ping-pong for the window.
        let back = a(1, 2, -100.0, Some((1, -90.0)), 0.9, 6.0);
        let (t2, o2) = run_until_order(&mut g, &back, 3_000, 60_000).unwrap();
        assert!(t2 >= t + 20_000, "returned at {t2}");
        assert_eq!(o2.target, cell(1));
        assert_eq!(g.consider(3_000, &back), Err(Held::PingPong));
        // Another neighbour is fine within the window.
        let mut g = MobilityGuard::new(MobilityConfig {
            per_ue_min_interval_ms: 0,
            ..cfg()
        });
        let (t, o) = run_until_order(
            &mut g,
            &a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0),
            0,
            10_000,
        )
        .unwrap();
        g.completed(t, o.ue, o.target);
        assert!(
            run_until_order(
                &mut g,
                &a(1, 2, -100.0, Some((3, -90.0)), 0.9, 6.0),
                t + 1_000,
                t + 5_000
            )
            .is_some()
        );
    }

    #[test]
    fn network_moves_count_for_ping_pong_too() {
        let mut g = MobilityGuard::new(MobilityConfig {
            time_to_trigger_ms: 0,
            ..cfg()
        });
        // The UE appears on cell 2 after cell 1 without any order of ours.
        assert_eq!(
            g.consider(0, &a(1, 1, -100.0, Some((2, -99.0)), 0.9, 6.0)),
            Err(Held::NoBetterNeighbour)
        );
        assert_eq!(
            g.consider(1_000, &a(1, 2, -100.0, Some((1, -90.0)), 0.9, 6.0)),
            Err(Held::PingPong)
        );
    }

    #[test]
    fn per_ue_minimum_interval() {
        let mut g = MobilityGuard::new(MobilityConfig {
            time_to_trigger_ms: 0,
            ping_pong_window_ms: 0,
            ..cfg()
        });
        let go = a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0);
        assert!(g.consider(0, &go).is_ok());
        // The RAN did not act (the UE still reports on cell 1): no new order for 5 s.
        assert_eq!(g.consider(1_000, &go), Err(Held::UeRateLimit));
        assert_eq!(g.consider(4_999, &go), Err(Held::UeRateLimit));
        assert!(g.consider(5_000, &go).is_ok());
    }

    #[test]
    fn per_cell_token_bucket() {
        let mut g = MobilityGuard::new(MobilityConfig {
            time_to_trigger_ms: 0,
            per_cell_max_per_s: 0.5,
            ..cfg()
        });
        // Burst 1, then one every 2 s out of cell 1; cell 3 has its own bucket.
        assert!(
            g.consider(0, &a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0))
                .is_ok()
        );
        assert_eq!(
            g.consider(0, &a(2, 1, -100.0, Some((2, -90.0)), 0.9, 6.0)),
            Err(Held::CellRateLimit)
        );
        assert!(
            g.consider(0, &a(3, 3, -100.0, Some((2, -90.0)), 0.9, 6.0))
                .is_ok()
        );
        assert_eq!(
            g.consider(1_000, &a(2, 1, -100.0, Some((2, -90.0)), 0.9, 6.0)),
            Err(Held::CellRateLimit)
        );
        assert!(
            g.consider(2_000, &a(2, 1, -100.0, Some((2, -90.0)), 0.9, 6.0))
                .is_ok()
        );
        // Over 60 s at most 1 + 30 orders out of cell 1.
        let mut n = 0;
        for t in 0..60u64 {
            for ue in 10..20u64 {
                if g.consider(
                    3_000 + t * 1_000,
                    &a(ue + t * 100, 1, -100.0, Some((2, -90.0)), 0.9, 6.0),
                )
                .is_ok()
                {
                    n += 1;
                }
            }
        }
        assert!((29..=31).contains(&n), "{n} orders");
    }

    #[test]
    fn completed_resets_the_timers() {
        let mut g = MobilityGuard::new(cfg());
        let go = a(1, 1, -100.0, Some((2, -90.0)), 0.9, 6.0);
        g.consider(0, &go).unwrap_err();
        g.consider(1_000, &go).unwrap_err();
        // The UE moved to cell 3 (e.g. another xApp's or the network's handover).
        g.completed(1_500, UeId(1), cell(3));
        let on3 = a(1, 3, -100.0, Some((2, -90.0)), 0.9, 6.0);
        assert_eq!(
            g.consider(2_000, &on3),
            Err(Held::TimeToTrigger {
                remaining_ms: 2_000
            })
        );
        // The interval counts from the completion.
        assert_eq!(g.consider(4_000, &on3), Err(Held::UeRateLimit));
        assert!(g.consider(6_500, &on3).is_ok());
    }

    #[test]
    fn unseen_ues_are_forgotten() {
        let mut g = MobilityGuard::new(cfg());
        for ue in 0..100 {
            let _ = g.consider(0, &a(ue, 1, -100.0, Some((2, -90.0)), 0.9, 6.0));
        }
        assert_eq!(g.tracked_ues(), 100);
        let _ = g.consider(FORGET_AFTER_MS - 1, &a(1000, 1, -100.0, None, 0.9, 6.0));
        assert_eq!(g.tracked_ues(), 101);
        let _ = g.consider(
            FORGET_AFTER_MS + FORGET_AFTER_MS / 4,
            &a(1000, 1, -100.0, None, 0.9, 6.0),
        );
        assert_eq!(g.tracked_ues(), 1);
        g.forget_ue(UeId(1000));
        assert_eq!(g.tracked_ues(), 0);
        assert!(g.tracked_cells() <= 1);
    }

    #[test]
    fn held_reasons_are_bounded_and_distinct() {
        let all = [
            Held::NotLimited,
            Held::NoBetterNeighbour,
            Held::TimeToTrigger { remaining_ms: 5 },
            Held::PingPong,
            Held::UeRateLimit,
            Held::CellRateLimit,
        ];
        let mut labels: Vec<_> = all.iter().map(Held::reason).collect();
        labels.dedup();
        assert_eq!(labels, Held::REASONS);
    }

    #[test]
    fn restriction_of_the_dominant_interferer() {
        let mob = cfg();
        let rc = RestrictionConfig::default();
        let loads = |c: CellId| match c.nci {
            1 => Some(0.8),
            2 => Some(0.7),
            3 => Some(0.95),
            _ => None,
        };
        let limited_by = |ue: u64, n: u64| a(ue, 1, -100.0, Some((n, -97.0)), 0.9, 8.0);
        let set = vec![
            limited_by(1, 2),
            limited_by(2, 2),
            limited_by(3, 4),
            a(4, 1, -90.0, Some((4, -100.0)), 0.1, 1.0),
        ];
        let r = propose_restriction(&mob, &rc, cell(1), &set, loads).unwrap();
        assert_eq!(
            r,
            Restriction {
                cell: cell(2),
                max_prb_pct: 50,
                reason: "dominant_interferer"
            }
        );
        // Only one limited UE names it: not enough.
        assert!(propose_restriction(&mob, &rc, cell(1), &set[1..], loads).is_none());
        // Not dominant: 2 of 5 limited UEs.
        let mut split = set.clone();
        split.push(limited_by(5, 4));
        split.push(limited_by(6, 5));
        split.push(limited_by(7, 5));
        assert!(propose_restriction(&mob, &rc, cell(1), &split, loads).is_none());
        // A saturated interferer is not cut; an unknown load gives no proposal.
        let sat = vec![limited_by(1, 3), limited_by(2, 3)];
        assert!(propose_restriction(&mob, &rc, cell(1), &sat, loads).is_none());
        let unk = vec![limited_by(1, 9), limited_by(2, 9)];
        assert!(propose_restriction(&mob, &rc, cell(1), &unk, loads).is_none());
        // An idle victim gains nothing.
        let idle = |c: CellId| if c.nci == 1 { Some(0.1) } else { Some(0.7) };
        assert!(propose_restriction(&mob, &rc, cell(1), &set, idle).is_none());
        // An interferer already below the floor has nothing to cut.
        let light = |c: CellId| if c.nci == 1 { Some(0.8) } else { Some(0.4) };
        assert!(propose_restriction(&mob, &rc, cell(1), &set, light).is_none());
        // Other cells' UEs are ignored.
        assert!(propose_restriction(&mob, &rc, cell(7), &set, loads).is_none());
    }
}
