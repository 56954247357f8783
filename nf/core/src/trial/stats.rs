//! Effects with 95 % confidence intervals.
//!
//! The unit of analysis is what was randomised: a cell for cell-randomised trials (its
//! mean KPI over the trial), a cell's treatment-minus-control difference for switchback
//! trials (each cell is its own control). Treating every window as independent would
//! understate the variance, because windows of one cell are strongly correlated.
//!
//! - [`welch`]: difference of means with Welch–Satterthwaite degrees of freedom.
//! - [`paired`]: mean of paired differences with a one-sample t interval.
//! - [`bootstrap`]: percentile interval of the difference of means, resampling units.
//!
//! Student's t quantiles come from `statrs`.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// An estimated effect (treatment − control) with its interval.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Effect {
    pub control_mean: f64,
    pub treatment_mean: f64,
    /// Treatment − control.
    pub diff: f64,
    pub lo: f64,
    pub hi: f64,
    /// Two-sided p-value (NaN for the bootstrap).
    pub p_value: f64,
    pub n_control: usize,
    pub n_treatment: usize,
    /// Standard error of `diff` (for the bootstrap: the interval's half-width over 1.96).
    pub se: f64,
    /// Degrees of freedom of the t interval (infinite for the bootstrap).
    pub df: f64,
}

/// Power at which the minimum detectable effect is stated.
pub const POWER: f64 = 0.8;

impl Effect {
    /// Minimum detectable effect: the smallest |treatment − control| this trial finds
    /// significant (two-sided, at [`LEVEL`]) with probability `power`,
    /// `(t_{1−(1−LEVEL)/2} + t_power) · se` with the interval's degrees of freedom.
    pub fn mde(&self, power: f64) -> f64 {
        (t_quantile(self.df, 0.5 + LEVEL / 2.0) + t_quantile(self.df, power)) * self.se
    }

    /// True when the interval excludes zero.
    pub fn significant(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }

    /// The effect relative to the control mean.
    pub fn relative(&self) -> f64 {
        self.diff / self.control_mean.abs().max(f64::EPSILON)
    }
}

/// Mean and unbiased variance.
pub fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n.max(1.0);
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        f64::NAN
    };
    (mean, var)
}

