//! The file-name validator: whatever it accepts is one safe path component.
#![no_main]
use libfuzzer_sys::fuzz_target;
use socklab_proto::names::{escape, validate_name};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let shown = escape(name);
    assert!(
        !shown.chars().any(char::is_control),
        "escape let a control character through"
    );
    if validate_name(name).is_ok() {
        assert!(!name.is_empty() && name != "." && name != "..");
        assert!(!name.contains(['/', '\\', '\0']));
        assert!(!name.chars().any(char::is_control));
        assert!(name.len() <= socklab_proto::limits::MAX_NAME_LEN);
        let p = std::path::Path::new(name);
        assert_eq!(
            p.components().count(),
            1,
            "{name:?} is more than one component"
        );
    }
});
