//! The IMAP server loop: frame a command (with its literals), feed the session, send the
//! responses, carry out the effect (AUTHENTICATE's second line, IDLE, close).
//!
//! [`Chat`] is the one door through which IMAP lines reach the transcript, labelled
//! `[7 ACCESS]`. It redacts what must never be written down: LOGIN's password, AUTHENTICATE's
//! initial response and its continuation line (RFC 4616 PLAIN carries the password). Literals
//! are logged by size, and so are message contents in FETCH responses.
//!
//! What one connection may hold in memory (its thread's stack aside):
//!
//! - before login: its I/O buffers (`src/net.rs`: 16 KiB in, at most 64 KiB out), one command
//!   of at most a 64 KiB line plus literals of at most 8 KiB
//!   (`framing::MAX_LITERAL_BEFORE_LOGIN`), and a turn at the password gate, whose 19 MiB
//!   buffers are shared by the whole server (`accounts/password.rs`). About 50 KiB measured.
//! - after login: the same buffers, one command up to `max_message_size` plus a line (APPEND's
//!   literal), and while FETCH answers, one message's octets and one piece made from them
//!   (`fetch::Later`), however many messages or items the command names. Output goes out as
//!   it is made; a client that stops reading blocks its session, which is cut after the idle
//!   time (`pace::Cut::NotReading`).

use std::io::BufRead;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::command;
use super::framing::{self, LiteralProblem, Part};
use super::response::{self as r, Response};
use super::session::{Effect, LoginEvent, Output, Session, State};
use crate::context::Shared;
use crate::hints::Hints;
use crate::ids::SessionId;
use crate::net::{self, Conn, Line};
use crate::pace::Cut;
use crate::tls;
use crate::transcript::{Step, Transcript};

/// A FETCH response's transcript line stops after this many characters (a client may ask
/// for thousands of items in one command).
const MAX_LOG_LINE: usize = 4096;

/// How often IDLE looks at the Maildir for new mail and changes.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// The connection plus its transcript: the one door for IMAP lines.
pub struct Chat {
    pub conn: Conn,
    pub transcript: Transcript,
    /// Student hints after a failed command's text, and in which language (`src/hints.rs`).
    pub hints: Hints,
}

impl Chat {
    /// Logs a client line with secrets removed (`src/redact.rs`): `a1 LOGIN alice <password
    /// hidden>`, `a2 AUTHENTICATE PLAIN <credentials hidden>`. `so_far` is what came before
    /// this line in the same command (empty for its first line): after a LOGIN's literal
    /// user name, the rest of the line is its password.
    fn client_line(&mut self, line: &[u8], so_far: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let so_far = String::from_utf8_lossy(so_far);
        self.transcript
            .client(Step::Access, &crate::redact::imap(&text, &so_far));
    }

    /// Sends a response as it is made (`Response::write`): a FETCH's pieces go to the
    /// connection one by one, under its backpressure, and to the transcript by size.
    fn send(&mut self, response: &Response) {
        let conn = &mut self.conn;
        match response {
            Response::Fetch(later) => {
                let mut line = String::new();
                later.render(&mut |piece| {
                    if line.len() < MAX_LOG_LINE {
                        piece.log(&mut line);
                    }
                    piece.write(&mut |bytes| conn.send(bytes));
                    // A client that is gone (or cut) is not worth more work.
                    !conn.is_broken()
                });
                if line.len() > MAX_LOG_LINE {
                    line.truncate(line.floor_char_boundary(MAX_LOG_LINE));
                    line.push_str(" …");
                }
                let line = line.trim_end_matches("\r\n");
                // Nothing at all for a message gone by now (the tagged reply says so).
                if !line.is_empty() {
                    self.transcript.server(Step::Access, line);
                }
            }
            _ => {
                self.transcript
                    .server(Step::Access, &response.log_line_with(self.hints));
                response.write_with(self.hints, &mut |bytes| conn.send(bytes));
            }
        }
    }
}

/// Serves one IMAP client from connect to close. Runs on the connection's own thread.
pub fn serve_client(stream: TcpStream, shared: Arc<Shared>) {
    serve(stream, shared, false);
}

