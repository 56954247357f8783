//! Twin cells of a whole TRACTOR trial, with the UEs sliced by the service class of the
//! application trace each one replayed, and the scenario (carrier size, load) they play on.
//!
//! The recorded multi-UE cells ran with slicing off (every UE in slice 0), so as recorded
//! no slice policy can differ on them. TRACTOR replayed each UE's traffic from an
//! application-class trace (`Using trace: ./raw/embb_04_10.csv for 1010123456003` in
//! `output_multiN.txt`); [`load_trial`] puts each UE in the slice of its class
//! (eMBB → SST 1, URLLC → SST 2, mMTC → SST 3). Where a trial has no class file
//! (multi-UE Trial1), the class is inferred from the UE's traffic by [`Classifier`]
//! (nearest centroid, fitted on labelled cells), or the trial is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nf_core::Snssai;

use super::{LinkTable, TwinCell, load};
use crate::mapping::MappingError;

/// The service class of a replayed application trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceClass {
    Embb,
    Urllc,
    Mmtc,
}

impl ServiceClass {
    /// Every class, in SST order.
    pub const ALL: [ServiceClass; 3] = [Self::Embb, Self::Urllc, Self::Mmtc];

    /// The slice a UE of this class is put in (TS 23.501 standardised SST values).
    pub fn snssai(self) -> Snssai {
        Snssai::new(
            match self {
                Self::Embb => 1,
                Self::Urllc => 2,
                Self::Mmtc => 3,
            },
            None,
        )
    }

    /// The class of a TRACTOR application trace file name (`embb_04_10.csv`,
    /// `URLLC_06_12.csv`, `urll_2.csv`, `mmtc.csv`).
    pub fn from_trace_name(name: &str) -> Option<Self> {
        let n = name.to_ascii_lowercase();
        let stem: String = n.chars().take_while(char::is_ascii_alphabetic).collect();
        match stem.as_str() {
            "embb" => Some(Self::Embb),
            "urllc" | "urll" => Some(Self::Urllc),
            "mmtc" => Some(Self::Mmtc),
            _ => None,
        }
    }
}

/// Why a trial's twin cells could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TwinError {
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A cell folder without `output_*.txt` when the classes are read from files.
    #[error("{0}: no output_*.txt naming each UE's application trace (the class is unknown)")]
    NoClassFile(PathBuf),
    /// A UE that the class file does not name, or names with an unknown class.
    #[error("{cell}: no service class for UE {imsi} (not in {file}, or an unknown trace name)")]
    UnknownClass {
        cell: String,
        imsi: String,
        file: PathBuf,
    },
    /// A trial name that is not one of the known trials.
    #[error("unknown trial `{0}`; known: {KNOWN}")]
    UnknownTrial(String),
    /// No run long enough in the trial.
    #[error("trial `{0}`: no recorded run long enough for the twin")]
    NoRuns(String),
}

/// The trials the twin knows, by name.
pub const KNOWN: &str = "multi-ue-trial1, multi-ue-trial2";

/// How a trial's UEs get their slice.
#[derive(Clone, Debug)]
pub enum ClassSource {
    /// As recorded (`slice_id`): the multi-UE cells are then single-slice.
    Recorded,
    /// From the cell's `output_*.txt`.
    Files,
    /// Inferred from each UE's traffic.
    Inferred(Classifier),
}

/// A trial: a name and the trace folders (cell folders or folders of cell folders).
#[derive(Clone, Debug)]
pub struct TwinTrial {
    pub name: String,
    pub paths: Vec<PathBuf>,
}

impl TwinTrial {
    /// A known multi-UE trial under the shared trace root `traces` (`../shared/traces`).
    pub fn named(name: &str, traces: &Path) -> Result<Self, TwinError> {
        let paths = match name {
            "multi-ue-trial1" => vec![traces.join("tractor-trials/multi-ue-trial1")],
            // Trial2's multi4 is tractor/multi4 (README of the traces).
            "multi-ue-trial2" => vec![
                traces.join("tractor-trials/multi-ue-trial2"),
                traces.join("tractor/multi4"),
            ],
            _ => return Err(TwinError::UnknownTrial(name.into())),
        };
        Ok(Self {
            name: name.into(),
            paths,
        })
    }

