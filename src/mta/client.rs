//! Flowchart step 5: our SMTP client hands a queued message to the receiving server.
//!
//! ```text
//! S: 220 mx.b.test ESMTP ready
//! C: EHLO mx.a.test                    (HELO if EHLO is refused: an old server)
//! S: 250-mx.b.test
//! S: 250 PIPELINING
//! C: MAIL FROM:<alice@a.test> SIZE=1234
//! C: RCPT TO:<bob@b.test>             ← with PIPELINING, these three go in one write
//! C: DATA
//! S: 250 2.1.0 Ok / 250 2.1.5 Ok / 354 go ahead
//! C: (the message, dot-stuffed)
//! C: .
//! S: 250 2.0.0 queued as 6612F9F5EE851
//! C: QUIT
//! ```
//!
//! With `relay_tls` other than `none`, STARTTLS (RFC 3207) comes right after EHLO when the
//! server offers it, and EHLO is sent again inside TLS (§4.2: what the server said before is
//! forgotten). Two attacks are guarded against here: a server (or a man in the middle) that
//! hides STARTTLS from us gets plaintext only under `may`; and bytes that arrive together with
//! the `220` to STARTTLS, before any encryption, are never read as replies inside TLS
//! (CVE-2021-38371, "response injection"): the attempt is deferred instead.
//!
//! The dialogue is in three parts, so one connection can carry several messages (the queue's
//! connection cache, `connection_cache.rs`): [`connect`] (greeting, EHLO, STARTTLS) gives a
//! [`Connection`]; [`transaction`] sends one message on it (MAIL, RCPT, DATA); then either
//! [`reset`] (RSET, RFC 5321 §4.1.1.5: the session is as after EHLO, ready for the next
//! MAIL) to keep it, or [`quit`]. [`send`] is the three in a row, for one message.
//!
//! Every reply is judged by its first digit (RFC 5321 §4.2.1): 2 done, 4 try later, 5 give up.
//! Each recipient gets its own verdict. The content goes out with CRLF line ends only: a bare
//! CR or LF is never sent (the SMTP smuggling rule works both ways).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::address::{Address, ReversePath};
use crate::config::RelayTls;
use crate::net::Stream;
use crate::pace::{Clocks, Load, PacedTcp};
use crate::tls;
use crate::transcript::{Step, Transcript};

