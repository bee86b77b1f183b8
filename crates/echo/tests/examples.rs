//! The teaching examples print what they claim: `cargo test` builds examples into
//! target/<profile>/examples/, next to the directory of the binaries under test.

fn run_example(name: &str) -> String {
    socklab_testkit::run_example(name, &[])
}

#[test]
fn sticky_example_shows_two_sends_glued_then_framed_apart() {
    let out = run_example("sticky");
    assert!(out.contains(r#"server recv -> "helloworld""#), "{out}");
    assert!(out.contains("1 recv for 2 sends"), "{out}");
    assert!(out.contains(r#"server read_frame -> "hello""#), "{out}");
    assert!(out.contains(r#"server read_frame -> "world""#), "{out}");
    assert!(out.contains("2 messages for 2 sends"), "{out}");
}

#[test]
fn reuseaddr_example_fails_without_the_option_and_binds_with_it() {
    let out = run_example("reuseaddr");
    let (off, on) = out
        .split_once("SO_REUSEADDR on:")
        .expect("both runs printed");
    assert!(off.contains("bind failed: Address already in use"), "{out}");
    assert!(on.contains(": bound"), "{out}");
}
