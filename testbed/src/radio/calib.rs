//! Calibration of the twin's SINR model on the `ucc5g` training recordings, and its error
//! on the held-out ones.
//!
//! The fit: at the reference load every interferer is weighted alike, so the modelled SINR of
//! a recorded second is `RSRP − L − 10·log10(N_eff + c · I)`, with `I` the linear sum of the
//! neighbour's RSRP and the other cells' gains of the rule in [`super::twin`]. `N_eff`
//! (1 dB grid, −135..−75 dBm) and `c` (1 dB grid, −35..+10 dB) are searched, `L` is the
//! median residual of each pair; the pair with the least mean absolute error on the
//! training recordings (`is_test_recording` false) wins. Seconds used: RSRP, SNR and a
//! neighbour RSRP all present.
//!
//! Throughput: the recorded `DL_bitrate` is what a video client asked for (Netflix,
//! Amazon Prime), not the capacity the cell offered, so it is no test of the link
//! abstraction second by second. What is checked: the twin's capacity at the recorded SNR
//! (the whole carrier less the reference load) against the recorded bitrate in seconds with
//! `State = D`: how often the phone got more than the twin would give it, and the NMAE of
//! `min(recorded, capacity)` against the recorded bitrate (0 when the twin never clips).

use serde::Serialize;

use super::trace::{Recording, is_test_recording};
use super::twin::{Calibration, db_to_lin, other_cell_gain};

/// One usable recorded second.
#[derive(Clone, Copy, Debug)]
struct Point {
    rsrp: f32,
    /// Linear interference sum at unit coupling (neighbour + other cells).
    i_lin: f32,
    snr: f32,
}

fn points(rec: &Recording, cells: usize) -> Vec<Point> {
    rec.samples
        .iter()
        .filter_map(|s| {
            let r = s.radio.rsrp_dbm?;
            let snr = s.radio.sinr_db?;
            let nb = s.radio.neighbour?.rsrp_dbm;
            let mut i_lin = db_to_lin(nb);
            for k in 0..cells.saturating_sub(2) {
                i_lin += db_to_lin(other_cell_gain(r, nb, k));
            }
            Some(Point {
                rsrp: r,
                i_lin,
                snr,
            })
        })
        .collect()
}

fn predict(p: &Point, n_lin: f32, c_lin: f32) -> f32 {
    p.rsrp - 10.0 * (n_lin + c_lin * p.i_lin).log10()
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// Fits noise, coupling and implementation loss on the training recordings; `base` gives
/// the constants that are not fitted (reference load, alpha, SE ceiling).
pub fn fit(recordings: &[Recording], cells: usize, base: &Calibration) -> Calibration {
    let train: Vec<Point> = recordings
        .iter()
        .filter(|r| !is_test_recording(&r.name))
        .flat_map(|r| points(r, cells))
        .collect();
    let mut best = (f32::INFINITY, base.clone());
    let mut resid = vec![0f32; train.len()];
    for n_db in (-135..=-75).map(|v| v as f32) {
        for c_db in (-35..=10).map(|v| v as f32) {
            let (n_lin, c_lin) = (db_to_lin(n_db), db_to_lin(c_db));
            for (r, p) in resid.iter_mut().zip(&train) {
                *r = predict(p, n_lin, c_lin) - p.snr;
            }
            let loss = median(&mut resid.clone());
            let mae =
                resid.iter().map(|r| (r - loss).abs()).sum::<f32>() / train.len().max(1) as f32;
            if mae < best.0 {
                best = (
                    mae,
                    Calibration {
                        noise_eff_dbm: n_db,
                        coupling_db: c_db,
                        impl_loss_db: loss,
                        ..base.clone()
                    },
                );
            }
        }
    }
    best.1
}

/// Calibration error of one group of recordings.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CalibError {
    pub group: String,
    pub recordings: usize,
    /// Seconds with RSRP, SNR and neighbour RSRP.
    pub seconds: usize,
    /// MAE of the modelled SINR against the recorded SNR [dB].
    pub sinr_mae_db: f32,
    /// Mean of modelled − recorded [dB].
    pub sinr_bias_db: f32,
    /// MAE of a constant (the training recordings' median SNR) [dB], for scale.
    pub const_mae_db: f32,
    /// Downloading seconds with a recorded bitrate.
    pub dl_seconds: usize,
    /// Share of them where the recorded bitrate exceeds the twin's capacity.
    pub clipped_share: f32,
    /// NMAE of min(recorded, capacity) against the recorded bitrate.
    pub thp_nmae: f32,
}

/// Errors of `cal` on the held-out recordings (or the training ones with `held_out =
/// false`), per kind (static, driving) and overall.
pub fn errors(
    recordings: &[Recording],
    cells: usize,
    prbs: u32,
    cal: &Calibration,
    held_out: bool,
) -> Vec<CalibError> {
    let train_median = {
        let mut v: Vec<f32> = recordings
            .iter()
            .filter(|r| !is_test_recording(&r.name))
            .flat_map(|r| points(r, cells))
            .map(|p| p.snr)
            .collect();
        median(&mut v)
    };
    let (n_lin, c_lin) = (db_to_lin(cal.noise_eff_dbm), db_to_lin(cal.coupling_db));
    let mut out = Vec::new();
    for (group, want) in [
        ("static", Some(false)),
        ("driving", Some(true)),
        ("all", None),
    ] {
        let recs: Vec<&Recording> = recordings
            .iter()
            .filter(|r| is_test_recording(&r.name) == held_out)
            .filter(|r| want.is_none_or(|d| r.driving == d))
            .collect();
        let mut e = CalibError {
            group: group.into(),
            recordings: recs.len(),
            ..Default::default()
        };
        let (mut abs, mut bias, mut cabs) = (0f64, 0f64, 0f64);
        for p in recs.iter().flat_map(|r| points(r, cells)) {
            let d = predict(&p, n_lin, c_lin) - cal.impl_loss_db - p.snr;
            abs += f64::from(d.abs());
            bias += f64::from(d);
            cabs += f64::from((train_median - p.snr).abs());
            e.seconds += 1;
        }
        let (mut err, mut tot, mut clipped) = (0f64, 0f64, 0usize);
        for s in recs.iter().flat_map(|r| &r.samples) {
            let (Some(b), Some(snr)) = (s.radio.thp_dl_kbps, s.radio.sinr_db) else {
                continue;
            };
            if !s.downloading {
                continue;
            }
            let cap_kbps = prbs as f32 * cal.rate_per_prb(snr) * (1.0 - cal.ref_load) / 1000.0;
            if b > cap_kbps {
                clipped += 1;
            }
            err += f64::from((b - b.min(cap_kbps)).abs());
            tot += f64::from(b);
            e.dl_seconds += 1;
        }
        let n = e.seconds.max(1) as f64;
        e.sinr_mae_db = (abs / n) as f32;
        e.sinr_bias_db = (bias / n) as f32;
        e.const_mae_db = (cabs / n) as f32;
        e.clipped_share = clipped as f32 / e.dl_seconds.max(1) as f32;
        e.thp_nmae = if tot > 0.0 { (err / tot) as f32 } else { 0.0 };
        out.push(e);
    }
    out
}
