//! A client connection as every protocol's server loop uses it: buffered lines in, replies out.
//!
//! Reading and writing go through one object (a `BufReader` around the stream, writing through
//! `get_mut`), because an encrypted stream cannot be split in two; when TLS arrives, the
//! buffered, unread bytes are exactly what must be thrown away at STARTTLS.
//!
//! Replies are collected and sent in one write when the client has nothing more waiting in
//! our buffer. That is what RFC 2920 (PIPELINING) asks of a server: answer every pipelined
//! command, in order, without a round trip per command.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;

/// Anything a session can talk over: a TCP stream, later a TLS stream.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

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

pub struct Conn {
    reader: BufReader<Box<dyn Stream>>,
    pending: Vec<u8>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

impl Conn {
    pub fn new(stream: Box<dyn Stream>, peer: SocketAddr, local: SocketAddr) -> Conn {
        Conn {
            reader: BufReader::with_capacity(16 * 1024, stream),
            pending: Vec::new(),
            peer,
            local,
        }
    }

    /// The buffered reader, for protocol parts that read on their own (SMTP's DATA).
    pub fn reader(&mut self) -> &mut BufReader<Box<dyn Stream>> {
        &mut self.reader
    }

    /// Reads one line of at most `limit` octets including the CRLF. Memory stays bounded
    /// whatever the client sends: a longer line is consumed and dropped.
    pub fn read_line(&mut self, limit: usize) -> io::Result<Line> {
        let mut line = Vec::new();
        let mut too_long = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(Line::Closed);
            }
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

    /// Queues bytes to send; they go out at the next [`Conn::flush`].
    pub fn send(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let stream = self.reader.get_mut();
            stream.write_all(&self.pending)?;
            stream.flush()?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Flushes unless more client input is already buffered (a pipelined command waiting).
    pub fn flush_if_idle(&mut self) -> io::Result<()> {
        if self.reader.buffer().is_empty() {
            self.flush()
        } else {
            Ok(())
        }
    }
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
}
