//! What the three benchmark binaries share: `bench` (src/main.rs), `burst-sim` (src/burst.rs)
//! and `fleet-sim` (src/fleet.rs). The harness they run on (loopback Runtime API,
//! moto_server, the simulations) is `wire_tests`; this is only their reporting.

pub mod machine;
pub mod stats;
pub mod svg;
