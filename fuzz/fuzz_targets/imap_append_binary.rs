//! Any bytes as an APPENDed message with NUL (`imap::append_binary`): never a panic, and what
//! may be stored holds no NUL and keeps every octet outside the re-encoded parts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(stored) = postlab::imap::append_binary::textual(input) {
        assert!(!stored.contains(&0));
        if !input.contains(&0) {
            assert_eq!(&*stored, input);
        }
    }
});
