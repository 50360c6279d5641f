//! Output formats.

pub mod matrix_out;
pub mod reach_json;
