//! Whole POP3 dialogues against the session, with no socket: each line in, the responses out.

use std::path::PathBuf;

use super::*;
use crate::hints::Hints;
use crate::pop3::command;

fn config() -> Arc<Config> {
    let mut config = Config::defaults();
    config.hostname = "mx.test".into();
    config.hints = Hints::Off;
    Arc::new(config)
}

fn session(peer: &str) -> Session {
    Session::new(config(), peer.parse().unwrap(), None)
}

fn message(n: u64) -> Message {
    Message {
        path: PathBuf::from(format!("/nowhere/{n}")),
        uid: format!("uid-{n}"),
        size: 100 * n,
    }
}

/// Feeds one line and returns the rendered responses.
fn say(session: &mut Session, line: &str) -> (String, Effect) {
    let output = session.handle(command::parse(line.as_bytes()));
    let text: String = output
        .responses
        .iter()
        .map(|r| r.render(Hints::Off))
        .collect();
    (text, output.effect)
}

/// A session logged in as bob with messages of 100, 200 and 300 octets.
fn logged_in() -> Session {
    let mut s = session("127.0.0.1:4000");
    say(&mut s, "USER bob");
    let (_, effect) = say(&mut s, "PASS secret");
    assert!(matches!(
        effect,
        Effect::LogIn(Credentials::Password { .. })
    ));
    let output = s.logged_in(LoginResult::Ready {
        account: "bob".into(),
        messages: vec![message(1), message(2), message(3)],
    });
    assert_eq!(
        output.responses[0].render(Hints::Off),
        "+OK maildrop locked and ready: 3 messages (600 octets)\r\n"
    );
    s
}

#[test]
fn user_pass_hands_the_credentials_to_the_server_loop() {
    let mut s = session("127.0.0.1:4000");
    assert_eq!(say(&mut s, "PASS x").0, "-ERR send USER first\r\n");
    assert_eq!(say(&mut s, "USER bob").0, "+OK bob: now send PASS\r\n");
    let (text, effect) = say(&mut s, "PASS two words");
    assert_eq!(text, "");
    match effect {
        Effect::LogIn(Credentials::Password { name, password }) => {
            assert_eq!((name.as_str(), password.as_str()), ("bob", "two words"));
        }
        other => panic!("{other:?}"),
    }
    let output = s.logged_in(LoginResult::Rejected);
    assert_eq!(
        output.responses[0].render(Hints::Off),
        "-ERR [AUTH] invalid user name or password\r\n"
    );
    assert_eq!(
        say(&mut s, "PASS again").0,
        "-ERR send USER first\r\n",
        "a failed PASS forgets the USER"
    );
    let output = s.logged_in(LoginResult::InUse);
    assert!(output.responses[0]
        .render(Hints::Off)
        .starts_with("-ERR [IN-USE] "));
}

#[test]
fn credentials_never_show_in_debug_output() {
    let credentials = Credentials::Password {
        name: "bob".into(),
        password: "secret".into(),
    };
    assert!(!format!("{credentials:?}").contains("secret"));
}

#[test]
fn plaintext_is_refused_and_not_offered_off_loopback() {
    let mut s = session("192.0.2.7:4000");
    let (capa, _) = say(&mut s, "CAPA");
    assert!(!capa.contains("USER") && !capa.contains("SASL"), "{capa}");
    assert!(capa.contains("\r\nRESP-CODES\r\n"));
    assert!(say(&mut s, "USER bob").0.starts_with("-ERR [AUTH] "));
    assert!(say(&mut s, "AUTH PLAIN AGJvYgB4")
        .0
        .starts_with("-ERR [AUTH] "));
    let mut local = session("127.0.0.1:4000");
    let (capa, _) = say(&mut local, "CAPA");
    assert!(capa.contains("\r\nUSER\r\nSASL PLAIN\r\n"), "{capa}");
}

#[test]
fn auth_plain_with_continuation_and_cancel() {
    let mut s = session("127.0.0.1:4000");
    assert_eq!(say(&mut s, "AUTH PLAIN").0, "+ \r\n");
    assert!(s.expects_sasl_response());
    let output = s.sasl_response(b"*");
    assert_eq!(
        output.responses[0].render(Hints::Off),
        "-ERR authentication cancelled\r\n"
    );
    assert!(!s.expects_sasl_response());
    say(&mut s, "AUTH PLAIN");
    // "\0bob\0bob-password"
    let output = s.sasl_response(b"AGJvYgBib2ItcGFzc3dvcmQ=");
    assert!(matches!(
        output.effect,
        Effect::LogIn(Credentials::Password { ref name, ref password })
            if name == "bob" && password == "bob-password"
    ));
    say(&mut s, "AUTH PLAIN");
    let output = s.handle(Err(CommandError::LineTooLong));
    assert!(output.responses[0].is_err());
    assert!(
        !s.expects_sasl_response(),
        "an overlong response ends the exchange"
    );
    let (text, _) = say(&mut s, "AUTH CRAM-MD5");
    assert!(text.starts_with("-ERR unsupported"), "{text}");
    assert!(say(&mut s, "AUTH PLAIN !!!")
        .0
        .starts_with("-ERR cannot decode"));
}

