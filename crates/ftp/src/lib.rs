//! socklab-ftp (stub; being written)
