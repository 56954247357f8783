//! (placeholder: filled by issue 10's conflict work)
