//! socklab-shell (stub; being written)
