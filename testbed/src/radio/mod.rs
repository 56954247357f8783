//! The multi-cell radio twin of the interference xApp (issue 10): cells coupled through
//! SINR, UEs replayed from the `ucc5g` operator recordings, handovers and PRB restrictions
//! acting on both cells; its calibration and the offline trial of the mitigation arms.
//!
//! - [`trace`]: the `ucc5g` reader (one recording = one UE).
//! - [`twin`]: the engine ([`RadioTwin`], [`TwinConfig`], [`StepOutput`]).
//! - [`calib`]: fitting the twin's free constants on training recordings, errors on held-out.
//! - [`trial`]: the arms `none`, `a3`, `model` over seeds, paired effects with 95 % CIs.

pub mod calib;
pub mod trace;
pub mod trial;
pub mod twin;

pub use twin::{Calibration, HandoverRefusal, RadioTwin, StepOutput, TwinConfig};
