//! Any bytes as one POP3 command line: a command or a typed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = postlab::pop3::command::parse(line);
});