    /// The cell folders of the trial, sorted.
    pub fn cell_dirs(&self) -> Result<Vec<PathBuf>, TwinError> {
        let mut out = Vec::new();
        for p in &self.paths {
            if holds_metrics(p)? {
                out.push(p.clone());
                continue;
            }
            let mut sub: Vec<PathBuf> = read_dir(p)?.into_iter().filter(|d| d.is_dir()).collect();
            sub.sort();
            out.extend(sub);
        }
        Ok(out)
    }
}

fn read_dir(p: &Path) -> Result<Vec<PathBuf>, TwinError> {
    Ok(std::fs::read_dir(p)
        .map_err(|source| TwinError::Io {
            path: p.into(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect())
}

fn holds_metrics(p: &Path) -> Result<bool, TwinError> {
    Ok(read_dir(p)?
        .iter()
        .any(|f| f.to_string_lossy().ends_with("_metrics.csv")))
}

/// A class file and the class it names per IMSI.
pub type ClassFile = (PathBuf, BTreeMap<String, ServiceClass>);

/// Per IMSI, the class named by the cell folder's `output_*.txt` (`None` when there is
/// no such file).
pub fn read_classes(cell_dir: &Path) -> Result<Option<ClassFile>, TwinError> {
    let Some(file) = read_dir(cell_dir)?.into_iter().find(|f| {
        f.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("output_") && n.ends_with(".txt"))
    }) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file).map_err(|source| TwinError::Io {
        path: file.clone(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((trace, imsi)) = line.split_once(" for ") else {
            continue;
        };
        let name = trace.rsplit('/').next().unwrap_or(trace);
        if let Some(c) = ServiceClass::from_trace_name(name) {
            out.insert(imsi.trim().to_owned(), c);
        }
    }
    Ok(Some((file, out)))
}

/// The twin cells of `trial` (runs of at least `min_windows`), named `trial/cell#n`, with
/// each UE in the slice of its class. A class-sliced cell always carries the three slices
/// SST 1, 2, 3 in that order (a slice without a UE stays idle), so a split given per
/// position means the same service in every cell.
pub fn load_trial(
    trial: &TwinTrial,
    min_windows: usize,
    classes: &ClassSource,
) -> Result<Vec<TwinCell>, TwinError> {
    let mut out = Vec::new();
    for dir in trial.cell_dirs()? {
        let mut cells = load(&dir, min_windows)?;
        if !matches!(classes, ClassSource::Recorded) {
            drop_leftovers(&mut cells);
        }
        match classes {
            ClassSource::Recorded => {}
            ClassSource::Files => {
                let (file, map) = read_classes(&dir)?.ok_or(TwinError::NoClassFile(dir.clone()))?;
                for c in &mut cells {
                    for u in &mut c.ues {
                        let class = map.get(&u.imsi).ok_or_else(|| TwinError::UnknownClass {
                            cell: c.name.clone(),
                            imsi: u.imsi.clone(),
                            file: file.clone(),
                        })?;
                        u.slice = class.snssai();
                    }
                }
            }
            ClassSource::Inferred(model) => {
                for c in &mut cells {
                    for u in &mut c.ues {
                        u.slice = model.classify(&traffic(u)).snssai();
                    }
                }
            }
        }
        for c in &mut cells {
            if matches!(classes, ClassSource::Recorded) {
                reslice(c);
            } else {
                c.slices = ServiceClass::ALL.iter().map(|k| k.snssai()).collect();
            }
            c.name = format!("{}/{}", trial.name, c.name);
        }
        out.extend(cells);
    }
    if out.is_empty() {
        return Err(TwinError::NoRuns(trial.name.clone()));
    }
    Ok(out)
}

/// Drops the multi-UE trials' leftover rows: UE 002 in recorded slice 2 (SST 2 in the
/// mapping), the same rows repeated in every cell folder of the trial, so not the cell's
/// traffic; cells left without a UE go.
fn drop_leftovers(cells: &mut Vec<TwinCell>) {
    for c in cells.iter_mut() {
        c.ues.retain(|u| u.slice.sst == 1);
    }
    cells.retain(|c| !c.ues.is_empty());
}

/// Recomputes a cell's slice list after its UEs changed slice.
fn reslice(c: &mut TwinCell) {
    let mut s: Vec<Snssai> = c.ues.iter().map(|u| u.slice).collect();
    s.sort_unstable();
    s.dedup();
    c.slices = s;
}

/// Traffic features of one UE over its present windows: `[log10(mean offered DL kbit/s +
/// 1), log10((mean UL kbit/s + 1) / (mean offered DL kbit/s + 1)), share of windows with
/// arrivals above 100 bytes]`: rate, direction and burstiness.
pub fn traffic(u: &super::UeTrace) -> [f64; 3] {
    let present: Vec<&super::UeWindow> = u.windows.iter().filter(|w| w.present).collect();
    let n = present.len().max(1) as f64;
    let dl = present.iter().map(|w| w.arrivals_bytes).sum::<f64>() * 8.0 / 0.25 / 1000.0 / n;
    let ul = present.iter().map(|w| w.rec_ul_kbps).sum::<f64>() / n;
    let active = present.iter().filter(|w| w.arrivals_bytes > 100.0).count() as f64 / n;
    [
        (dl + 1.0).log10(),
        ((ul + 1.0) / (dl + 1.0)).log10(),
        active,
    ]
}

/// Nearest-centroid classifier of a UE's service class from its traffic features
/// ([`traffic`]), each feature scaled by its spread over the fitting UEs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Classifier {
    pub centroids: Vec<(ServiceClass, [f64; 3])>,
    pub scale: [f64; 3],
}

impl Classifier {
    /// Fits centroids on labelled UEs.
    pub fn fit(labelled: &[(ServiceClass, [f64; 3])]) -> Self {
        let mut scale = [1.0; 3];
        for (j, s) in scale.iter_mut().enumerate() {
            let xs: Vec<f64> = labelled.iter().map(|(_, f)| f[j]).collect();
            let m = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len().max(1) as f64;
            *s = v.sqrt().max(1e-6);
        }
        let centroids = ServiceClass::ALL
            .iter()
            .filter_map(|c| {
                let fs: Vec<&[f64; 3]> = labelled
                    .iter()
                    .filter(|(k, _)| k == c)
                    .map(|(_, f)| f)
                    .collect();
                (!fs.is_empty()).then(|| {
                    (
                        *c,
                        std::array::from_fn(|j| {
                            fs.iter().map(|f| f[j]).sum::<f64>() / fs.len() as f64
                        }),
                    )
                })
            })
            .collect();
        Self { centroids, scale }
    }

    /// The class whose centroid is nearest (eMBB when nothing was fitted).
    pub fn classify(&self, f: &[f64; 3]) -> ServiceClass {
        self.centroids
            .iter()
            .map(|(c, m)| {
                let d: f64 = (0..3)
                    .map(|j| ((f[j] - m[j]) / self.scale[j]).powi(2))
                    .sum();
                (*c, d)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(ServiceClass::Embb, |x| x.0)
    }
}

/// One labelled UE: its cell folder, IMSI, class and traffic features.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LabelledUe {
    pub cell: String,
    pub imsi: String,
    pub class: ServiceClass,
    pub features: [f64; 3],
    /// Bytes the UE was offered over the trial (idle UEs cannot be told apart, and do
    /// not matter to a policy).
    pub offered_bytes: f64,
}

/// The labelled UEs of a trial with class files (one entry per IMSI and run).
pub fn labelled_ues(trial: &TwinTrial) -> Result<Vec<LabelledUe>, TwinError> {
    let cells = load_trial(trial, 1, &ClassSource::Files)?;
    let mut out = Vec::new();
    for c in &cells {
        for u in &c.ues {
            let class = ServiceClass::ALL
                .into_iter()
                .find(|k| k.snssai() == u.slice)
                .unwrap_or(ServiceClass::Embb);
            out.push(LabelledUe {
                cell: c.name.split('#').next().unwrap_or(&c.name).to_owned(),
                imsi: u.imsi.clone(),
                class,
                features: traffic(u),
                offered_bytes: u.windows.iter().map(|w| w.arrivals_bytes).sum(),
            });
        }
    }
    Ok(out)
}

/// Leave-one-cell-out accuracy of [`Classifier`] on `ues`, over the UEs that offered at
/// least `min_bytes` (weighted by UE count, and by offered bytes).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClassifierCheck {
    pub ues: usize,
    pub correct: usize,
    pub accuracy: f64,
    /// Share of offered bytes carried by correctly classified UEs.
    pub byte_accuracy: f64,
}

pub fn leave_one_cell_out(ues: &[LabelledUe], min_bytes: f64) -> ClassifierCheck {
    let active: Vec<&LabelledUe> = ues
        .iter()
        .filter(|u| u.offered_bytes >= min_bytes)
        .collect();
    let mut cells: Vec<&str> = active.iter().map(|u| u.cell.as_str()).collect();
    cells.sort_unstable();
    cells.dedup();
    let (mut correct, mut bytes_ok, mut bytes) = (0, 0.0, 0.0);
    for cell in cells {
        let train: Vec<(ServiceClass, [f64; 3])> = active
            .iter()
            .filter(|u| u.cell != cell)
            .map(|u| (u.class, u.features))
            .collect();
        let model = Classifier::fit(&train);
        for u in active.iter().filter(|u| u.cell == cell) {
            bytes += u.offered_bytes;
            if model.classify(&u.features) == u.class {
                correct += 1;
                bytes_ok += u.offered_bytes;
            }
        }
    }
    ClassifierCheck {
        ues: active.len(),
        correct,
        accuracy: correct as f64 / active.len().max(1) as f64,
        byte_accuracy: bytes_ok / bytes.max(1e-9),
    }
}

/// The scenario a trial plays the recorded traffic on.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Scenario {
    /// Carrier size [PRB] (the recordings: 50, 10 MHz LTE).
    pub cell_prbs: f64,
    /// Multiplier of every UE's arrivals.
    pub load: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            cell_prbs: f64::from(crate::trace::CELL_PRBS),
            load: 1.0,
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recorded traffic ×{} on a {}-PRB carrier",
            self.load, self.cell_prbs
        )
    }
}

