//! (placeholder: the conflict-guidance client of issue 10)