#[test]
fn apop_only_when_the_greeting_offered_it() {
    let mut without = session("127.0.0.1:4000");
    assert!(!without.greeting().responses[0]
        .render(Hints::Off)
        .contains('<'));
    assert!(say(&mut without, "APOP bob 00")
        .0
        .starts_with("-ERR [AUTH] "));
    let stamp = "<1.2@mx.test>".to_string();
    let mut with = Session::new(config(), "127.0.0.1:4000".parse().unwrap(), Some(stamp));
    assert_eq!(
        with.greeting().responses[0].render(Hints::Off),
        "+OK mx.test POP3 postlab ready <1.2@mx.test>\r\n"
    );
    let (_, effect) = say(&mut with, "APOP bob 00");
    assert!(
        matches!(effect, Effect::LogIn(Credentials::Apop { ref timestamp, .. }) if timestamp == "<1.2@mx.test>")
    );
}

#[test]
fn transaction_commands_before_login_are_refused() {
    let mut s = session("127.0.0.1:4000");
    for line in [
        "STAT", "LIST", "RETR 1", "DELE 1", "RSET", "TOP 1 1", "UIDL", "NOOP",
    ] {
        assert_eq!(say(&mut s, line).0, "-ERR not logged in yet\r\n", "{line}");
    }
}

#[test]
fn listing_and_numbers() {
    let mut s = logged_in();
    assert_eq!(say(&mut s, "STAT").0, "+OK 3 600\r\n");
    assert_eq!(
        say(&mut s, "LIST").0,
        "+OK 3 messages (600 octets)\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n"
    );
    assert_eq!(say(&mut s, "LIST 2").0, "+OK 2 200\r\n");
    assert_eq!(say(&mut s, "UIDL 3").0, "+OK 3 uid-3\r\n");
    for line in ["LIST 0", "LIST 4", "RETR 99999999999", "DELE 0", "TOP 9 1"] {
        assert_eq!(say(&mut s, line).0, "-ERR no such message\r\n", "{line}");
    }
    assert!(say(&mut s, "RETR -1").0.starts_with("-ERR syntax error"));
    assert!(say(&mut s, "USER bob")
        .0
        .starts_with("-ERR already logged in"));
    let (text, effect) = say(&mut s, "RETR 2");
    assert_eq!(text, "+OK 200 octets\r\n");
    assert!(matches!(
        effect,
        Effect::SendMessage {
            number: 2,
            body_lines: None,
            ..
        }
    ));
    let (_, effect) = say(&mut s, "TOP 1 5");
    assert!(matches!(
        effect,
        Effect::SendMessage {
            number: 1,
            body_lines: Some(5),
            ..
        }
    ));
}

#[test]
fn dele_marks_rset_undoes_quit_removes() {
    let mut s = logged_in();
    assert_eq!(say(&mut s, "DELE 2").0, "+OK message 2 deleted\r\n");
    assert_eq!(
        say(&mut s, "DELE 2").0,
        "-ERR message 2 already deleted\r\n"
    );
    assert_eq!(
        say(&mut s, "RETR 2").0,
        "-ERR message 2 already deleted\r\n"
    );
    assert_eq!(say(&mut s, "STAT").0, "+OK 2 400\r\n");
    assert_eq!(
        say(&mut s, "UIDL").0,
        "+OK unique-id listing follows\r\n1 uid-1\r\n3 uid-3\r\n.\r\n"
    );
    assert_eq!(
        say(&mut s, "RSET").0,
        "+OK maildrop has 3 messages (600 octets)\r\n"
    );
    say(&mut s, "DELE 1");
    say(&mut s, "DELE 3");
    let (text, effect) = say(&mut s, "QUIT");
    assert_eq!(text, "");
    match effect {
        Effect::Remove { doomed, kept } => {
            assert_eq!(doomed, vec![message(1), message(3)]);
            assert_eq!(kept, 1);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.state(), &State::Update);
    let output = s.updated(1, true);
    assert!(matches!(output.effect, Effect::Close));
    assert_eq!(
        output.responses[0].render(Hints::Off),
        "+OK postlab POP3 server signing off (1 messages left)\r\n"
    );
    assert!(s.updated(1, false).responses[0]
        .render(Hints::Off)
        .starts_with("-ERR [SYS/TEMP]"));
}

#[test]
fn quit_before_login_just_closes() {
    let mut s = session("127.0.0.1:4000");
    let (text, effect) = say(&mut s, "QUIT");
    assert_eq!(text, "+OK postlab POP3 server signing off\r\n");
    assert!(matches!(effect, Effect::Close));
}

#[test]
fn too_many_errors_close_the_session() {
    let mut s = session("127.0.0.1:4000");
    for _ in 1..config().max_errors {
        assert!(matches!(say(&mut s, "BOGUS").1, Effect::None));
    }
    let (text, effect) = say(&mut s, "BOGUS");
    assert!(
        text.ends_with("-ERR too many errors, closing the connection\r\n"),
        "{text}"
    );
    assert!(matches!(effect, Effect::Close));
}

#[test]
fn timeout_closes_silently() {
    let mut s = logged_in();
    let output = s.timeout();
    assert!(output.responses.is_empty());
    assert!(matches!(output.effect, Effect::Close));
}
