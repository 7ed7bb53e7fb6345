//! Any bytes as one IMAP command (literals inline): a tagged command or a typed error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = postlab::imap::command::parse(input);
});
