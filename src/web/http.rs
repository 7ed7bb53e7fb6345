//! The small HTTP/1.1 reader and writer the web door needs (RFC 9112), with every limit in the
//! framing layer, as the mail protocols have theirs.
//!
//! ```text
//! C: GET /journey/19A3C4F2B8D10?lang=id HTTP/1.1
//! C: Host: 127.0.0.1:10080
//! C: Cookie: postlab_session=…
//! C:
//! S: HTTP/1.1 200 OK
//! S: Content-Security-Policy: default-src 'self'; … frame-ancestors 'none'
//! ```
//!
//! One request per connection (`Connection: close`): a browser opens another, and nothing is
//! held between requests but the session cookie. Limits, each with its status code:
//! request line 8 KiB and 100 header fields of 8 KiB (Apache's LimitRequestLine,
//! LimitRequestFields, LimitRequestFieldSize) → 431 / 414; a body beyond the route's size → 413;
//! a body without Content-Length → 411; silence → the socket's timeout closes it.

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;

/// The longest request line or header field, in octets.
pub const MAX_LINE: usize = 8 * 1024;
/// Header fields in one request.
pub const MAX_FIELDS: usize = 100;
/// All header fields together (nginx's large_client_header_buffers: 4 × 8 KiB).
pub const MAX_HEAD: usize = 32 * 1024;

/// One request, read whole.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Field names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A cookie's value (RFC 6265 §5.4: `name=value; name2=value2`).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header("cookie")?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// `?lang=id` asks for Bahasa Indonesia.
    pub fn indonesian(&self) -> bool {
        self.param("lang") == Some("id")
    }
}

/// Why a request could not be read; each has its status (or none: the peer went away).
#[derive(Debug)]
pub enum Refusal {
    /// The connection closed or timed out before a whole request came.
    Gone,
    Status(u16, &'static str),
}

/// Reads one request. `body_limit` says, from the request's head, how large its body may be.
pub fn read_request(
    reader: &mut impl BufRead,
    peer: SocketAddr,
    body_limit: impl Fn(&Request) -> usize,
) -> Result<Request, Refusal> {
    let line = read_line(reader)?.ok_or(Refusal::Status(414, "request line too long"))?;
    // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Status(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Refusal::Status(505, "HTTP/1.1 only"));
    }
    let mut headers = Vec::new();
    let mut head = 0;
    loop {
        let field = read_line(reader)?.ok_or(Refusal::Status(431, "header field too long"))?;
        if field.is_empty() {
            break;
        }
        head += field.len();
        if headers.len() >= MAX_FIELDS || head > MAX_HEAD {
            return Err(Refusal::Status(431, "too many header fields"));
        }
        let Some((name, value)) = field.split_once(':') else {
            return Err(Refusal::Status(400, "malformed header field"));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let path = percent_decode(raw_path).ok_or(Refusal::Status(400, "bad path"))?;
    let mut request = Request {
        method: method.to_string(),
        path,
        query: parse_form(raw_query.as_bytes()),
        headers,
        body: Vec::new(),
        peer,
    };
    if request.header("transfer-encoding").is_some() {
        return Err(Refusal::Status(411, "send a Content-Length, not chunks"));
    }
    let length = match request.header("content-length") {
        None => 0,
        Some(n) => n
            .parse::<usize>()
            .map_err(|_| Refusal::Status(400, "bad Content-Length"))?,
    };
    if length > body_limit(&request) {
        return Err(Refusal::Status(413, "request body too large"));
    }
    request.body = vec![0; length];
    reader
        .read_exact(&mut request.body)
        .map_err(|_| Refusal::Gone)?;
    Ok(request)
}

/// One CRLF-ended line, or `None` when it is longer than [`MAX_LINE`].
fn read_line(reader: &mut impl BufRead) -> Result<Option<String>, Refusal> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut bytes)
        .map_err(|_| Refusal::Gone)?;
    if bytes.is_empty() {
        return Err(Refusal::Gone);
    }
    if !bytes.ends_with(b"\n") {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&bytes);
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

/// `%41` → `A`; `None` for a broken escape or a result that is not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `application/x-www-form-urlencoded` (a query string or a form body): `+` is a space.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                percent_decode(&name.replace('+', " "))?,
                percent_decode(&value.replace('+', " "))?,
            ))
        })
        .collect()
}

