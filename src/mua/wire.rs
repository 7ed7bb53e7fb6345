//! One client conversation over TCP, line by line, with a transcript a student can read.
//!
//! Lines the client writes are printed as `C:`, lines it reads as `S:`, each with the
//! flowchart step, when verbose. Secrets are never printed: a line marked secret shows as
//! `<credentials hidden>`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::net::Stream;
use crate::transcript::Step;

/// The longest line we accept from a server: enough for any reply, bounded all the same.
const MAX_LINE: u64 = 64 * 1024;

/// One conversation: reads and writes go through one buffered stream, so TLS can replace the
/// plain socket in the middle (STARTTLS).
pub struct Wire {
    /// `host:port` as given, for the TLS server name.
    server: String,
    reader: BufReader<Box<dyn Stream>>,
    step: Step,
    verbose: bool,
}

impl Wire {
    pub fn connect(server: &str, step: Step, verbose: bool) -> io::Result<Wire> {
        let stream = TcpStream::connect(server)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let reader: BufReader<Box<dyn Stream>> = BufReader::new(Box::new(stream));
        let wire = Wire {
            server: server.to_string(),
            reader,
            step,
            verbose,
        };
        wire.say(&format!("connected to {server}"));
        Ok(wire)
    }

    fn say(&self, text: &str) {
        if self.verbose {
            eprintln!("{} {text}", self.step);
        }
    }

    /// Sends one line (CRLF added).
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        self.say(&format!("C: {line}"));
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends one line without showing it.
    pub fn send_secret(&mut self, line: &str, shown: &str) -> io::Result<()> {
        self.say(&format!("C: {shown} <credentials hidden>"));
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends raw bytes (a message body), reporting only their size.
    pub fn send_bytes(&mut self, bytes: &[u8], what: &str) -> io::Result<()> {
        self.say(&format!("C: <{what}: {} octets>", bytes.len()));
        self.reader.get_mut().write_all(bytes)
    }

    /// Reads one line, without its CRLF.
    pub fn line(&mut self) -> io::Result<String> {
        let mut bytes = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut bytes)?;
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let line = String::from_utf8_lossy(&bytes)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        self.say(&format!("S: {line}"));
        Ok(line)
    }

    /// Reads one line without showing it (a message's content line).
    pub fn quiet_line(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        (&mut self.reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut bytes)?;
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(bytes)
    }

    /// Reads an SMTP reply (all its lines): its code and the text of the last line.
    pub fn smtp_reply(&mut self) -> io::Result<(u16, String)> {
        let (code, mut lines) = self.smtp_reply_lines()?;
        Ok((code, lines.pop().unwrap_or_default()))
    }

    /// Reads an SMTP reply: its code and the text of every line (EHLO lists extensions).
    pub fn smtp_reply_lines(&mut self) -> io::Result<(u16, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let line = self.line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| bad(&line))?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    pub fn note(&self, text: &str) {
        self.say(text);
    }

    /// Reads exactly `n` octets (an IMAP literal), without showing them.
    pub fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0; n];
        self.reader.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    /// Starts TLS on the connection (after the server said yes to STARTTLS or STLS). Anything
    /// the server sent after its yes and before the handshake is a response injection
    /// (CVE-2021-38371): refuse. The certificate is checked only when `verify` is set; lab
    /// servers use self-signed certificates.
    pub fn start_tls(&mut self, verify: bool) -> Result<(), String> {
        let host = self
            .server
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&self.server)
            .trim_matches(['[', ']'])
            .to_string();
        self.handshake(&host, verify)
            .map_err(|e| format!("TLS: {e}"))
    }

    fn handshake(&mut self, host: &str, verify: bool) -> io::Result<()> {
        if !self.reader.buffer().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the server sent more after its go-ahead: refusing (response injection)",
            ));
        }
        let connector = native_tls::TlsConnector::builder()
            .danger_accept_invalid_certs(!verify)
            .danger_accept_invalid_hostnames(!verify)
            .build()
            .map_err(io::Error::other)?;
        let placeholder: Box<dyn Stream> = Box::new(io::empty());
        let plain = std::mem::replace(&mut self.reader, BufReader::new(placeholder)).into_inner();
        let tls = connector.connect(host, plain).map_err(|e| match e {
            native_tls::HandshakeError::Failure(e) => io::Error::other(e.to_string()),
            native_tls::HandshakeError::WouldBlock(_) => {
                io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
            }
        })?;
        self.say(if verify {
            "TLS started, certificate verified"
        } else {
            "TLS started (certificate not verified: lab servers are self-signed; use --verify)"
        });
        self.reader = BufReader::new(Box::new(tls));
        Ok(())
    }
}

fn bad(line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a reply: {line:?}"))
}
