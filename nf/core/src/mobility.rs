//! (placeholder: filled by issue 10's mobility work)
