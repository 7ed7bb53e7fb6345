//! One client conversation over TCP, line by line, with a transcript a student can read.
//!
//! Lines the client writes are printed as `C:`, lines it reads as `S:`, each with the
//! flowchart step, when verbose. Secrets are never printed: a line marked secret shows as
//! `<credentials hidden>`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::transcript::Step;

/// The longest line we accept from a server: enough for any reply, bounded all the same.
const MAX_LINE: u64 = 64 * 1024;

pub struct Wire {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    step: Step,
    verbose: bool,
}

impl Wire {
    pub fn connect(server: &str, step: Step, verbose: bool) -> io::Result<Wire> {
        let stream = TcpStream::connect(server)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let wire = Wire {
            reader,
            writer: stream,
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
        self.writer.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends one line without showing it.
    pub fn send_secret(&mut self, line: &str, shown: &str) -> io::Result<()> {
        self.say(&format!("C: {shown} <credentials hidden>"));
        self.writer.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends raw bytes (a message body), reporting only their size.
    pub fn send_bytes(&mut self, bytes: &[u8], what: &str) -> io::Result<()> {
        self.say(&format!("C: <{what}: {} octets>", bytes.len()));
        self.writer.write_all(bytes)
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
        loop {
            let line = self.line()?;
            let code = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| bad(&line))?;
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, line.get(4..).unwrap_or("").to_string()));
            }
        }
    }

    pub fn note(&self, text: &str) {
        self.say(text);
    }
}

fn bad(line: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("not a reply: {line:?}"))
}