/// A reply from the receiving server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// All lines' text, joined with spaces.
    pub text: String,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        self.code >= 500
    }

    /// The enhanced status code at the start of the text, else one made from the basic code.
    pub fn status(&self) -> String {
        let first = self.text.split(' ').next().unwrap_or("");
        let looks_enhanced = first.split('.').count() == 3
            && first
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if looks_enhanced {
            first.to_string()
        } else {
            format!("{}.0.0", self.code / 100)
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Why a whole attempt at one host failed (so the next host may be tried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFailure {
    /// Could not connect, or the connection broke: try the next host, else later.
    Connection(String),
    /// The server said 4xx (or misbehaved) before any recipient: try the next host, else later.
    Temporary(String),
    /// The server refused the whole message for good (5xx at greeting, MAIL or DATA).
    Permanent(Reply),
}

/// The verdict for each recipient after a completed dialogue.
pub type Verdicts = Vec<(Address, Reply)>;

/// How long a connection to another server may take (the other clocks are `relay_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first reply on a connection kept from an earlier message (`connection_cache.rs`) is
/// waited for this long at most: a server that is there answers MAIL at once, and a link that
/// broke while the connection was idle should cost a new connection, not all of relay_timeout.
pub const REUSED_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sending a message's content may take this many times `relay_timeout`.
const SENDING_TIMES: u32 = 10;

/// The longest reply line and the most lines we read from a peer: a hostile server must not
/// make us hold unbounded memory.
const MAX_REPLY_LINE: usize = 2048;
const MAX_REPLY_LINES: usize = 100;

/// Which server to talk to: its address, its name (for the TLS certificate check) and how
/// much TLS to insist on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub addr: SocketAddr,
    /// The address to send from (`relay_source`): the receiving server's Received: line and
    /// transcript then name this server, not whatever address the system picked.
    pub source: Option<IpAddr>,
    /// The MX host's name, or the transport map's `host:port`.
    pub host: &'a str,
    pub tls: RelayTls,
    /// Extra trusted certificates for `verify` (`tls_ca_file`).
    pub ca_file: Option<&'a Path>,
    /// `relay_timeout`: the longest a reply (from its first octet to its end) or a TLS
    /// handshake may take.
    pub timeout: Duration,
}

/// Sends one message to one server on a connection of its own. `content` is the queued content
/// (Received: and the client's bytes).
pub fn send(
    target: Target,
    our_name: &str,
    from: &ReversePath,
    recipients: &[Address],
    content: &[u8],
    transcript: &mut Transcript,
) -> Result<Verdicts, HostFailure> {
    let mut connection = connect(target, our_name, transcript)?;
    let result = transaction(&mut connection, from, recipients, content, transcript);
    if !matches!(result, Err(HostFailure::Connection(_))) {
        quit(connection, transcript);
    }
    result
}

/// An SMTP session with another server, past the greeting, EHLO and (when asked) STARTTLS:
/// ready for `MAIL FROM`. It owns the socket; dropping it closes the socket without QUIT.
pub struct Connection {
    reader: BufReader<Box<dyn Stream>>,
    /// The connection's clocks (`src/pace.rs`): a deadline for each reply.
    clocks: Arc<Clocks>,
    timeout: Duration,
    /// The extension keywords of the last EHLO (inside TLS, when TLS is on), upper case.
    extensions: String,
    /// When the TCP connection was made (for `relay_connection_reuse_time_limit`).
    pub opened: Instant,
    /// Messages it has carried (for `relay_connection_reuse_count_limit`).
    pub messages: u32,
    /// Is the session inside TLS?
    pub tls: bool,
    /// A shorter wait for the next reply only (a reused connection's first).
    next_reply_timeout: Option<Duration>,
}

/// Opens a session with `target`: TCP, the 220 greeting, EHLO (HELO for an old server) and
/// STARTTLS as `relay_tls` asks. A failure after the TCP connection says QUIT first.
pub fn connect(
    target: Target,
    our_name: &str,
    transcript: &mut Transcript,
) -> Result<Connection, HostFailure> {
    let addr = target.addr;
    let stream = match target.source {
        Some(source) => {
            transcript.note(Step::Relay, &format!("connecting to {addr} from {source}"));
            connect_from(source, addr)
        }
        None => {
            transcript.note(Step::Relay, &format!("connecting to {addr}"));
            TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        }
    }
    .map_err(|e| {
        transcript.note(Step::Relay, &format!("cannot connect to {addr}: {e}"));
        HostFailure::Connection(format!("{addr}: {e}"))
    })?;
    let _ = stream.set_write_timeout(Some(target.timeout));
    // Each reply must be whole within relay_timeout, however slowly its octets come: a
    // receiving server that trickles (a tarpit) cannot hold this delivery for ever.
    let clocks = Clocks::new(Arc::new(Load::quiet()), addr.ip(), target.timeout);
    let mut connection = Connection {
        reader: BufReader::new(Box::new(PacedTcp::new(stream, clocks.clone()))),
        clocks,
        timeout: target.timeout,
        extensions: String::new(),
        opened: Instant::now(),
        messages: 0,
        tls: false,
        next_reply_timeout: None,
    };
    let mut peer = Peer {
        conn: &mut connection,
        transcript,
    };
    match peer.open(target, our_name) {
        Ok(()) => Ok(connection),
        Err(failure) => {
            if !matches!(failure, HostFailure::Connection(_)) {
                let _ = peer.command("QUIT");
            }
            Err(failure)
        }
    }
}

/// One mail transaction on an open session: MAIL, RCPT for each recipient, DATA, the
/// content. Returns each recipient's verdict, or why the whole message failed here.
pub fn transaction(
    connection: &mut Connection,
    from: &ReversePath,
    recipients: &[Address],
    content: &[u8],
    transcript: &mut Transcript,
) -> Result<Verdicts, HostFailure> {
    if connection.messages > 0 {
        connection.next_reply_timeout = Some(REUSED_REPLY_TIMEOUT.min(connection.timeout));
    }
    connection.messages += 1;
    Peer {
        conn: connection,
        transcript,
    }
    .mail(from, recipients, content)
}

/// RSET (RFC 5321 §4.1.1.5), to keep a session for the next message: whatever the last
/// transaction left is cleared, and the answer shows the server is still there.
pub fn reset(connection: &mut Connection, transcript: &mut Transcript) -> Result<(), HostFailure> {
    let reply = Peer {
        conn: connection,
        transcript,
    }
    .command("RSET")?;
    if reply.code == 250 {
        Ok(())
    } else {
        Err(HostFailure::Temporary(format!("RSET refused: {reply}")))
    }
}

/// QUIT, waiting for the 221 (RFC 5321 §4.1.1.10: the client "SHOULD" wait for it), then the
/// socket is closed.
pub fn quit(mut connection: Connection, transcript: &mut Transcript) {
    let _ = Peer {
        conn: &mut connection,
        transcript,
    }
    .command("QUIT");
}

/// Connects to `addr` from our own address `source` (any free port): bind, then connect, as
/// Postfix's `smtp_bind_address` does.
fn connect_from(source: IpAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT)?;
    Ok(socket.into())
}

/// A connection with the transcript it writes to: one buffered stream, written through
/// `get_mut` (a TLS stream cannot be split into a reading and a writing half).
struct Peer<'a> {
    conn: &'a mut Connection,
    transcript: &'a mut Transcript,
}

