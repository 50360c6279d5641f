//! The kernel lab is the `netfence-lab` crate, shared with the controller's tests.
pub use netfence_lab as lab;
