//! Tests of `ikctl group`: parsing, rendering, judging a wait, and flows against a fake group
//! plugin.

mod flows;
mod parse;
mod render;
