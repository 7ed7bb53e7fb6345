//! The POP3 server loop: read a line, feed the session, send the responses, carry out the effect.
//!
//! This file is the only place POP3 bytes meet the network and the disk, and [`Chat`] is the
//! only door through which they reach the transcript: every line read or written passes
//! through it, labelled `[7 ACCESS]`, and secrets are redacted there (PASS, the AUTH initial
//! response, the SASL line after `+ `, the APOP digest). A message sent by RETR or TOP is logged
//! by its size, not its content.
//!
//! Memory: RETR and TOP stream the message from its file in 16 KiB chunks, so a session holds
//! its I/O buffers (`src/net.rs`: 16 KiB in, 64 KiB out), a 255-octet command line, 40 KiB for
//! the chunk being stuffed, and its maildrop listing (one entry per message), whatever the
//! size of the messages or how many RETRs a client pipelines without reading.

use std::fs::File;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;

use super::apop;
use super::command::{self, CommandError};
use super::message;
use super::response::{self, Response};
use super::session::{Credentials, Effect, LoginResult, Output, Session};
use crate::accounts::login;
use crate::context::Shared;
use crate::hints::Hints;
use crate::ids::SessionId;
use crate::mailbox::lock::MailboxLock;
use crate::mailbox::maildrop::{self, Message};
use crate::mda;
use crate::net::{self, Conn, Line};
use crate::tls;
use crate::transcript::{Step, Transcript};

/// RFC 2449 §4: a command is at most 255 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 255;
/// A SASL response after `+ ` is not a command; RFC 2449's limit does not bind it, and a long
/// password must still fit.
pub const MAX_SASL_LINE: usize = 4096;

/// The connection plus its transcript: the one door for POP3 lines.
pub struct Chat {
    pub conn: Conn,
    pub transcript: Transcript,
    hints: Hints,
}

impl Chat {
    /// Logs a client line, hiding what must never be written down. `sasl` is true for the line
    /// after `+ `, which is nothing but credentials.
    /// The rules are `src/redact.rs`'s.
    fn client_line(&mut self, line: &[u8], sasl: bool) {
        let text = String::from_utf8_lossy(line);
        self.transcript
            .client(Step::Access, &crate::redact::pop3(&text, sasl));
    }

    fn send(&mut self, response: &Response) {
        let wire = response.render(self.hints);
        for line in wire.lines() {
            self.transcript.server(Step::Access, line);
        }
        self.conn.send(wire.as_bytes());
    }

    fn note(&mut self, text: &str) {
        self.transcript.note(Step::Access, text);
    }
}

/// What the loop holds for a logged-in session: whose mailbox, and its lock.
struct Open {
    account: String,
    _lock: MailboxLock,
}

/// Serves one POP3 client from connect to close. Runs on the connection's own thread.
pub fn serve_client(stream: TcpStream, shared: Arc<Shared>) {
    serve(stream, shared, false);
}

/// POP3S (RFC 8314 §3.3, port 995): TLS from the first byte, then the same session.
pub fn serve_implicit_tls(stream: TcpStream, shared: Arc<Shared>) {
    serve(stream, shared, true);
}

