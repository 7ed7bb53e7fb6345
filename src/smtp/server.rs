//! The SMTP server loop: read a line, feed the session, send the replies, carry out the effect.
//!
//! This file is the only place SMTP bytes meet the network, and [`Chat`] is the only door
//! through which they reach the transcript (like Postfix's `smtpd_chat.c`): every line read or
//! written passes through it, labelled with its flowchart step, and secrets are redacted there.
//!
//! TLS happens here too: STARTTLS (RFC 3207) switches the connection in the middle of the
//! dialogue, and the SMTPS port (RFC 8314 §3.3) does the handshake before the first 220. Either
//! way the session learns only that the connection is now encrypted.
//!
//! Replies leave through the connection's bounded output (`src/net.rs`, 64 KiB): a client that
//! pipelines thousands of commands and never reads the replies blocks its session once the
//! buffers are full, and is cut after `idle_timeout` (`pace::Cut::NotReading`), as Postfix
//! cuts one after `smtpd_timeout`.

use std::net::TcpStream;
use std::sync::Arc;

use super::command::{self, CommandError};
use super::data;
use super::reply::{self, Reply};
use super::session::{Effect, Mode, Output, Session};
use crate::accounts::login;
use crate::context::Shared;
use crate::hints::Hints;
use crate::ids::SessionId;
use crate::mta::accept;
use crate::net::{self, Conn, Line};
use crate::pace::Cut;
use crate::sessions::SessionGuard;
use crate::tls;
use crate::transcript::{Step, Transcript};

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;

/// The connection plus its transcript: the one door for SMTP lines.
pub struct Chat {
    pub conn: Conn,
    pub transcript: Transcript,
    hints: Hints,
    /// This session in the server's registry, so SIGTERM can say goodbye (`src/daemon.rs`).
    watch: SessionGuard,
}

impl Chat {
    /// Logs a client line, redacting what must never be written down: the argument of AUTH
    /// (RFC 4954 credentials) and every line of an AUTH exchange (`secret`), by the rules of
    /// `src/redact.rs`. The mechanism name stays, so a student can see what was tried.
    fn client_line(&mut self, line: &[u8], secret: bool) {
        let text = String::from_utf8_lossy(line);
        self.transcript
            .client(Step::Mta, &crate::redact::smtp(&text, secret));
    }

    fn send(&mut self, reply: &Reply) {
        let wire = reply.render(self.hints);
        for line in wire.lines() {
            self.transcript.server(Step::Mta, line);
        }
        self.conn.send(wire.as_bytes());
    }
}

/// Serves one SMTP client from connect to close. Runs on the connection's own thread.
/// `mode` says whether this is port 25 (relay) or the submission port.
pub fn serve_client(stream: TcpStream, shared: Arc<Shared>, mode: Mode) {
    let service = match mode {
        Mode::Relay => "smtp",
        Mode::Submission => "submission",
    };
    let Some(mut chat) = open_chat(stream, &shared, service) else {
        return;
    };
    let mut session = Session::new(
        shared.session_config(),
        shared.accounts.current(),
        chat.conn.peer,
        mode,
    )
    .with_faults(shared.faults.current());
    if shared.tls.is_some() {
        session = session.with_starttls();
    }
    converse(&mut chat, &mut session, &shared);
}

/// SMTPS (RFC 8314 §3.3, port 465): TLS from the first byte, then a submission session, which
/// requires AUTH as on port 587.
pub fn serve_implicit_tls(stream: TcpStream, shared: Arc<Shared>) {
    let Some(mut chat) = open_chat(stream, &shared, "smtps") else {
        return;
    };
    let ports = match (shared.port_of("submission"), shared.port_of("smtp")) {
        (Some(submission), Some(smtp)) => format!("{submission} (submission) or {smtp}"),
        (Some(port), None) | (None, Some(port)) => port.to_string(),
        (None, None) => "587".to_string(),
    };
    let hint = reply::plain_text_on_tls_port(&ports).render(chat.hints);
    let tls = shared.tls.as_deref();
    if !tls::handshake_implicit(&mut chat.conn, &mut chat.transcript, Step::Mta, tls, &hint) {
        return;
    }
    let session = Session::new(
        shared.session_config(),
        shared.accounts.current(),
        chat.conn.peer,
        Mode::Submission,
    )
    .with_faults(shared.faults.current());
    let negotiated = chat
        .conn
        .negotiated()
        .map(|n| n.to_string())
        .unwrap_or_default();
    converse(
        &mut chat,
        &mut session.with_implicit_tls(negotiated),
        &shared,
    );
}

