//! Any bytes as what an IMAP client sends: cut into lines and literals as the server does
//! (`imap::framing`), whole commands assembled and parsed. Checks that memory stays within the
//! limits the framing promises, whatever the sizes announced.
#![no_main]
use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use postlab::imap::framing::{self, Part, MAX_LINE};

/// A small literal limit, so the fuzzer reaches "too large" with few digits.
const MAX_LITERAL: usize = 2048;

fuzz_target!(|input: &[u8]| {
    // A tiny buffer: lines and literals arrive cut at every possible place.
    let mut reader = BufReader::with_capacity(7, input);
    let mut command = Vec::new();
    for _ in 0..256 {
        match framing::read_part_from(&mut reader, MAX_LITERAL, None) {
            Ok(Part::Line { text, literal }) => {
                assert!(text.len() <= MAX_LINE);
                command.extend_from_slice(&text);
                match literal {
                    None => {
                        let _ = postlab::imap::command::parse(&command);
                        command.clear();
                    }
                    Some(literal) => {
                        assert!(literal.size <= MAX_LITERAL);
                        // The server's bound on a whole command (src/imap/server.rs).
                        if command.len() + literal.size > MAX_LITERAL + MAX_LINE {
                            command.clear();
                            continue;
                        }
                        match framing::read_literal_from(&mut reader, literal.size) {
                            Ok(bytes) => {
                                assert_eq!(bytes.len(), literal.size);
                                command.extend_from_slice(b"\r\n");
                                command.extend_from_slice(&bytes);
                            }
                            Err(_) => return,
                        }
                    }
                }
            }
            Ok(Part::TooLong { start }) => {
                assert!(start.len() <= 64);
                let _ = framing::tag_of(&start);
                command.clear();
            }
            Ok(Part::BadLiteral { text, .. }) => {
                let _ = framing::tag_of(&text);
                command.clear();
            }
            Ok(Part::Closed) | Err(_) => return,
        }
    }
});