/// The policy every page is served under: our own script and style only, no plugins, no
/// framing by other sites (CSP Level 3 `frame-ancestors`), forms post only to us.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// One response. Security headers are added when it is written.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Content-Security-Policy for this response.
    pub policy: &'static str,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
            policy: PAGE_POLICY,
        }
    }

    pub fn html(body: String) -> Response {
        Response::new(200, "text/html; charset=utf-8", body)
    }

    /// A plain-text error page with its status.
    pub fn error(status: u16, text: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", format!("{text}\n"))
    }

    /// 303 See Other: after a form post, the browser fetches `location` with GET.
    pub fn redirect(location: &str) -> Response {
        let mut response = Response::new(303, "text/plain; charset=utf-8", "");
        response.headers.push(("Location", location.to_string()));
        response
    }

    pub fn with(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }

    /// Writes the status line, the headers and the body.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(self.head(Some(self.body.len())).as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }

    /// The status line and headers; `length` None leaves Content-Length out (a stream).
    pub fn head(&self, length: Option<usize>) -> String {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(length) = length {
            head.push_str(&format!("Content-Length: {length}\r\n"));
        }
        head.push_str(&format!("Content-Security-Policy: {}\r\n", self.policy));
        head.push_str(
            "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n\
             Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        );
        head
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// The parts of a `multipart/form-data` body (RFC 7578): (field name, file name, bytes).
/// The body is a MIME multipart, so mail-parser, which reads postlab's mail, reads it too.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let mut message = format!("Content-Type: {content_type}\r\n\r\n").into_bytes();
    message.extend_from_slice(body);
    use mail_parser::MimeHeaders;
    let Some(parsed) = mail_parser::MessageParser::default().parse(&message) else {
        return Vec::new();
    };
    let mut fields = Vec::new();
    for part in parsed.parts.iter().skip(1) {
        let Some(disposition) = part.content_disposition() else {
            continue;
        };
        let Some(name) = disposition.attribute("name") else {
            continue;
        };
        let file = disposition.attribute("filename").map(str::to_string);
        fields.push((name.to_string(), file, part.contents().to_vec()));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Request, Refusal> {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        read_request(&mut text.as_bytes(), peer, |_| 100)
    }

    #[test]
    fn requests_and_their_limits() {
        let request =
            read("POST /mail/send?a=1&b=x+y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
                .unwrap();
        assert_eq!(request.path, "/mail/send");
        assert_eq!(request.param("b"), Some("x y"));
        assert_eq!(request.body, b"abc");
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_LINE));
        assert!(matches!(read(&long), Err(Refusal::Status(414, _))));
        let fields: String = (0..=MAX_FIELDS).map(|n| format!("X-{n}: y\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{fields}\r\n");
        assert!(matches!(read(&many), Err(Refusal::Status(431, _))));
        let big = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
        assert!(matches!(read(big), Err(Refusal::Status(413, _))));
        assert!(matches!(
            read("GET /%zz HTTP/1.1\r\n\r\n"),
            Err(Refusal::Status(400, _))
        ));
    }

    #[test]
    fn multipart_fields_and_files() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nbob@localhost\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n";
        let fields = parse_multipart("multipart/form-data; boundary=XX", body.as_bytes());
        assert_eq!(fields[0], ("to".into(), None, b"bob@localhost".to_vec()));
        assert_eq!(
            fields[1],
            ("file".into(), Some("a.txt".into()), b"hello".to_vec())
        );
    }
}