/// Sets the socket's timeouts and starts the transcript: `[1 MUA] connect from …`.
fn open_chat(stream: TcpStream, shared: &Shared, service: &str) -> Option<Chat> {
    let config = shared.session_config();
    let _ = stream.set_write_timeout(Some(config.idle_timeout));
    let _ = stream.set_nodelay(true);
    let watch = shared.sessions.register(&stream, service);
    // Silence, and one command or DATA line from its first octet, may take at most the idle
    // time (less when the server is busy: `src/pace.rs`).
    let conn = Conn::tcp(stream, shared.load.clone(), config.idle_timeout).ok()?;
    let mut transcript = Transcript::create(&shared.data.transcripts(), &SessionId::new(), service);
    transcript.note(
        Step::Mua,
        &format!("connect from {} to {service} {}", conn.peer, conn.local),
    );
    Some(Chat {
        conn,
        transcript,
        hints: config.hints,
        watch,
    })
}

/// Runs the TLS handshake on the connection (see [`tls::handshake`]). On false the connection
/// is unusable and must be closed.
fn handshake(chat: &mut Chat, tls: Option<&tls::ServerTls>) -> bool {
    tls::handshake(&mut chat.conn, &mut chat.transcript, Step::Mta, tls)
}

/// The dialogue, from the 220 greeting to the close.
fn converse(chat: &mut Chat, session: &mut Session, shared: &Shared) {
    let mut output = session.greeting();
    loop {
        if !carry_out(chat, session, output, shared) {
            break;
        }
        if let Err(e) = chat.conn.flush_if_idle() {
            chat.transcript.note(Step::Mta, &net::send_failed(&e));
            break;
        }
        // SIGTERM: an idle session is woken here, a busy one arrives after its command.
        let Some(read) = chat.watch.read(|| chat.conn.read_line(MAX_COMMAND_LINE)) else {
            chat.send(&super::reply::shutting_down());
            break;
        };
        output = match read {
            Ok(Line::Text(line)) if session.awaiting_auth_line() => {
                chat.client_line(&line, true);
                session.auth_line(&String::from_utf8_lossy(&line))
            }
            Ok(Line::Text(line)) => {
                chat.client_line(&line, false);
                session.handle(command::parse(&line))
            }
            Ok(Line::BareLf(line)) => {
                chat.client_line(&line, session.awaiting_auth_line());
                chat.transcript
                    .note(Step::Mta, "(that line ended in a bare LF, not CRLF)");
                session.handle(Err(CommandError::BareLineEnding))
            }
            Ok(Line::TooLong) => {
                chat.transcript.client(
                    Step::Mta,
                    &format!("<a line over {MAX_COMMAND_LINE} octets, discarded>"),
                );
                session.handle(Err(CommandError::LineTooLong))
            }
            Ok(Line::Closed) => {
                chat.transcript
                    .note(Step::Mta, "client closed the connection");
                break;
            }
            Err(e) if net::is_cut_off(&e) => {
                chat.transcript.note(Step::Mta, &format!("cut off: {e}"));
                session.cut_off(Cut::of(&e))
            }
            Err(e) => {
                chat.transcript
                    .note(Step::Mta, &format!("connection lost: {e}"));
                break;
            }
        };
    }
    let _ = chat.conn.flush();
    chat.transcript.note(Step::Mta, "session ends");
}

