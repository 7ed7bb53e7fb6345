//! Any bytes as a stored message: ENVELOPE and BODYSTRUCTURE are computed without a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|message: &[u8]| {
    let _ = postlab::imap::envelope::envelope(message);
    let _ = postlab::imap::envelope::body_structure(message, true);
    let _ = postlab::imap::header::header_fields(message);
});