/// IMAPS (RFC 8314 §3.3, port 993): TLS from the first byte, then the same session.
pub fn serve_implicit_tls(stream: TcpStream, shared: Arc<Shared>) {
    serve(stream, shared, true);
}

fn serve(stream: TcpStream, shared: Arc<Shared>, implicit_tls: bool) {
    let idle_timeout = shared.config.imap_idle_timeout;
    let _ = stream.set_write_timeout(Some(shared.config.idle_timeout));
    let _ = stream.set_nodelay(true);
    // This session in the server's registry, so SIGTERM can say goodbye (`src/daemon.rs`).
    let watch = shared
        .sessions
        .register(&stream, if implicit_tls { "imaps" } else { "imap" });
    // Silence, and one command line from its first octet, may take at most the idle time
    // (less when the server is busy: `src/pace.rs`).
    let Ok(conn) = Conn::tcp(stream, shared.load.clone(), idle_timeout) else {
        return;
    };
    let (peer, local) = (conn.peer, conn.local);
    let service = if implicit_tls { "imaps" } else { "imap" };
    let mut transcript = Transcript::create(&shared.data.transcripts(), &SessionId::new(), service);
    transcript.note(
        Step::Access,
        &format!("connect from {peer} to {service} {local}"),
    );
    let hints = shared.session_config().hints;
    let mut chat = Chat {
        conn,
        transcript,
        hints,
    };
    let tls = shared.tls.as_deref();
    if implicit_tls {
        let port = shared.port_of("imap").unwrap_or(143).to_string();
        let hint = r::plain_text_on_tls_port(&port).wire_with(hints);
        let hint = String::from_utf8_lossy(&hint).into_owned();
        if !tls::handshake_implicit(
            &mut chat.conn,
            &mut chat.transcript,
            Step::Access,
            tls,
            &hint,
        ) {
            return;
        }
    }
    let config = shared.session_config();
    let max_literal = config.max_message_size;
    let mut session = Session::new(
        config,
        shared.accounts.current(),
        shared.data.mail(),
        peer.ip(),
    );
    if implicit_tls {
        session = session.with_implicit_tls();
    } else if shared.tls.is_some() {
        session = session.with_starttls();
    }
    let mut output = session.greeting();
    loop {
        if !carry_out(&mut chat, &mut session, output, &shared) {
            break;
        }
        if let Err(e) = chat.conn.flush_if_idle() {
            chat.transcript.note(Step::Access, &net::send_failed(&e));
            break;
        }
        // SIGTERM: an idle session is woken here, a FETCH in flight arrives after it is sent.
        // A stranger may send only small literals (`framing::MAX_LITERAL_BEFORE_LOGIN`).
        let literal_limit = if session.state == State::NotAuthenticated {
            framing::MAX_LITERAL_BEFORE_LOGIN
        } else {
            max_literal
        };
        let Some(read) = watch.read(|| read_command(&mut chat, literal_limit, &session)) else {
            chat.send(&r::shutting_down());
            break;
        };
        output = match read {
            Ok(Got::Input(input)) => {
                session.login_delay = shared.logins.client_delay(peer.ip());
                session.handle(input)
            }
            Ok(Got::Refused(response)) => Output::only(response),
            Ok(Got::Closed) => {
                chat.transcript
                    .note(Step::Access, "client closed the connection");
                break;
            }
            Err(e) if net::is_cut_off(&e) => {
                chat.transcript.note(Step::Access, &format!("cut off: {e}"));
                session.cut_off(Cut::of(&e))
            }
            Err(e) => {
                chat.transcript
                    .note(Step::Access, &format!("connection lost: {e}"));
                break;
            }
        };
        record_login(&shared, peer.ip(), session.login_event.take(), &mut output);
    }
    let _ = chat.conn.flush();
    chat.transcript.note(Step::Access, "session ends");
}

type Input = Result<command::Tagged, command::CommandError>;

/// What [`read_command`] got.
enum Got {
    Input(Input),
    /// Refused in the framing layer, with this response.
    Refused(Response),
    Closed,
}

