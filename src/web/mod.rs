//! The web door: the journey board a class watches, and a webmail that is a real mail client.
//!
//! `postlab serve` listens for HTTP on 127.0.0.1, port 80 + `port_offset` (10080), beside the
//! mail listeners, in the same style: a blocking accept loop, one thread per connection, a cap
//! on connections (the surplus is told 503 and closed), timeouts on every read and write.
//! `web = no` turns it off. Listening anywhere but loopback needs `web_listen` set, and is
//! HTTPS only, with the server's own certificate.
//!
//! | path | what | file |
//! |---|---|---|
//! | `/` | the journey board: the seven flowchart boxes, one token per message | `board.rs`, `static/board.js` |
//! | `/events` | the transcript lines as they are written (server-sent events) | `events.rs` |
//! | `/journey/ID` | every transcript line about one message, labelled | `board.rs` |
//! | `/mail…` | the webmail: an MUA speaking IMAP (step 7) and submission (step 1) | `mail.rs`, `imap.rs` |
//!
//! Sessions, CSRF tokens and the shared login throttle are in `session.rs`; the HTTP framing
//! and its limits in `http.rs`.

use std::io::{BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::context::Shared;
use crate::net::Stream;

pub mod board;
pub mod events;
pub mod http;
pub mod imap;
pub mod mail;
pub mod session;

use http::{Refusal, Request, Response};

/// The standard HTTP port; postlab adds `port_offset`.
pub const STANDARD_PORT: u16 = 80;
/// HTTP connections at once (the board's event streams among them); the surplus gets 503.
/// nginx starts with 512 per worker; a classroom's projector and thirty students need far fewer,
/// and each connection here is a thread.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request, or to take our answer.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The largest form a page posts (log in, delete, move).
pub const MAX_FORM: usize = 64 * 1024;

/// A bound web listener, and whether it speaks HTTPS.
pub struct Listener {
    pub socket: TcpListener,
    pub https: bool,
}

/// Binds the web listener, or `None` with `web = no`. Off loopback, HTTPS is the only way.
pub fn bind(config: &Config, ephemeral: bool) -> Result<Option<Listener>, String> {
    if !config.web {
        return Ok(None);
    }
    // Unset, the web stays on loopback: the server's own `listen` address when that is a
    // loopback one (a `postlab lab` server on 127.0.0.12 has its board there), else 127.0.0.1.
    let ip = config.web_listen.unwrap_or(if config.listen.is_loopback() {
        config.listen
    } else {
        IpAddr::from([127, 0, 0, 1])
    });
    let port = if ephemeral {
        0
    } else {
        STANDARD_PORT
            .checked_add(config.port_offset)
            .ok_or_else(|| format!("port_offset {} puts web past 65535", config.port_offset))?
    };
    let addr = SocketAddr::new(ip, port);
    let socket =
        TcpListener::bind(addr).map_err(|e| format!("cannot listen for web on {addr}: {e}"))?;
    Ok(Some(Listener {
        socket,
        https: !ip.is_loopback(),
    }))
}

/// What every web connection shares.
pub struct Web {
    pub shared: Arc<Shared>,
    pub sessions: session::Sessions,
    active: AtomicUsize,
    https: bool,
}

/// Accepts web connections until the process ends.
pub fn run(listener: Listener, shared: Arc<Shared>) {
    let web = Arc::new(Web {
        shared,
        sessions: session::Sessions::default(),
        active: AtomicUsize::new(0),
        https: listener.https,
    });
    for stream in listener.socket.incoming() {
        let Ok(mut stream) = stream else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_read_timeout(Some(TIMEOUT));
        let _ = stream.set_write_timeout(Some(TIMEOUT));
        if web.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            web.active.fetch_sub(1, Ordering::SeqCst);
            log::warn!("web: too many connections, turned one away");
            if !web.https {
                let busy = Response::error(503, "Too many connections, try again in a moment")
                    .with("Retry-After", "5".into());
                let _ = busy.write(&mut stream);
            }
            continue;
        }
        let web = web.clone();
        let spawned = std::thread::Builder::new()
            .name("web-client".into())
            .spawn(move || {
                connection(&web, stream);
                web.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            log::error!("web: cannot start a thread: {e}");
        }
    }
}

/// Serves one connection: one request, one answer (or a stream of events).
fn connection(web: &Web, stream: TcpStream) {
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let stream: Box<dyn Stream> = if web.https {
        let Some(tls) = &web.shared.tls else {
            return;
        };
        match tls.acceptor.accept(stream) {
            Ok(tls) => Box::new(tls),
            Err(_) => return,
        }
    } else {
        Box::new(stream)
    };
    let mut reader = BufReader::new(stream);
    let max_message = web.shared.config.max_message_size;
    let request = http::read_request(&mut reader, peer, |head| {
        match (head.method.as_str(), head.path.as_str()) {
            // A message and its attachment, for a logged-in user only: a stranger cannot make
            // us hold 25 MiB. The form's file travels raw; the mail will be base64, a third
            // larger, and the submission server's own SIZE limit has the last word.
            ("POST", "/mail/send") if web.sessions.get(head).is_some() => max_message + MAX_FORM,
            ("POST", _) => MAX_FORM,
            _ => 0,
        }
    });
    let out = reader.get_mut();
    let request = match request {
        Ok(request) => request,
        Err(Refusal::Status(code, text)) => {
            let _ = Response::error(code, text).write(out);
            return;
        }
        Err(Refusal::Gone) => return,
    };
    if request.method == "GET" && request.path == "/events" {
        board::events(out);
        return;
    }
    let response = route(web, &request);
    let _ = response.write(out);
    let _ = out.flush();
}

/// Every page, by method and path.
fn route(web: &Web, request: &Request) -> Response {
    // No parameter names a file, and no path has a `..` segment or a backslash: a request
    // that tries is refused before any handler sees it.
    if request.path.contains("..") || request.path.contains('\\') || request.path.contains('\0') {
        return Response::error(400, "no such path");
    }
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("GET", "/") => board::page(request),
        ("GET", "/static/board.js") => board::asset("text/javascript", board::SCRIPT),
        ("GET", "/static/mail.js") => board::asset("text/javascript", mail::SCRIPT),
        ("GET", "/static/web.css") => board::asset("text/css", board::STYLE),
        ("GET", _) if path.starts_with("/journey/") => board::journey(web, request),
        (_, _) if path == "/mail" || path.starts_with("/mail/") => mail::route(web, request),
        ("GET", _) => Response::error(404, "no such page"),
        _ => Response::error(405, "method not allowed"),
    }
}
