//! A client connection as every protocol's server loop uses it: buffered lines in, replies out.
//!
//! Reading and writing go through one object (a `BufReader` around the stream, writing through
//! `get_mut`), because an encrypted stream cannot be split in two; when TLS arrives, the
//! buffered, unread bytes are exactly what must be thrown away at STARTTLS.
//!
//! [`Conn::start_tls`] is that switch, shared by every protocol (SMTP STARTTLS, the implicit-TLS
//! ports, and POP3 STLS / IMAP STARTTLS when they come).
//!
//! Replies are collected and sent in one write when the client has nothing more waiting in
//! our buffer. That is what RFC 2920 (PIPELINING) asks of a server: answer every pipelined
//! command, in order, without a round trip per command.
//!
//! The collected output is bounded: once [`OUTPUT_BUFFER`] octets wait, they are written at
//! once, and a large piece (a message body) is written straight from where it lies, never
//! copied into the buffer. A client that pipelines thousands of commands, or asks for a large
//! message thousands of times, and reads none of the answers therefore fills our small buffer
//! and the kernel's, then blocks its session in a write, where the write clock of
//! `src/pace.rs` cuts it ([`crate::pace::Cut::NotReading`]). What a connection holds in memory
//! for its own I/O is at most [`READ_BUFFER`] + [`OUTPUT_BUFFER`] plus the line being read
//! (each protocol's line limit); what its session holds besides is stated in each protocol's
//! server loop.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{HandshakeError, SslAcceptor, SslStream};

use crate::pace::{Clocks, Load, PacedTcp};

/// Anything a session can talk over: a TCP stream, later a TLS stream.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A TLS stream (server or client side) that ends its session properly: dropping it sends the
/// TLS `close_notify` alert before the socket closes, so the peer can tell a finished session
/// from a cut connection (RFC 8446 §6.1; OpenSSL reports "unexpected eof" otherwise).
pub struct TlsStream(pub SslStream<Box<dyn Stream>>);

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        // Best effort: the peer may already be gone.
        let _ = self.0.shutdown();
    }
}

/// Octets the client sent before the handshake, read back first: on an implicit-TLS port
/// they are the start of its ClientHello, looked at to tell TLS from plain text.
struct Replay {
    head: io::Cursor<Vec<u8>>,
    rest: Box<dyn Stream>,
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if (self.head.position() as usize) < self.head.get_ref().len() {
            return self.head.read(buf);
        }
        self.rest.read(buf)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.rest.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.rest.flush()
    }
}

/// What a finished handshake negotiated, as the transcript and `Received:` name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// `TLS 1.3` (OpenSSL says `TLSv1.3`).
    pub version: String,
    /// `TLS_AES_256_GCM_SHA384`, the IANA name of the cipher suite.
    pub cipher: String,
}

impl Negotiated {
    /// What a finished handshake agreed on, in the words Postfix's logs use.
    pub fn of(ssl: &openssl::ssl::SslRef) -> Negotiated {
        let cipher = ssl.current_cipher();
        Negotiated {
            version: ssl.version_str().replace("TLSv", "TLS "),
            cipher: cipher
                .and_then(|c| c.standard_name())
                .or(cipher.map(|c| c.name()))
                .unwrap_or("unknown cipher")
                .to_string(),
        }
    }
}

impl std::fmt::Display for Negotiated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}", self.version, self.cipher)
    }
}

/// How [`Conn::start_tls`] treats bytes the client sent before the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// STARTTLS, STLS: they came in plaintext after the command, where anyone could have
    /// added them; throw them away.
    Discard,
    /// An implicit-TLS port: they are the client's first handshake octets; keep them.
    Handshake,
}

/// One line read by [`Conn::read_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its CRLF.
    Text(Vec<u8>),
    /// Over the limit; the rest of the line was read and dropped.
    TooLong,
    /// Ended in LF alone, not CRLF; the bytes before the LF.
    BareLf(Vec<u8>),
    /// The client closed the connection.
    Closed,
}

/// How many octets of output may wait before they are written (64 KiB).
pub const OUTPUT_BUFFER: usize = 64 * 1024;

/// The read buffer of a connection (16 KiB).
pub const READ_BUFFER: usize = 16 * 1024;

