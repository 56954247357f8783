//! The trial's guard rail: a sequential test that stops the treatment arm when a KPI
//! degrades past a configured margin, however often it is looked at.
//!
//! It is a one-sided mixture sequential probability ratio test (mSPRT; Robbins 1970,
//! Johari et al., "Always valid inference", 2017) on the degradation beyond the margin,
//! `θ = (control − treatment) − margin·|control|` for a KPI where higher is better (the
//! signs flip otherwise). With the estimate `θ̂`, its variance `V` (from the units of each
//! arm, as in Welch's test) and a normal mixture of scale `τ` over `θ`, the likelihood
//! ratio is
//!
//! ```text
//! Λ = √(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))      (Λ = 0 when θ̂ ≤ 0)
//! ```
//!
//! and the rail trips when `Λ ≥ 1/α`. Under "no degradation beyond the margin" `Λ` is a
//! non-negative supermartingale, so by Ville's inequality the probability of **ever**
//! tripping — over any number of looks — is at most `α`: that is the stated false-alarm
//! rate (the variance is estimated, so it holds asymptotically; the A/A tests measure it).

use super::stats::mean_var;

/// Tunables of the guard rail.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct RailConfig {
    /// Degradation tolerated, relative to the control mean (0.05 = 5 %).
    pub margin: f64,
    /// Probability of ever tripping when the treatment is within the margin.
    pub alpha: f64,
    /// Mixture scale relative to the control mean: the size of degradation the test is
    /// most sensitive to.
    pub tau: f64,
    /// Units per arm needed before the first look counts.
    pub min_units: usize,
    /// True for KPIs where higher is better (throughput); false for delay or violations.
    pub higher_is_better: bool,
}

impl Default for RailConfig {
    fn default() -> Self {
        Self {
            margin: 0.05,
            alpha: 0.05,
            tau: 0.1,
            min_units: 4,
            higher_is_better: true,
        }
    }
}

/// What one look concluded.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Look {
    /// Estimated degradation beyond the margin (positive = worse than tolerated).
    pub excess: f64,
    pub lambda: f64,
    pub tripped: bool,
}

/// Sequential guard rail state: once tripped it stays tripped.
#[derive(Clone, Debug)]
pub struct Rail {
    pub cfg: RailConfig,
    pub looks: usize,
    pub tripped_at: Option<usize>,
}

impl Rail {
    pub fn new(cfg: RailConfig) -> Self {
        Self {
            cfg,
            looks: 0,
            tripped_at: None,
        }
    }

    /// True once the rail has tripped.
    pub fn tripped(&self) -> bool {
        self.tripped_at.is_some()
    }

    /// Looks at the units seen so far (one value per unit and arm).
    pub fn look(&mut self, control: &[f64], treatment: &[f64]) -> Look {
        self.looks += 1;
        let mut out = Look {
            excess: 0.0,
            lambda: 0.0,
            tripped: self.tripped(),
        };
        if out.tripped
            || control.len() < self.cfg.min_units.max(2)
            || treatment.len() < self.cfg.min_units.max(2)
        {
            return out;
        }
        let (mc, vc) = mean_var(control);
        let (mt, vt) = mean_var(treatment);
        let worse = if self.cfg.higher_is_better {
            mc - mt
        } else {
            mt - mc
        };
        let scale = mc.abs().max(f64::EPSILON);
        let excess = worse - self.cfg.margin * scale;
        let v = (vc / control.len() as f64 + vt / treatment.len() as f64).max(f64::MIN_POSITIVE);
        let tau2 = (self.cfg.tau * scale).powi(2);
        out.excess = excess;
        if excess > 0.0 {
            out.lambda =
                (v / (v + tau2)).sqrt() * (tau2 * excess * excess / (2.0 * v * (v + tau2))).exp();
        }
        if out.lambda >= 1.0 / self.cfg.alpha {
            self.tripped_at = Some(self.looks);
            out.tripped = true;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::{mix, unit};

    fn noisy(seed: u64, n: usize, mean: f64) -> Vec<f64> {
        (0..n)
            .map(|i| mean + 10.0 * (unit(mix(seed.wrapping_mul(7_919) + i as u64)) - 0.5))
            .collect()
    }

    #[test]
    fn rail_trips_on_harm_and_rarely_on_noise() {
        let cfg = RailConfig::default();
        let mut false_alarms = 0;
        let mut caught = 0;
        for s in 0..200 {
            let (mut aa, mut harm) = (Rail::new(cfg), Rail::new(cfg));
            // Twenty looks as units accumulate.
            for k in 1..=20 {
                let n = 5 * k;
                aa.look(&noisy(s, n, 100.0), &noisy(s + 50_000, n, 100.0));
                harm.look(&noisy(s, n, 100.0), &noisy(s + 50_000, n, 85.0));
            }
            false_alarms += usize::from(aa.tripped());
            caught += usize::from(harm.tripped());
        }
        // α = 5 % over all twenty looks: 10 of 200 expected at most.
        assert!(false_alarms <= 10, "{false_alarms}");
        assert!(caught >= 190, "{caught}");
    }
}
