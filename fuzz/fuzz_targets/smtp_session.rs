//! Any bytes as a whole SMTP conversation, through the real session state machine
//! (`smtp::session`, which does no I/O): each line parsed and handled, DATA read by the real
//! DATA reader, every effect answered as the server would (a delivery accepted or refused, a
//! login right or wrong, STARTTLS done). Checks that no sequence of commands panics, and that
//! every reply is a well-formed SMTP reply.
#![no_main]
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use postlab::accounts::users::Users;
use postlab::accounts::Directory;
use postlab::config::Config;
use postlab::mda::Failure;
use postlab::mta::accept::Outcome;
use postlab::smtp::session::{Effect, Mode, Output, Session};
use postlab::smtp::{command, data};

fuzz_target!(|input: &[u8]| {
    let Some((&knobs, input)) = input.split_first() else {
        return;
    };
    // The first octet chooses the door, the client's address and what the effects answer.
    let mode = if knobs & 1 == 0 { Mode::Relay } else { Mode::Submission };
    let peer: SocketAddr = if knobs & 2 == 0 {
        "127.0.0.1:40000".parse().unwrap()
    } else {
        "192.0.2.7:40000".parse().unwrap()
    };
    let config = Arc::new(Config {
        hostname: "mx.test".into(),
        domains: vec!["localhost".into()],
        max_message_size: 4096,
        max_recipients: 5,
        ..Config::defaults()
    });
    let directory = Arc::new(Directory {
        users: Users::parse("bob:{PLAIN}pw\nalice:{PLAIN}pw\n").unwrap(),
        ..Directory::default()
    });
    let mut session = Session::new(config, directory, peer, mode);
    if knobs & 4 != 0 {
        session = session.with_starttls();
    }
    check(&session.greeting());
    let mut reader = BufReader::with_capacity(64, input);
    for _ in 0..200 {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let mut output = if session.awaiting_auth_line() {
            session.auth_line(&String::from_utf8_lossy(text))
        } else {
            session.handle(command::parse(text))
        };
        // Carry out effects as the server does, until the session waits for a line again.
        loop {
            check(&output);
            output = match output.effect {
                Effect::None => break,
                Effect::Close => return,
                Effect::StartTls => {
                    session.tls_started("TLSv1.3 TLS_AES_256_GCM_SHA384".to_string());
                    break;
                }
                Effect::Authenticate(_) => session.authenticated(
                    (knobs & 8 != 0).then(|| "bob".to_string()),
                ),
                Effect::ReadData { max_size } => {
                    match data::read_data(&mut reader, max_size, None, None) {
                        Ok(data) => session.data_received(data),
                        Err(_) => return,
                    }
                }
                Effect::Deliver(message) => {
                    let outcome = if knobs & 16 == 0 {
                        Outcome::Accepted {
                            delivered: Vec::new(),
                            queued: message
                                .envelope
                                .recipients
                                .iter()
                                .map(|r| r.address.clone())
                                .collect(),
                            notes: Vec::new(),
                        }
                    } else {
                        Outcome::Transient(Failure::StorageFull("full".into()))
                    };
                    session.delivered(&message.envelope.id, outcome)
                }
            };
        }
    }
});

/// Every reply: a code from 200 to 599 and no CR or LF inside a line.
fn check(output: &Output) {
    for reply in &output.replies {
        let text = reply.render(postlab::hints::Hints::English);
        assert!(text.ends_with("\r\n"), "{text:?}");
        for line in text.strip_suffix("\r\n").unwrap().split("\r\n") {
            assert!(line.len() >= 3, "{text:?}");
            let code: u16 = line[..3].parse().expect("a reply code");
            assert!((200..600).contains(&code), "{text:?}");
            assert!(!line.contains(['\r', '\n']), "{text:?}");
        }
    }
}