pub struct Conn {
    reader: BufReader<Box<dyn Stream>>,
    /// Output not written yet: at most [`OUTPUT_BUFFER`] octets.
    pending: Vec<u8>,
    /// A write failed (the client went away, or a clock cut it): nothing more is sent, and the
    /// next [`Conn::flush`] reports it.
    broken: Option<io::Error>,
    /// What the TLS handshake negotiated, once the stream is encrypted.
    tls: Option<Negotiated>,
    /// How long one line may take from its first octet to its LF (see [`Conn::read_line`]).
    line_deadline: Option<Duration>,
    /// The clocks of a connection made with [`Conn::tcp`] (`src/pace.rs`).
    clocks: Option<Arc<Clocks>>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

/// A TLS handshake that did not finish; the connection is unusable and must be closed.
#[derive(Debug)]
pub struct HandshakeFailed(pub String);

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Conn {
    pub fn new(stream: Box<dyn Stream>, peer: SocketAddr, local: SocketAddr) -> Conn {
        Conn {
            reader: BufReader::with_capacity(READ_BUFFER, stream),
            pending: Vec::new(),
            broken: None,
            tls: None,
            line_deadline: None,
            clocks: None,
            peer,
            local,
        }
    }

    /// A connection on an accepted TCP socket, able to switch to TLS later. The client may
    /// stay silent for `silence` (shorter when the server is busy, see `src/pace.rs`); one
    /// line may take as long from its first octet.
    pub fn tcp(stream: TcpStream, load: Arc<Load>, silence: Duration) -> io::Result<Conn> {
        let (peer, local) = (stream.peer_addr()?, stream.local_addr()?);
        let clocks = Clocks::new(load, peer.ip(), silence);
        let mut conn = Conn::new(Box::new(PacedTcp::new(stream, clocks.clone())), peer, local);
        conn.clocks = Some(clocks);
        conn.line_deadline = Some(silence);
        Ok(conn)
    }

    /// Changes how long the client may stay silent (IMAP IDLE polls with a short one).
    pub fn set_silence(&mut self, silence: Duration) {
        if let Some(clocks) = &self.clocks {
            clocks.set_silence(silence);
        }
    }

    /// DATA or an IMAP literal begins: while the server is busy it must keep up
    /// `min_data_rate` (`src/pace.rs`).
    pub fn begin_transfer(&mut self) {
        if let Some(clocks) = &self.clocks {
            clocks.begin_transfer();
        }
    }

    pub fn end_transfer(&mut self) {
        if let Some(clocks) = &self.clocks {
            clocks.end_transfer();
        }
    }

    /// Is the connection encrypted?
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS version and cipher, once encrypted.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.tls.as_ref()
    }

