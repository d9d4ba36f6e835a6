//! The seeded simulation of the whole driver (to come).
