//! Tests of the planner: tables per behaviour, property tests of the invariants, and a seeded
//! simulation against a lagging, lossy fake provider.

mod cattle;
mod destroy_group;
mod drains;
mod errors;
mod heal;
mod pause;
mod pets;
mod properties;
mod rolling;
mod short_circuit;
mod simulation;
