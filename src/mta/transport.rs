//! `DIR/transport`: static routes that override DNS, in the style of Postfix's transport map.
//!
//! ```text
//! # domain        where to send its mail
//! b.test          [127.0.0.2]:10025
//! lab.test        [mail.lab.test]:2525
//! ```
//!
//! The brackets say what they say in Postfix: connect to this host, no MX lookup. A class
//! without a DNS server can still run two servers and watch mail flow between them; the
//! transcript says when a route came from here rather than from DNS.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Domain (lower case) → `host:port` as written (without the brackets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    routes: BTreeMap<String, String>,
}

impl Transport {
    /// Reads the file; a missing file means no static routes.
    pub fn load(path: &Path) -> io::Result<Transport> {
        match std::fs::read_to_string(path) {
            Ok(text) => Transport::parse(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Transport::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> Result<Transport, String> {
        let mut routes = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(domain), Some(target), None) = (words.next(), words.next(), words.next())
            else {
                return Err(format!(
                    "line {}: expected 'domain  [host]:port'",
                    index + 1
                ));
            };
            let target = match target.strip_prefix('[').and_then(|t| t.split_once(']')) {
                Some((host, port)) => match port.strip_prefix(':') {
                    Some(port) if port.parse::<u16>().is_ok() => format!("{host}:{port}"),
                    None if port.is_empty() => format!("{host}:25"),
                    _ => return Err(format!("line {}: bad port in {target}", index + 1)),
                },
                None => {
                    return Err(format!(
                        "line {}: write the host in brackets, [host]:port",
                        index + 1
                    ))
                }
            };
            routes.insert(domain.to_ascii_lowercase(), target);
        }
        Ok(Transport { routes })
    }

    /// The `host:port` to use for `domain`, if the map has one.
    pub fn route(&self, domain: &str) -> Option<&str> {
        self.routes
            .get(&domain.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes_and_refuses_bad_lines() {
        let t = Transport::parse("# lab\nB.test [127.0.0.2]:10025\nc.test [mx.c.test]\n").unwrap();
        assert_eq!(t.route("b.TEST"), Some("127.0.0.2:10025"));
        assert_eq!(t.route("c.test"), Some("mx.c.test:25"));
        assert_eq!(t.route("d.test"), None);
        assert!(Transport::parse("b.test 127.0.0.2:25\n")
            .unwrap_err()
            .contains("line 1"));
        assert!(Transport::parse("b.test [x]:port\n").is_err());
        assert!(Transport::parse("b.test\n").is_err());
    }
}
