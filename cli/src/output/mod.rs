//! Output formats.

pub mod coverage_out;
pub mod diff_out;
pub mod lint_out;
pub mod matrix_list;
pub mod matrix_out;
pub mod matrix_table;
pub mod reach_json;
