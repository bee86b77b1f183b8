//! The prompt's limits.

/// Lines each tool's history file keeps; older ones are dropped as new ones come.
pub const MAX_HISTORY: usize = 1000;

/// Candidates Tab lists before it asks whether to show them all.
pub const MAX_LISTED_CANDIDATES: usize = 100;
