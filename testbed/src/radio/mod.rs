//! (placeholder: the multi-cell radio twin of issue 10)

pub mod trace;
