//! (placeholder: filled by issue 10's radio_features work)