fn t_quantile(df: f64, p: f64) -> f64 {
    if df.is_infinite() {
        return normal_quantile(p);
    }
    match StudentsT::new(0.0, 1.0, df.max(1.0)) {
        Ok(t) => t.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

fn normal_quantile(p: f64) -> f64 {
    statrs::distribution::Normal::new(0.0, 1.0).map_or(f64::NAN, |n| n.inverse_cdf(p))
}

fn t_p_value(t: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df.max(1.0)) {
        Ok(d) => 2.0 * (1.0 - d.cdf(t.abs())),
        Err(_) => f64::NAN,
    }
}

/// Welch's interval for mean(treatment) − mean(control); `None` with fewer than 2 units
/// in an arm.
pub fn welch(control: &[f64], treatment: &[f64]) -> Option<Effect> {
    if control.len() < 2 || treatment.len() < 2 {
        return None;
    }
    let (mc, vc) = mean_var(control);
    let (mt, vt) = mean_var(treatment);
    let (nc, nt) = (control.len() as f64, treatment.len() as f64);
    let (sc, st) = (vc / nc, vt / nt);
    let se = (sc + st).sqrt();
    let diff = mt - mc;
    let df = if se > 0.0 {
        (sc + st).powi(2) / (sc * sc / (nc - 1.0) + st * st / (nt - 1.0))
    } else {
        nc + nt - 2.0
    };
    let half = t_quantile(df, 0.5 + LEVEL / 2.0) * se;
    let p_value = if se > 0.0 {
        t_p_value(diff / se, df)
    } else if diff == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(Effect {
        control_mean: mc,
        treatment_mean: mt,
        diff,
        lo: diff - half,
        hi: diff + half,
        p_value,
        n_control: control.len(),
        n_treatment: treatment.len(),
        se,
        df,
    })
}

/// Paired interval: `pairs` holds (control, treatment) per unit.
pub fn paired(pairs: &[(f64, f64)]) -> Option<Effect> {
    if pairs.len() < 2 {
        return None;
    }
    let d: Vec<f64> = pairs.iter().map(|(c, t)| t - c).collect();
    let (md, vd) = mean_var(&d);
    let n = d.len() as f64;
    let se = (vd / n).sqrt();
    let half = t_quantile(n - 1.0, 0.5 + LEVEL / 2.0) * se;
    let p_value = if se > 0.0 {
        t_p_value(md / se, n - 1.0)
    } else if md == 0.0 {
        1.0
    } else {
        0.0
    };
    Some(Effect {
        control_mean: pairs.iter().map(|p| p.0).sum::<f64>() / n,
        treatment_mean: pairs.iter().map(|p| p.1).sum::<f64>() / n,
        diff: md,
        lo: md - half,
        hi: md + half,
        p_value,
        n_control: pairs.len(),
        n_treatment: pairs.len(),
        se,
        df: n - 1.0,
    })
}

/// Percentile bootstrap of mean(treatment) − mean(control), resampling units within each
/// arm `iterations` times from a seeded generator.
pub fn bootstrap(
    control: &[f64],
    treatment: &[f64],
    iterations: usize,
    seed: u64,
) -> Option<Effect> {
    if control.len() < 2 || treatment.len() < 2 {
        return None;
    }
    let mut state = seed;
    let mut draw = |n: usize| {
        state = super::mix(state);
        (super::unit(state) * n as f64) as usize
    };
    let mut resample =
        |x: &[f64]| (0..x.len()).map(|_| x[draw(x.len())]).sum::<f64>() / x.len() as f64;
    let mut diffs: Vec<f64> = (0..iterations.max(100))
        .map(|_| resample(treatment) - resample(control))
        .collect();
    diffs.sort_by(f64::total_cmp);
    let q = |p: f64| diffs[((p * (diffs.len() - 1) as f64).round() as usize).min(diffs.len() - 1)];
    let (mc, _) = mean_var(control);
    let (mt, _) = mean_var(treatment);
    let (lo, hi) = (q((1.0 - LEVEL) / 2.0), q(0.5 + LEVEL / 2.0));
    Some(Effect {
        control_mean: mc,
        treatment_mean: mt,
        diff: mt - mc,
        lo,
        hi,
        p_value: f64::NAN,
        n_control: control.len(),
        n_treatment: treatment.len(),
        se: (hi - lo) / (2.0 * normal_quantile(0.5 + LEVEL / 2.0)),
        df: f64::INFINITY,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(seed: u64, n: usize, mean: f64) -> Vec<f64> {
        // Box–Muller from the trial hash: deterministic samples for the tests.
        (0..n)
            .map(|i| {
                let a = super::super::unit(super::super::mix(seed * 1_000_003 + 2 * i as u64))
                    .max(1e-12);
                let b = super::super::unit(super::super::mix(seed * 1_000_003 + 2 * i as u64 + 1));
                mean + (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
            })
            .collect()
    }

    #[test]
    fn welch_matches_a_hand_computed_case() {
        let e = welch(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0]).unwrap();
        assert!((e.diff - 2.5).abs() < 1e-12);
        // se = sqrt(1.6667/4 + 6.6667/4) = 1.4434, df = 4.41 → t(0.975) ≈ 2.677.
        assert!((e.hi - e.diff - 2.677 * 1.4434).abs() < 0.02, "{e:?}");
        assert!(!e.significant());
        // MDE at 80 % power: (2.677 + 0.925) · 1.4434 ≈ 5.20 (t quantiles at df 4.41).
        assert!((e.mde(POWER) - 5.20).abs() < 0.1, "{}", e.mde(POWER));
    }

    #[test]
    fn intervals_cover_at_about_the_nominal_rate() {
        let (mut welch_miss, mut boot_miss, mut paired_miss) = (0, 0, 0);
        for s in 0..400 {
            let c = normal(s, 30, 0.0);
            let t = normal(s + 10_000, 30, 0.5);
            let w = welch(&c, &t).unwrap();
            welch_miss += usize::from(!(w.lo..=w.hi).contains(&0.5));
            let b = bootstrap(&c, &t, 400, s).unwrap();
            boot_miss += usize::from(!(b.lo..=b.hi).contains(&0.5));
            let pairs: Vec<_> = c.iter().copied().zip(t.iter().copied()).collect();
            let p = paired(&pairs).unwrap();
            paired_miss += usize::from(!(p.lo..=p.hi).contains(&0.5));
        }
        // 5 % nominal: 20 of 400 expected; 35 is beyond the binomial 99.9 % bound.
        assert!(
            welch_miss <= 35 && paired_miss <= 35,
            "{welch_miss} {paired_miss}"
        );
        // The percentile bootstrap is a little liberal at n = 30.
        assert!(boot_miss <= 45, "{boot_miss}");
    }
}