fn serve(stream: TcpStream, shared: Arc<Shared>, implicit_tls: bool) {
    let config = shared.session_config();
    let _ = stream.set_write_timeout(Some(config.pop3_idle_timeout));
    let _ = stream.set_nodelay(true);
    let service = if implicit_tls { "pop3s" } else { "pop3" };
    // This session in the server's registry, so SIGTERM can say goodbye (`src/daemon.rs`).
    let watch = shared.sessions.register(&stream, service);
    // Silence, and one command line from its first octet, may take at most the idle time
    // (less when the server is busy: `src/pace.rs`).
    let Ok(conn) = Conn::tcp(stream, shared.load.clone(), config.pop3_idle_timeout) else {
        return;
    };
    let (peer, local) = (conn.peer, conn.local);
    let session_id = SessionId::new();
    let mut transcript = Transcript::create(&shared.data.transcripts(), &session_id, service);
    transcript.note(
        Step::Access,
        &format!("connect from {peer} to {service} {local}"),
    );
    let mut chat = Chat {
        conn,
        transcript,
        hints: config.hints,
    };
    let tls = shared.tls.as_deref();
    if implicit_tls {
        let port = shared.port_of("pop3").unwrap_or(110).to_string();
        let hint = response::plain_text_on_tls_port(&port).render(chat.hints);
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
    let timestamp = apop::timestamp(&shared.accounts.current(), &session_id, &config.hostname);
    let mut session = Session::new(config, peer, timestamp);
    if implicit_tls {
        session = session.with_implicit_tls();
    } else if shared.tls.is_some() {
        session = session.with_stls();
    }
    let mut open: Option<Open> = None;

    let mut output = session.greeting();
    loop {
        if !carry_out(&mut chat, &mut session, output, &shared, &mut open) {
            break;
        }
        if let Err(e) = chat.conn.flush_if_idle() {
            chat.note(&net::send_failed(&e));
            break;
        }
        let sasl = session.expects_sasl_response();
        let limit = if sasl {
            MAX_SASL_LINE
        } else {
            MAX_COMMAND_LINE
        };
        // SIGTERM: an idle session is woken here, a RETR in flight arrives after it is sent.
        let Some(read) = watch.read(|| chat.conn.read_line(limit)) else {
            chat.send(&super::response::shutting_down());
            break;
        };
        output = match read {
            // POP3 has no bare-LF hazard like SMTP's DATA, so a line ending in LF alone (a
            // hand-typed line from `nc` without -C) is taken as it is.
            Ok(Line::Text(line) | Line::BareLf(line)) => {
                chat.client_line(&line, sasl);
                if sasl {
                    session.sasl_response(&line)
                } else {
                    session.handle(command::parse(&line))
                }
            }
            Ok(Line::TooLong) => {
                chat.transcript.client(
                    Step::Access,
                    &format!("<a line over {limit} octets, discarded>"),
                );
                session.handle(Err(CommandError::LineTooLong))
            }
            Ok(Line::Closed) => {
                chat.note("client closed the connection; nothing is removed (no UPDATE state)");
                break;
            }
            Err(e) if net::is_cut_off(&e) => {
                chat.note(&format!(
                    "timed out ({e}): autologout, nothing is removed (RFC 1939 section 3)"
                ));
                session.timeout()
            }
            Err(e) => {
                chat.note(&format!("connection lost: {e}; nothing is removed"));
                break;
            }
        };
    }
    let _ = chat.conn.flush();
    chat.note("session ends");
    // `open` drops here, and with it the mailbox lock.
}

/// Sends the responses of one [`Output`], then does what its effect asks. Returns false when
/// the connection must close.
fn carry_out(
    chat: &mut Chat,
    session: &mut Session,
    output: Output,
    shared: &Shared,
    open: &mut Option<Open>,
) -> bool {
    if let Effect::SendMessage {
        message,
        number,
        body_lines,
    } = &output.effect
    {
        // Opened before answering, so a file that cannot be read gets -ERR rather than a +OK
        // with nothing after it; found by its unique name if IMAP changed its flags meanwhile.
        let file = match maildrop::open_file(message) {
            Ok(file) => file,
            Err(e) => {
                chat.note(&format!("cannot read {}: {e}", message.path.display()));
                chat.send(&super::response::message_unreadable());
                return true;
            }
        };
        for response in &output.responses {
            chat.send(response);
        }
        let what = if body_lines.is_some() {
            "top of message"
        } else {
            "message"
        };
        let sent = stream_message(&mut chat.conn, file, *body_lines);
        return match sent {
            Ok(octets) => {
                chat.transcript
                    .server(Step::Access, &format!("<{what} {number}: {octets} octets>"));
                chat.transcript.server(Step::Access, ".");
                if body_lines.is_none() && !chat.conn.is_broken() {
                    if let Some(open) = open {
                        let text = format!("retrieved by {} over POP3", open.account);
                        match maildrop::queue_id_of(message) {
                            Some(id) => chat.transcript.event(Step::Access, &id, &text),
                            None => {
                                chat.note(&format!("{text} (no postlab queue id in its header)"))
                            }
                        }
                    }
                }
                true
            }
            Err(e) => {
                // Part of the message is out: the client cannot be told in POP3 terms.
                chat.note(&format!(
                    "cannot read {} while sending it: {e}; closing",
                    message.path.display()
                ));
                false
            }
        };
    }
    for response in &output.responses {
        chat.send(response);
    }
    match output.effect {
        Effect::None | Effect::SendMessage { .. } => true,
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
        Effect::LogIn(credentials) => {
            let result = log_in(chat, shared, &credentials, open);
            let next = session.logged_in(result);
            carry_out(chat, session, next, shared, open)
        }
        Effect::Remove { doomed, kept } => {
            let Some(current) = open.as_ref() else {
                return false;
            };
            let account = current.account.clone();
            let root = mda::maildir_path(&shared.data.mail(), &account);
            for message in &doomed {
                match maildrop::queue_id_of(message) {
                    Some(id) => chat.transcript.event(
                        Step::Access,
                        &id,
                        &format!("deleted by {account} over POP3"),
                    ),
                    None => chat.note(&format!("deleting {}", message.uid)),
                }
            }
            let refs: Vec<&Message> = doomed.iter().collect();
            let failed = maildrop::remove(&root, &refs);
            for (path, e) in &failed {
                chat.note(&format!("could not remove {}: {e}", path.display()));
            }
            // The maildrop is done with: let the next session in before the client hears +OK,
            // so a client that logs in again at once is not told [IN-USE].
            open.take();
            let next = session.updated(kept, failed.is_empty());
            carry_out(chat, session, next, shared, open)
        }
    }
}

/// Tries the credentials, then locks and opens the maildrop. Waits first if this client
/// address has failed too often (`login::Throttle`). The password is never logged.
fn log_in(
    chat: &mut Chat,
    shared: &Shared,
    credentials: &Credentials,
    open: &mut Option<Open>,
) -> LoginResult {
    let ip = chat.conn.peer.ip();
    let delay = shared.logins.delay(ip, credentials.name());
    if !delay.is_zero() {
        chat.note(&format!(
            "more than {} failed logins from {ip} or for this account: waiting {} s before answering",
            login::FREE_FAILURES,
            delay.as_secs()
        ));
        std::thread::sleep(delay);
    }
    let directory = shared.accounts.current();
    let account = match credentials {
        Credentials::Password { name, password } => {
            login::check_password(&directory, name, password)
        }
        Credentials::Apop {
            name,
            timestamp,
            digest,
        } => match apop::check(&directory, name, timestamp, digest) {
            apop::Check::Ok(account) => Some(account),
            apop::Check::Wrong => None,
            // Answered like a wrong digest: a different reply would tell a stranger that the
            // account exists. The transcript, which only the administrator reads, says why.
            apop::Check::NotPlain => {
                chat.note(&format!(
                    "APOP for {name} cannot succeed: the password is not stored {{PLAIN}}"
                ));
                None
            }
        },
    };
    let Some(account) = account else {
        shared.logins.failed(ip, credentials.name());
        chat.note(&format!(
            "login failed for '{}' (the password is not logged)",
            credentials.name()
        ));
        return LoginResult::Rejected;
    };
    shared.logins.succeeded(ip, &account);
    let Some(lock) = shared.pop3_locks.try_lock(&account) else {
        chat.note(&format!("{account}'s mailbox is open in another session"));
        return LoginResult::InUse;
    };
    let root = mda::maildir_path(&shared.data.mail(), &account);
    match maildrop::open(&root) {
        Ok(messages) => {
            chat.note(&format!(
                "{account} logged in; snapshot of {} with {} messages",
                root.display(),
                messages.len()
            ));
            *open = Some(Open {
                account: account.clone(),
                _lock: lock,
            });
            LoginResult::Ready { account, messages }
        }
        Err(e) => {
            chat.note(&format!("cannot open {}: {e}", root.display()));
            LoginResult::Unavailable
        }
    }
}

/// How many octets of a message file are read (and stuffed, and sent) at a time.
const CHUNK: usize = 16 * 1024;

/// Sends a message (or its top, `body_lines`) from its file, a chunk at a time, byte-stuffed
/// (`message.rs`): the message is never in memory whole, and each chunk goes out under the
/// connection's backpressure (`src/net.rs`). Stops early if the client stops taking it. Returns
/// the octets sent; an error is a read error of the file.
fn stream_message(conn: &mut Conn, mut file: File, body_lines: Option<usize>) -> io::Result<u64> {
    let mut chunk = vec![0u8; CHUNK];
    let mut out = Vec::with_capacity(CHUNK + CHUNK / 2);
    let mut stuffer = message::Stuffer::new(body_lines);
    let mut sent = 0u64;
    while !stuffer.is_done() && !conn.is_broken() {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        stuffer.feed(&chunk[..n], &mut out);
        conn.send(&out);
        sent += out.len() as u64;
    }
    out.clear();
    stuffer.finish(&mut out);
    conn.send(&out);
    Ok(sent + out.len() as u64)
}
