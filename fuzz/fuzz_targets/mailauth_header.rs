//! Any message content from another server: removing our own `Authentication-Results:` never
//! panics, never touches the body, and keeps every other header line; finding the author's
//! domain never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let mut notes = Vec::new();
    let kept = postlab::mailauth::check::strip_our_results(input, "mx.test", &mut notes);
    assert!(kept.len() <= input.len());
    // The body (after the first CRLF CRLF) is left exactly as it came.
    if let Some(at) = input.windows(4).position(|w| w == b"\r\n\r\n") {
        assert!(kept.ends_with(&input[at + 2..]), "the body changed");
    }
    if notes.is_empty() {
        assert_eq!(kept, input, "nothing removed, yet the content changed");
    }
    let _ = postlab::mailauth::author_domain(input);
});
