//! (placeholder: the multi-cell radio twin of issue 10)