/// Reads one whole command with its literals (see `framing`), or an answer that refuses it.
/// The session may refuse a synchronizing literal before it is sent (APPEND to a folder that
/// does not exist: [`Session::refuse_before_literal`]).
fn read_command(chat: &mut Chat, max_literal: usize, session: &Session) -> std::io::Result<Got> {
    let mut buffer = Vec::new();
    loop {
        let part = framing::read_part(&mut chat.conn, max_literal)?;
        let refuse = |tag: Option<String>, message: String| {
            Got::Input(Err(command::CommandError::Syntax {
                tag: tag.unwrap_or_else(|| "*".into()),
                message,
            }))
        };
        match part {
            Part::Closed => return Ok(Got::Closed),
            Part::TooLong { start } => {
                chat.transcript.client(
                    Step::Access,
                    &format!("<a line over {} octets, discarded>", framing::MAX_LINE),
                );
                let tag = framing::tag_of(if buffer.is_empty() { &start } else { &buffer });
                return Ok(refuse(
                    tag,
                    format!("Line too long (limit {} octets)", framing::MAX_LINE),
                ));
            }
            Part::BadLiteral { text, problem } => {
                chat.client_line(&text, &buffer);
                let tag = framing::tag_of(if buffer.is_empty() { &text } else { &buffer });
                let message = match problem {
                    LiteralProblem::Malformed => {
                        "Literal size must be digits (like {123})".to_string()
                    }
                    LiteralProblem::TooLarge { synchronizing } => {
                        if !synchronizing {
                            // RFC 7888 §4: the octets are already on their way and would be
                            // read as commands; the only safe answer is to close.
                            chat.send(&r::bye("Literal too large; closing"));
                            let _ = chat.conn.flush();
                            return Ok(Got::Closed);
                        }
                        format!("Literal too large (limit {max_literal} octets)")
                    }
                };
                if let LiteralProblem::TooLarge { .. } = problem {
                    // RFC 5530 §3 LIMIT: refused before any of the octets were sent.
                    let tag = tag.unwrap_or_else(|| "*".into());
                    return Ok(Got::Refused(Response::no(&tag, "LIMIT", &message)));
                }
                return Ok(refuse(tag, message));
            }
            Part::Line { text, literal } => {
                chat.client_line(&text, &buffer);
                buffer.extend_from_slice(&text);
                let Some(literal) = literal else {
                    return Ok(Got::Input(command::parse(&buffer)));
                };
                if buffer.len() + literal.size > max_literal + framing::MAX_LINE {
                    if !literal.synchronizing {
                        // As for a single literal that is too large (RFC 7888 §4).
                        chat.send(&r::bye("Command too large; closing"));
                        let _ = chat.conn.flush();
                        return Ok(Got::Closed);
                    }
                    let tag = framing::tag_of(&buffer).unwrap_or_else(|| "*".into());
                    return Ok(Got::Refused(Response::no(
                        &tag,
                        "LIMIT",
                        "Command too large",
                    )));
                }
                if literal.synchronizing {
                    if let Some(refusal) = session.refuse_before_literal(&buffer) {
                        return Ok(Got::Refused(refusal));
                    }
                    chat.send(&Response::Continue(format!(
                        "Ready for {} octets",
                        literal.size
                    )));
                    chat.conn.flush()?;
                }
                let bytes = framing::read_literal(&mut chat.conn, literal.size)?;
                chat.transcript
                    .client(Step::Access, &format!("<literal: {} octets>", bytes.len()));
                buffer.extend_from_slice(b"\r\n");
                buffer.extend_from_slice(&bytes);
            }
        }
    }
}

/// Sends the responses of one [`Output`], then does what its effect asks. Returns false when
/// the connection must close.
/// Tells the shared throttle (`accounts/login.rs`) about a login, and makes the answer wait as
/// long as the account's own count asks (the client's count was known before the command).
fn record_login(
    shared: &Shared,
    ip: std::net::IpAddr,
    event: Option<LoginEvent>,
    output: &mut Output,
) {
    let (name, failed) = match &event {
        Some(LoginEvent::Failed(name)) => (name, true),
        Some(LoginEvent::Succeeded(name)) => (name, false),
        None => return,
    };
    output.delay = output.delay.max(shared.logins.delay(ip, name));
    if failed {
        shared.logins.failed(ip, name);
    } else {
        shared.logins.succeeded(ip, name);
    }
}