/// Sends the replies and logs the events of one [`Output`], then does what its effect asks.
/// Returns false when the connection must close.
fn carry_out(chat: &mut Chat, session: &mut Session, output: Output, shared: &Shared) -> bool {
    chat.transcript.events(
        output
            .events
            .iter()
            .map(|e| (e.step, &e.id, e.text.as_str())),
    );
    for reply in &output.replies {
        chat.send(reply);
    }
    match output.effect {
        Effect::None => true,
        Effect::Close => false,
        Effect::StartTls => {
            if !handshake(chat, shared.tls.as_deref()) {
                return false;
            }
            let negotiated = chat.conn.negotiated().map(|n| n.to_string());
            session.tls_started(negotiated.unwrap_or_default());
            true
        }
        Effect::ReadData { max_size } => {
            let line_deadline = chat.conn.line_deadline();
            // The client waits for 354 before it sends the message.
            if chat.conn.flush().is_err() {
                return false;
            }
            chat.conn.begin_transfer();
            let budget = Some(&shared.data_budget);
            let data = data::read_data(chat.conn.reader(), max_size, line_deadline, budget);
            chat.conn.end_transfer();
            match data {
                Ok(mut data) => {
                    chat.transcript.client(
                        Step::Mta,
                        &format!(
                            "<message content: {} octets in {} lines>",
                            data.size, data.lines
                        ),
                    );
                    chat.transcript.client(Step::Mta, ".");
                    // The content stays counted against the shared budget until it is
                    // delivered (written to disk) or refused.
                    let held = data.reservation.take();
                    let next = session.data_received(data);
                    let go_on = carry_out(chat, session, next, shared);
                    drop(held);
                    go_on
                }
                Err(e) if net::is_cut_off(&e) => {
                    chat.transcript.note(Step::Mta, &format!("cut off: {e}"));
                    let next = session.cut_off(Cut::of(&e));
                    carry_out(chat, session, next, shared)
                }
                Err(e) => {
                    chat.transcript.note(
                        Step::Mta,
                        &format!("connection lost during DATA, nothing accepted: {e}"),
                    );
                    false
                }
            }
        }
        Effect::Deliver(mut message) => {
            let faults = shared.faults.current();
            let recipients: Vec<String> = message
                .envelope
                .recipients
                .iter()
                .map(|r| r.address.to_string())
                .collect();
            if let Some(rule) = faults.data(recipients.iter().map(String::as_str)) {
                match &rule.action {
                    crate::faults::Action::Delay(delay) => {
                        chat.transcript.event(
                            Step::Mta,
                            &message.envelope.id,
                            &format!(
                                "{}: waiting {} ms before answering",
                                rule.label(),
                                delay.as_millis()
                            ),
                        );
                        let _ = chat.conn.flush();
                        std::thread::sleep(*delay);
                    }
                    crate::faults::Action::Reply { code, status, text } => {
                        let next =
                            session.fault_reply(&message.envelope.id, rule, *code, status, text);
                        return carry_out(chat, session, next, shared);
                    }
                    crate::faults::Action::Tamper => {
                        // A line added to the body, as a careless server on the way might.
                        message
                            .content
                            .extend_from_slice(b"(changed on the way)\r\n");
                        let text = format!("{}: the body was changed in transit", rule.label());
                        chat.transcript
                            .event(Step::Mta, &message.envelope.id, &text);
                    }
                    _ => {}
                }
            }
            let outcome = accept::accept(shared, &message);
            let next = session.delivered(&message.envelope.id, outcome);
            carry_out(chat, session, next, shared)
        }
        Effect::Authenticate(credentials) => {
            let ip = chat.conn.peer.ip();
            // Brute force: wait before answering a client that keeps failing (login.rs).
            std::thread::sleep(shared.logins.delay(ip, &credentials.user));
            let directory = shared.accounts.current();
            // RFC 4616 §2: acting as someone else (an authzid other than the user) is not allowed.
            let account =
                login::check_password(&directory, &credentials.user, &credentials.password).filter(
                    |account| {
                        credentials.authzid.is_empty()
                            || credentials.authzid.eq_ignore_ascii_case(account)
                    },
                );
            match &account {
                Some(account) => {
                    shared.logins.succeeded(ip, account);
                    chat.transcript
                        .note(Step::Mta, &format!("logged in as {account}"));
                }
                None => {
                    shared.logins.failed(ip, &credentials.user);
                    // The name may be a typo of the password: log only that a login failed.
                    chat.transcript.note(Step::Mta, "login failed");
                    log::warn!("SMTP login failed from {ip}");
                }
            }
            let next = session.authenticated(account);
            carry_out(chat, session, next, shared)
        }
    }
}
