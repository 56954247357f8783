//! (placeholder: the interference xApp's node pipeline of issue 10)
