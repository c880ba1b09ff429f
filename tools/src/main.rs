//! `tinynewton`: host tools.
fn main() {}
