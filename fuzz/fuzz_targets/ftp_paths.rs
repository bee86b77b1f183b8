//! Any bytes as a remote path and as a file-server request: the path validator never
//! panics, and a path it accepts can never leave the root (no empty, `.` or `..`
//! component, not absolute, within the depth and length limits). The request parser
//! (`FtpRequest`, read as the server reads it) never panics either, and every path in a
//! request it accepts goes through the same validator.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_ftp::limits::{MAX_PATH_DEPTH, MAX_PATH_LEN};
use socklab_ftp::paths::split_path;
use socklab_ftp::request::FtpRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(parts) = split_path(text) {
            assert!(!text.starts_with('/') && text.len() <= MAX_PATH_LEN);
            assert!(!parts.is_empty() && parts.len() <= MAX_PATH_DEPTH);
            for p in parts {
                assert!(!p.is_empty() && p != "." && p != ".." && !p.contains(['/', '\\', '\0']));
            }
        }
    }
    if let Ok(request) = serde_json::from_slice::<FtpRequest>(data) {
        let paths: Vec<&str> = match &request {
            FtpRequest::List { path } => path.iter().map(String::as_str).collect(),
            FtpRequest::Stat { path }
            | FtpRequest::Get { path, .. }
            | FtpRequest::Put { path, .. }
            | FtpRequest::Mkdir { path, .. }
            | FtpRequest::Delete { path } => vec![path.as_str()],
            FtpRequest::Rename { from, to, .. } => vec![from.as_str(), to.as_str()],
            FtpRequest::Login { .. } | FtpRequest::Exec { .. } => vec![],
        };
        for p in paths {
            let _ = split_path(p);
        }
        let _ = format!("{request:?}");
    }
});
