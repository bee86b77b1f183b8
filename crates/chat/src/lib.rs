//! socklab-chat (stub; being written)