    /// Waits up to `wait` for the client's first octet and returns it, unread (it stays in the
    /// buffer). `None`: the client closed, or said nothing in that time.
    pub fn first_octet(&mut self, wait: Duration) -> io::Result<Option<u8>> {
        if let Some(clocks) = &self.clocks {
            clocks.set_deadline("a first octet", wait);
        }
        let result = loop {
            match self.reader.fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_cut_off(&e) => break Ok(None),
                other => break other.map(|buf| buf.first().copied()),
            }
        };
        if let Some(clocks) = &self.clocks {
            clocks.clear_deadline();
        }
        result
    }

    /// Switches to TLS as the server: queued replies go out first (the client waits for the
    /// "go ahead" in plaintext), then the handshake runs, bounded by `timeout` (for a
    /// connection made with [`Conn::tcp`], from start to finish).
    /// On an error the connection is unusable: log it and close.
    ///
    /// A protocol's server loop needs a few lines: on its "start TLS" effect, call this, note
    /// the outcome in the transcript, and reset its session (RFC 3207 §4.2, RFC 2595 §3.1,
    /// RFC 9051 §6.2.1 all ask the server to forget what it learnt before TLS).
    ///
    /// Every byte the client sent before the handshake and we have not read yet is thrown away
    /// and its count returned, so the transcript can say so. Those bytes arrived in plaintext,
    /// where anyone on the path could have added them; running them inside the encrypted
    /// session would let an attacker inject commands (CVE-2011-0411; RFC 3207 §4.2 asks the
    /// server to forget all it learnt before TLS).
    pub fn start_tls(
        &mut self,
        acceptor: &SslAcceptor,
        timeout: Duration,
        before: Before,
    ) -> Result<usize, HandshakeFailed> {
        self.flush()
            .map_err(|e| HandshakeFailed(format!("cannot send the go-ahead: {e}")))?;
        let buffered = self.reader.buffer().to_vec();
        let placeholder: Box<dyn Stream> = Box::new(io::empty());
        // `into_inner` drops the buffer with the unread bytes in it.
        let rest = std::mem::replace(&mut self.reader, BufReader::with_capacity(0, placeholder))
            .into_inner();
        let (stream, discarded): (Box<dyn Stream>, usize) = match before {
            Before::Discard => (rest, buffered.len()),
            Before::Handshake => (
                Box::new(Replay {
                    head: io::Cursor::new(buffered),
                    rest,
                }),
                0,
            ),
        };
        // The whole handshake must be over within `timeout` (shorter when busy), however
        // slowly its octets trickle in.
        if let Some(clocks) = &self.clocks {
            clocks.set_deadline("the TLS handshake", timeout);
        }
        let result = acceptor.accept(stream);
        if let Some(clocks) = &self.clocks {
            clocks.clear_deadline();
        }
        match result {
            Ok(tls) => {
                self.tls = Some(Negotiated::of(tls.ssl()));
                self.reader = BufReader::with_capacity(READ_BUFFER, Box::new(TlsStream(tls)));
                Ok(discarded)
            }
            // Our socket has a timeout, so a silent client surfaces as "would block".
            Err(HandshakeError::WouldBlock(_)) => Err(HandshakeFailed(format!(
                "no handshake within {} seconds",
                timeout.as_secs()
            ))),
            Err(HandshakeError::Failure(mid)) => Err(HandshakeFailed(describe(mid.error()))),
            Err(HandshakeError::SetupFailure(e)) => Err(HandshakeFailed(e.to_string())),
        }
    }

    /// How long one line may take from its first octet: the deadline set, or shorter while
    /// the server is busy.
    pub fn line_deadline(&self) -> Option<Duration> {
        match (&self.clocks, self.line_deadline) {
            (Some(clocks), Some(deadline)) => Some(clocks.load().shorten(deadline)),
            (_, deadline) => deadline,
        }
    }

    /// The buffered reader, for protocol parts that read on their own (SMTP's DATA).
    pub fn reader(&mut self) -> &mut BufReader<Box<dyn Stream>> {
        &mut self.reader
    }

    /// Reads one line of at most `limit` octets including the CRLF. Memory stays bounded
    /// whatever the client sends: a longer line is consumed and dropped.
    ///
    /// With a line deadline set, a line whose octets trickle in (one every few seconds, each read
    /// within the idle timeout: the "slowloris" attack) ends in a timeout once the line has taken
    /// longer than the deadline since its first octet.
    pub fn read_line(&mut self, limit: usize) -> io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        let mut started: Option<std::time::Instant> = None;
        loop {
            if let (Some(deadline), Some(start)) = (self.line_deadline(), started) {
                if start.elapsed() > deadline {
                    return Err(crate::pace::Cut::SlowLine(deadline).into_error());
                }
            }
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                // A signal (a debugger attaching, SIGSTOP/SIGCONT) interrupted the read: retry.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(Line::Closed);
            }
            started.get_or_insert_with(std::time::Instant::now);
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let room = limit.saturating_sub(line.len());
            if chunk.len() > room {
                too_long = true;
            } else {
                line.extend_from_slice(chunk);
            }
            let used = chunk.len();
            self.reader.consume(used);
            if done {
                break;
            }
        }
        if too_long {
            return Ok(Line::TooLong);
        }
        line.pop(); // the LF
        if line.last() == Some(&b'\r') {
            line.pop();
            Ok(Line::Text(line))
        } else {
            Ok(Line::BareLf(line))
        }
    }

    /// Sends bytes: they wait in the output buffer until [`Conn::flush`], or go out at once
    /// when the buffer would grow past [`OUTPUT_BUFFER`]; then this blocks until the client
    /// has taken them (or a clock cuts it). A write error is kept for the next flush; after
    /// one, nothing more is sent.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.broken.is_some() {
            return;
        }
        if self.pending.len() + bytes.len() <= OUTPUT_BUFFER {
            self.pending.extend_from_slice(bytes);
            return;
        }
        let written = self.write_pending().and_then(|()| {
            if bytes.len() >= OUTPUT_BUFFER {
                // Large: straight from the caller's memory, not copied into the buffer.
                self.reader.get_mut().write_all(bytes)
            } else {
                self.pending.extend_from_slice(bytes);
                Ok(())
            }
        });
        if let Err(e) = written {
            self.broken = Some(e);
        }
    }

    /// Has a write failed? (A long piece of output stops early then.)
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.reader.get_mut().write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = &self.broken {
            return Err(copy_error(e));
        }
        let flushed = self
            .write_pending()
            .and_then(|()| self.reader.get_mut().flush());
        if let Err(e) = flushed {
            let copy = copy_error(&e);
            self.broken = Some(e);
            return Err(copy);
        }
        Ok(())
    }

    /// Flushes unless more client input is already buffered (a pipelined command waiting).
    /// A failed write is reported at once, so a session that can no longer send stops reading.
    pub fn flush_if_idle(&mut self) -> io::Result<()> {
        if self.broken.is_some() || self.reader.buffer().is_empty() {
            self.flush()
        } else {
            Ok(())
        }
    }
}