impl Peer<'_> {
    /// The greeting, EHLO and STARTTLS; the extensions are kept on the connection.
    fn open(&mut self, target: Target, our_name: &str) -> Result<(), HostFailure> {
        let greeting = self.reply()?;
        if greeting.code != 220 {
            return Err(refusal(greeting));
        }
        let mut extensions = self.hello(our_name)?;
        let offered = has_keyword(&extensions, "STARTTLS");
        match (target.tls, offered) {
            (RelayTls::None, _) => {}
            (RelayTls::May, false) => self.transcript.note(
                Step::Relay,
                "the server does not offer STARTTLS: sending in plaintext (relay_tls = may)",
            ),
            (RelayTls::Encrypt | RelayTls::Verify, false) => {
                self.transcript.note(
                    Step::Relay,
                    "the server does not offer STARTTLS, and relay_tls requires it: deferred",
                );
                return Err(HostFailure::Temporary(
                    "the server does not offer STARTTLS (relay_tls requires TLS)".into(),
                ));
            }
            (_, true) => {
                self.start_tls(target)?;
                self.conn.tls = true;
                // RFC 3207 §4.2: the extensions said in plaintext are forgotten; ask again.
                extensions = self.hello(our_name)?;
            }
        }
        self.conn.extensions = extensions;
        Ok(())
    }

    /// One transaction: MAIL, RCPT, DATA and the content.
    fn mail(
        &mut self,
        from: &ReversePath,
        recipients: &[Address],
        content: &[u8],
    ) -> Result<Verdicts, HostFailure> {
        let extensions = self.conn.extensions.clone();
        let has = |keyword: &str| has_keyword(&extensions, keyword);
        // RFC 1870 §6: a server that announces SIZE n refuses larger messages; do not try.
        if let Some(limit) = extension_value(&extensions, "SIZE") {
            if limit > 0 && content.len() as u64 > limit {
                return Err(HostFailure::Permanent(Reply { code: 552, text: format!("5.3.4 message of {} octets is over the receiving server's limit of {limit}", content.len()) }));
            }
        }
        let mail = if has("SIZE") {
            format!("MAIL FROM:{from} SIZE={}", content.len())
        } else {
            format!("MAIL FROM:{from}")
        };
        let mut commands = vec![mail];
        commands.extend(recipients.iter().map(|r| format!("RCPT TO:<{r}>")));
        commands.push("DATA".into());

        // RFC 2920: with PIPELINING the whole group goes in one write, replies read in order.
        let replies = if has("PIPELINING") {
            self.send_lines(&commands)?;
            commands
                .iter()
                .map(|_| self.reply())
                .collect::<Result<Vec<_>, _>>()?
        } else {
            let mut replies = vec![self.command(&commands[0])?];
            if replies[0].is_positive() {
                for command in &commands[1..commands.len() - 1] {
                    replies.push(self.command(command)?);
                }
                // DATA only when some recipient was accepted.
                if replies[1..].iter().any(Reply::is_positive) {
                    replies.push(self.command("DATA")?);
                }
            }
            replies
        };
        let mail_reply = &replies[0];
        if !mail_reply.is_positive() {
            return Err(if mail_reply.is_permanent() {
                HostFailure::Permanent(mail_reply.clone())
            } else {
                HostFailure::Temporary(mail_reply.to_string())
            });
        }
        let rcpt_replies = &replies[1..replies.len().min(1 + recipients.len())];
        let mut verdicts: Verdicts = recipients
            .iter()
            .cloned()
            .zip(rcpt_replies.iter().cloned())
            .collect();
        let accepted: Vec<usize> = verdicts
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| r.is_positive())
            .map(|(i, _)| i)
            .collect();
        let data_reply = replies.get(1 + recipients.len());
        if accepted.is_empty() {
            // Every RCPT refused; a pipelined DATA was answered 5xx/503 and nothing is sent.
            if data_reply.is_some_and(|r| r.code == 354) {
                self.send_lines(&[".".to_string()])?;
                let _ = self.reply()?;
            }
            return Ok(verdicts);
        }
        match data_reply {
            Some(reply) if reply.code == 354 => {}
            Some(reply) => {
                for i in &accepted {
                    verdicts[*i].1 = reply.clone();
                }
                return Ok(verdicts);
            }
            None => return Err(HostFailure::Temporary("no reply to DATA".into())),
        }
        self.send_content(content)?;
        let end = self.reply()?;
        for i in accepted {
            verdicts[i].1 = end.clone();
        }
        Ok(verdicts)
    }

    /// EHLO, or HELO when an old server refuses EHLO (RFC 5321 §3.2); returns the extension
    /// keywords in upper case (empty after HELO).
    fn hello(&mut self, our_name: &str) -> Result<String, HostFailure> {
        let ehlo = self.command(&format!("EHLO {our_name}"))?;
        if ehlo.is_positive() {
            return Ok(ehlo.text.to_ascii_uppercase());
        }
        if !ehlo.is_permanent() {
            return Err(refusal(ehlo));
        }
        let helo = self.command(&format!("HELO {our_name}"))?;
        if !helo.is_positive() {
            return Err(refusal(helo));
        }
        Ok(String::new())
    }

    /// STARTTLS, then the TLS handshake as a client (RFC 3207 §4). Any failure defers this
    /// host rather than falling back to plaintext: the server said it can do TLS.
    fn start_tls(&mut self, target: Target) -> Result<(), HostFailure> {
        let reply = self.command("STARTTLS")?;
        if reply.code != 220 {
            return Err(HostFailure::Temporary(format!("STARTTLS refused: {reply}")));
        }
        // CVE-2021-38371: replies that came with the 220, before any encryption, could have
        // been written by anyone on the path; read inside TLS they would pass for the real
        // server's answers.
        let injected = self.conn.reader.buffer().len();
        if injected > 0 {
            self.transcript.note(
                Step::Relay,
                &format!("{injected} octets arrived with the 220 to STARTTLS, before TLS: response injection, deferred"),
            );
            return Err(HostFailure::Temporary(
                "response injection: data after the 220 to STARTTLS".into(),
            ));
        }
        let connector = target
            .tls
            .connector(target.ca_file)
            .map_err(HostFailure::Temporary)?
            .ok_or_else(|| HostFailure::Temporary("TLS is turned off".into()))?;
        let placeholder: Box<dyn Stream> = Box::new(io::empty());
        let stream =
            std::mem::replace(&mut self.conn.reader, BufReader::new(placeholder)).into_inner();
        let name = tls_name(target.host);
        let mut configuration = connector
            .configure()
            .map_err(|e| HostFailure::Temporary(format!("cannot set up TLS: {e}")))?;
        // `verify` checks that the certificate names the host (RFC 6125); `may` and `encrypt`
        // accept any certificate, so they check no name either.
        configuration.set_verify_hostname(target.tls == RelayTls::Verify);
        self.conn
            .clocks
            .set_deadline("the TLS handshake", self.conn.timeout);
        let connected = configuration.connect(&name, stream);
        self.conn.clocks.clear_deadline();
        match connected {
            Ok(stream) => {
                let ssl = stream.ssl();
                let certificate = ssl
                    .peer_certificate()
                    .and_then(|c| c.to_der().ok())
                    .map(|der| tls::fingerprint(&der))
                    .unwrap_or_else(|| "unknown".into());
                let negotiated = crate::net::Negotiated::of(ssl);
                self.transcript.note(
                    Step::Relay,
                    &format!(
                        "TLS established with {name} ({negotiated}); server certificate SHA-256 {certificate}"
                    ),
                );
                self.conn.reader = BufReader::new(Box::new(crate::net::TlsStream(stream)));
                Ok(())
            }
            Err(e) => {
                let why = match e {
                    openssl::ssl::HandshakeError::Failure(mid) => crate::net::describe(mid.error()),
                    openssl::ssl::HandshakeError::SetupFailure(e) => e.to_string(),
                    openssl::ssl::HandshakeError::WouldBlock(_) => "timed out".to_string(),
                };
                self.transcript
                    .note(Step::Relay, &format!("TLS handshake failed: {why}"));
                Err(HostFailure::Temporary(format!(
                    "TLS handshake with {name} failed: {why}"
                )))
            }
        }
    }

    fn command(&mut self, line: &str) -> Result<Reply, HostFailure> {
        self.send_lines(&[line.to_string()])?;
        self.reply()
    }

    fn send_lines(&mut self, lines: &[String]) -> Result<(), HostFailure> {
        let mut bytes = Vec::new();
        for line in lines {
            self.transcript.client(Step::Relay, line);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        self.conn
            .reader
            .get_mut()
            .write_all(&bytes)
            .map_err(|e| HostFailure::Connection(e.to_string()))
    }

    /// The message, dot-stuffed (RFC 5321 §4.5.2), every line ending in CRLF, then `.`.
    fn send_content(&mut self, content: &[u8]) -> Result<(), HostFailure> {
        let mut out = Vec::with_capacity(content.len() + content.len() / 50 + 5);
        for line in content.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.first() == Some(&b'.') {
                out.push(b'.');
            }
            // A CR inside a line would be a bare CR on the wire: drop it.
            out.extend(text.iter().filter(|&&b| b != b'\r'));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.transcript.client(
            Step::Relay,
            &format!("<message content: {} octets>", content.len()),
        );
        self.transcript.client(Step::Relay, ".");
        // A receiving server that reads one octet a minute cannot hold us either.
        self.conn
            .clocks
            .set_deadline("sending the message", self.conn.timeout * SENDING_TIMES);
        let sent = self.conn.reader.get_mut().write_all(&out);
        self.conn.clocks.clear_deadline();
        sent.map_err(|e| HostFailure::Connection(e.to_string()))
    }

    /// Reads one reply (all its lines), bounded in size and in time.
    fn reply(&mut self) -> Result<Reply, HostFailure> {
        let timeout = self
            .conn
            .next_reply_timeout
            .take()
            .unwrap_or(self.conn.timeout);
        self.conn.clocks.set_deadline("the server's reply", timeout);
        let reply = self.read_reply();
        self.conn.clocks.clear_deadline();
        reply
    }

    fn read_reply(&mut self) -> Result<Reply, HostFailure> {
        let mut text = Vec::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let n = (&mut self.conn.reader)
                .take(MAX_REPLY_LINE as u64)
                .read_until(b'\n', &mut line)
                .map_err(|e| broken(&e))?;
            if n == 0 {
                return Err(HostFailure::Connection(
                    "the server closed the connection".into(),
                ));
            }
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            self.transcript.server(Step::Relay, &line);
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (200..600).contains(c));
            let Some(code) = code else {
                return Err(HostFailure::Temporary(format!(
                    "not an SMTP reply: {line:?}"
                )));
            };
            text.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(Reply {
                    code,
                    text: text.join(" "),
                });
            }
        }
        Err(HostFailure::Temporary("reply with too many lines".into()))
    }
}

