//! The interference xApp (owner: the xApp work of issue 10).