/// A failed handshake in a few words: OpenSSL's reason ("unsupported protocol", "no shared
/// cipher"), or the clock that ended it.
pub fn describe(e: &openssl::ssl::Error) -> String {
    if let Some(io) = e.io_error() {
        if let Some(cut) = crate::pace::Cut::of(io) {
            return cut.to_string();
        }
        return io.to_string();
    }
    match e.ssl_error() {
        Some(stack) => {
            let reasons: Vec<&str> = stack.errors().iter().filter_map(|e| e.reason()).collect();
            if reasons.is_empty() {
                stack.to_string()
            } else {
                reasons.join(", ")
            }
        }
        None => e.to_string(),
    }
}

/// An `io::Error` again, with its [`crate::pace::Cut`] if a clock made it.
fn copy_error(e: &io::Error) -> io::Error {
    match crate::pace::Cut::of(e) {
        Some(cut) => cut.clone().into_error(),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The transcript note for output that could not be sent: `cut off: the client read nothing
/// of our answer for 300 s` when a clock ended it, else `connection lost while sending: …`.
pub fn send_failed(e: &io::Error) -> String {
    match crate::pace::Cut::of(e) {
        Some(cut) => format!("cut off: {cut}"),
        None => format!("connection lost while sending: {e}"),
    }
}

/// Did one of the connection's clocks end this read: a timeout, or the connection made room
/// for a new client on a full server (`src/pace.rs`)? The session says goodbye either way.
pub fn is_cut_off(e: &io::Error) -> bool {
    is_timeout(e) || e.kind() == io::ErrorKind::ConnectionAborted
}

/// Is this read error a timeout (the socket's read timeout ran out)?
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn conn(input: &[u8]) -> Conn {
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        Conn::new(Box::new(Cursor::new(input.to_vec())), addr, addr)
    }

    #[test]
    fn frames_lines() {
        let mut c = conn(b"HELO a\r\nNOOP\nxxxxxxxxxx\r\nQUIT\r\n");
        assert_eq!(c.read_line(8).unwrap(), Line::Text(b"HELO a".to_vec()));
        assert_eq!(c.read_line(8).unwrap(), Line::BareLf(b"NOOP".to_vec()));
        assert_eq!(c.read_line(8).unwrap(), Line::TooLong);
        assert_eq!(c.read_line(8).unwrap(), Line::Text(b"QUIT".to_vec()));
        assert_eq!(c.read_line(8).unwrap(), Line::Closed);
    }

    /// However much is sent before a flush, at most OUTPUT_BUFFER octets wait in memory; the
    /// rest is written as it comes, in order.
    #[test]
    fn output_waits_in_a_bounded_buffer() {
        /// A peer that reads everything into a shared buffer.
        struct Peer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Read for Peer {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Ok(0)
            }
        }
        impl Write for Peer {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let mut c = Conn::new(Box::new(Peer(received.clone())), addr, addr);
        let mut expected = Vec::new();
        for i in 0..3000u32 {
            let piece = format!("{i:>999}\n").into_bytes();
            c.send(&piece);
            expected.extend_from_slice(&piece);
            assert!(c.pending.len() <= OUTPUT_BUFFER);
        }
        let big = vec![b'x'; 3 * OUTPUT_BUFFER];
        c.send(&big);
        expected.extend_from_slice(&big);
        assert!(c.pending.len() <= OUTPUT_BUFFER);
        c.flush().unwrap();
        assert!(c.pending.is_empty());
        assert!(*received.lock().unwrap() == expected);
    }
}