fn carry_out(chat: &mut Chat, session: &mut Session, output: Output, shared: &Shared) -> bool {
    if !output.delay.is_zero() {
        std::thread::sleep(output.delay);
    }
    for note in &output.notes {
        chat.transcript.note(Step::Access, note);
    }
    for response in &output.responses {
        chat.send(response);
    }
    match output.effect {
        Effect::None => true,
        Effect::Close => false,
        Effect::StartTls => {
            if !tls::handshake(
                &mut chat.conn,
                &mut chat.transcript,
                Step::Access,
                shared.tls.as_deref(),
            ) {
                return false;
            }
            session.tls_started();
            true
        }
        Effect::ReadSasl { tag } => {
            if chat.conn.flush().is_err() {
                return false;
            }
            let next = match chat.conn.read_line(framing::MAX_LINE) {
                Ok(Line::Text(line)) | Ok(Line::BareLf(line)) => {
                    chat.transcript.client(Step::Access, "<credentials hidden>");
                    session.login_delay = shared.logins.client_delay(chat.conn.peer.ip());
                    session.sasl_response(&tag, &line)
                }
                Ok(Line::TooLong) => session.sasl_response(&tag, b"*"),
                Ok(Line::Closed) | Err(_) => return false,
            };
            let mut next = next;
            record_login(
                shared,
                chat.conn.peer.ip(),
                session.login_event.take(),
                &mut next,
            );
            carry_out(chat, session, next, shared)
        }
        Effect::Idle { tag } => idle(chat, session, &tag, shared),
    }
}

/// RFC 2177 IDLE: until the client sends DONE, look at the folder twice a second and send
/// what changed. The connection's silence clock is shortened for the polling and restored after.
fn idle(chat: &mut Chat, session: &mut Session, tag: &str, shared: &Shared) -> bool {
    if chat.conn.flush().is_err() {
        return false;
    }
    chat.conn.set_silence(IDLE_POLL);
    // RFC 2177 §3: the client should re-issue IDLE at least every 29 minutes; a server may
    // end an IDLE that runs much longer than its idle timeout.
    let limit = shared.config.imap_idle_timeout.max(Duration::from_secs(1)) * 4;
    let started = Instant::now();
    let result = loop {
        // Wait for input without consuming any: a timeout in the middle of reading a line
        // would lose the part already read, so the line is read only once octets are here.
        let waiting = chat.conn.reader().fill_buf().map(|b| b.is_empty());
        match waiting {
            Ok(closed) => {
                chat.conn.set_silence(shared.config.imap_idle_timeout);
                if closed {
                    break None;
                }
                break match chat.conn.read_line(framing::MAX_LINE) {
                    Ok(Line::Text(line)) | Ok(Line::BareLf(line)) => {
                        chat.client_line(&line, b"");
                        Some(session.idle_done(tag, &line))
                    }
                    Ok(Line::TooLong) => Some(session.idle_done(tag, b"")),
                    Err(e) if net::is_cut_off(&e) => Some(session.cut_off(Cut::of(&e))),
                    Ok(Line::Closed) | Err(_) => None,
                };
            }
            Err(e) if !net::is_timeout(&e) && net::is_cut_off(&e) => {
                chat.transcript.note(Step::Access, &format!("cut off: {e}"));
                break Some(session.cut_off(Cut::of(&e)));
            }
            Err(e) if net::is_timeout(&e) => {
                if started.elapsed() > limit {
                    break Some(session.timeout());
                }
                // SIGTERM (`src/daemon.rs`): an IDLE session is busy, so it looks for itself.
                if shared.sessions.stopping() {
                    chat.send(&r::shutting_down());
                    let _ = chat.conn.flush();
                    break None;
                }
                for response in session.poll() {
                    chat.send(&response);
                }
                if chat.conn.flush().is_err() {
                    break None;
                }
            }
            Err(_) => break None,
        }
    };
    chat.conn.set_silence(shared.config.imap_idle_timeout);
    match result {
        Some(output) => {
            let closing = session.state == State::Logout;
            carry_out(chat, session, output, shared) && !closing
        }
        None => false,
    }
}