fn broken(e: &io::Error) -> HostFailure {
    HostFailure::Connection(e.to_string())
}

/// A negative greeting or EHLO: 5xx refuses for good, anything else is temporary.
fn refusal(reply: Reply) -> HostFailure {
    if reply.is_permanent() {
        HostFailure::Permanent(reply)
    } else {
        HostFailure::Temporary(reply.to_string())
    }
}

fn has_keyword(extensions: &str, keyword: &str) -> bool {
    extensions.split(' ').any(|word| word == keyword)
}

/// The name to check the certificate against: the transport map's `host:port` loses its port.
fn tls_name(host: &str) -> String {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return addr.ip().to_string();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_string()
        }
        _ => host.to_string(),
    }
}

/// The number after a keyword in the EHLO text (`SIZE 26214400`).
fn extension_value(extensions: &str, keyword: &str) -> Option<u64> {
    let mut words = extensions.split(' ');
    while let Some(word) = words.next() {
        if word == keyword {
            return words.next().and_then(|n| n.parse().ok());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_prefers_the_enhanced_code() {
        assert_eq!(
            Reply {
                code: 550,
                text: "5.1.1 no such user".into()
            }
            .status(),
            "5.1.1"
        );
        assert_eq!(
            Reply {
                code: 451,
                text: "try later".into()
            }
            .status(),
            "4.0.0"
        );
        assert_eq!(
            extension_value("MX.B GREETS PIPELINING SIZE 1000 8BITMIME", "SIZE"),
            Some(1000)
        );
    }
}