/// Plays `cells` under `scenario`: carrier size set, arrivals scaled.
pub fn apply(cells: &mut [TwinCell], scenario: &Scenario) {
    for c in cells {
        c.prbs = scenario.cell_prbs;
        for u in &mut c.ues {
            for w in &mut u.windows {
                w.arrivals_bytes *= scenario.load;
            }
        }
    }
}

/// How often slices contend in a scenario, measured under open quotas (every slice may
/// use the whole cell, round robin).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Contention {
    pub windows: usize,
    /// Windows with at least one slice with bytes to serve.
    pub busy: usize,
    /// Windows where the slices' demand exceeds the carrier.
    pub saturated: usize,
    /// Windows where two or more slices have demand and together exceed the carrier:
    /// the windows in which a quota split can change what each slice gets.
    pub contended: usize,
}

impl Contention {
    /// Share of all windows that are contended.
    pub fn contended_share(&self) -> f64 {
        self.contended as f64 / self.windows.max(1) as f64
    }
}

/// Contention statistics of `cells` (already under their scenario).
pub fn contention(cells: &[TwinCell], link: &LinkTable) -> Contention {
    let mut out = Contention::default();
    for c in cells {
        let mut st = super::TwinState::new(c);
        let open: Vec<nf_core::policy::SliceQuota> = c
            .slices
            .iter()
            .map(|s| nf_core::policy::SliceQuota {
                snssai: *s,
                min_ratio: 0,
                max_ratio: 100,
                dedicated_ratio: 0,
            })
            .collect();
        for _ in 0..c.len {
            let k = super::step(c, &mut st, &open, link, super::Scheduler::RoundRobin);
            let demand: f64 = k.iter().map(|x| x.demand_prb).sum();
            let with = k.iter().filter(|x| x.demand_prb > 1e-6).count();
            out.windows += 1;
            out.busy += usize::from(k.iter().any(|x| x.offered_bytes >= 1.0));
            let sat = demand > c.prbs;
            out.saturated += usize::from(sat);
            out.contended += usize::from(sat && with >= 2);
        }
    }
    out
}
