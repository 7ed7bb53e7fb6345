//! The web door (issue 18) over plain HTTP from a `TcpStream`: the journey board's feed, the
//! webmail as a user drives it, and what a hostile client gets (no token, `..`, too large,
//! too many connections); then a headless Chromium driven over WebDriver logs in, sends,
//! watches the board and opens a hostile message.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::support::*;

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends raw bytes, reads the answer until the server closes.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may answer (413, 431) before it has read all of a large request.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// A user's browser, reduced to its cookies.
pub struct Browser {
    pub addr: SocketAddr,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(addr: SocketAddr) -> Browser {
        Browser {
            addr,
            cookies: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            cookie.join("; "),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let reply = raw(self.addr, &request);
        for line in reply.head.lines() {
            if let Some(set) = line.strip_prefix("Set-Cookie: ") {
                let pair = set.split(';').next().unwrap_or_default();
                if let Some((name, value)) = pair.split_once('=') {
                    self.cookies.retain(|(n, _)| n != name);
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
        reply
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, "text/plain", b"")
    }

    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(n, v)| format!("{n}={}", encode(v)))
            .collect();
        self.send(
            "POST",
            path,
            "application/x-www-form-urlencoded",
            body.join("&").as_bytes(),
        )
    }

    pub fn post_multipart(&mut self, path: &str, fields: &[(&str, Option<&str>, &[u8])]) -> Reply {
        let mut body = Vec::new();
        for (name, file, value) in fields {
            body.extend_from_slice(b"--BOUNDARY42\r\n");
            let disposition = match file {
                Some(file) => format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--BOUNDARY42--\r\n");
        self.send(
            "POST",
            path,
            "multipart/form-data; boundary=BOUNDARY42",
            &body,
        )
    }

    /// Logs in through the form, as a person does; panics if it fails.
    pub fn log_in(addr: SocketAddr, user: &str, password: &str) -> Browser {
        let mut browser = Browser::new(addr);
        let page = browser.get("/mail");
        let csrf = csrf(&page.body);
        let reply = browser.post(
            "/mail/login",
            &[("csrf", &csrf), ("user", user), ("password", password)],
        );
        assert_eq!(reply.status, 303, "{}{}", reply.head, reply.body);
        browser
    }

    /// The CSRF token of the pages this session is served.
    pub fn csrf(&mut self) -> String {
        csrf(&self.get("/mail").body)
    }
}

/// Delivers `content` to `to` over SMTP, as another server would.
pub fn mail(server: &TestServer, to: &str, content: &str) -> crate::support::Reply {
    let mut smtp = server.connect();
    smtp.expect("EHLO laptop", 250);
    smtp.send_mail("carol@localhost", &[to], content)
}

pub fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no csrf token in {html}"))
        .to_string()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn every_page_carries_the_security_headers_and_the_cookies_are_strict() {
    let server = TestServer::start();
    let web = server.addr("web");
    for path in [
        "/",
        "/?lang=id",
        "/mail",
        "/static/board.js",
        "/nothing-here",
    ] {
        let reply = Browser::new(web).get(path);
        let policy = reply.header("Content-Security-Policy").unwrap_or_default();
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {}",
            reply.head
        );
        assert!(policy.contains("script-src 'self'"), "{path}");
        assert_eq!(
            reply.header("X-Content-Type-Options").as_deref(),
            Some("nosniff")
        );
    }
    let board = Browser::new(web).get("/?lang=id");
    assert!(board.body.contains("Gerak lambat"), "{}", board.body);
    for label in ["MUA", "MTA", "MDA", "DNS", "RELAY", "MAILBOX", "ACCESS"] {
        assert!(board.body.contains(label));
    }
    let login = Browser::new(web).get("/mail");
    let cookie = login.header("Set-Cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let mut alice = Browser::log_in(web, "alice", "alice-password");
    let session = alice
        .cookies
        .iter()
        .find(|(n, _)| n == "postlab_session")
        .unwrap();
    assert_eq!(session.1.len(), 64);
    // The password never travels in a URL, and is not written anywhere.
    assert!(!server.transcripts().contains("alice-password"));
    assert!(alice.get("/mail").body.contains("INBOX"));
}

#[test]
fn the_event_stream_carries_each_step_as_it_is_written() {
    let server = TestServer::start();
    let mut events = TcpStream::connect(server.addr("web")).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The stream is open once its first lines came.
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    while !seen.contains("retry:") {
        let n = events.read(&mut buffer).unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains("Content-Type: text/event-stream"));
    let reply = mail(&server, "bob@localhost", "Subject: hi\r\n\r\nhello\r\n");
    let id = queue_id(&reply);
    let wanted = format!("\"step\":6,\"label\":\"MAILBOX\",\"id\":\"{id}\"");
    while !seen.contains(&wanted) {
        let n = events
            .read(&mut buffer)
            .expect("the MAILBOX event within the deadline");
        assert!(n > 0, "stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
    assert!(seen.contains(&format!("\"step\":3,\"label\":\"MDA\",\"id\":\"{id}\"")));
    // The journey page shows every line of the session, labelled, with the AUTH-free dialogue.
    let journey = Browser::new(server.addr("web")).get(&format!("/journey/{id}"));
    assert_eq!(journey.status, 200);
    assert!(journey.body.contains("[6 MAILBOX]") && journey.body.contains("C: MAIL FROM:"));
}

#[test]
fn a_post_without_its_csrf_token_is_refused() {
    let server = TestServer::start();
    let web = server.addr("web");
    // Log in without the token from the form (another site's page posting to us).
    let mut stranger = Browser::new(web);
    let reply = stranger.post(
        "/mail/login",
        &[("user", "alice"), ("password", "alice-password")],
    );
    assert_eq!(reply.status, 403);
    let mut alice = Browser::log_in(web, "alice", "alice-password");
    mail(&server, "alice@localhost", "Subject: keep me\r\n\r\nx\r\n");
    wait_for("delivery", || {
        (server.new_mail("alice").len() == 1).then_some(())
    });
    for token in ["", "0000", &"a".repeat(64)] {
        let reply = alice.post(
            "/mail/delete",
            &[("csrf", token), ("folder", "INBOX"), ("uid", "1")],
        );
        assert_eq!(reply.status, 403, "token {token:?}");
    }
    assert!(alice.get("/mail").body.contains("keep me"));
    // With its token the same form works.
    let csrf = alice.csrf();
    let reply = alice.post(
        "/mail/delete",
        &[("csrf", &csrf), ("folder", "INBOX"), ("uid", "1")],
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert!(!alice.get("/mail").body.contains("keep me"));
}

#[test]
fn path_traversal_is_refused_in_every_parameter() {
    let server = TestServer::start();
    let web = server.addr("web");
    for path in [
        "/static/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/journey/..%2f..%2fusers",
        "/journey/../users",
        "/static/board.js%00",
    ] {
        let reply = Browser::new(web).get(path);
        assert!([400, 404].contains(&reply.status), "{path}: {}", reply.head);
        assert!(!reply.body.contains("alice:"), "{path}");
    }
    let mut alice = Browser::log_in(web, "alice", "alice-password");
    for folder in [
        "../bob",
        "..%2Fbob",
        "%2Fetc",
        ".%2E/bob",
        "INBOX%5C..%5Cbob",
    ] {
        let reply = alice.get(&format!("/mail?folder={folder}"));
        assert_eq!(reply.status, 400, "{folder}");
        let reply = alice.get(&format!("/mail/read?folder={folder}&uid=1"));
        assert_eq!(reply.status, 400, "{folder}");
    }
    let csrf = alice.csrf();
    let reply = alice.post(
        "/mail/move",
        &[
            ("csrf", &csrf),
            ("folder", "INBOX"),
            ("uid", "1"),
            ("to", "../../bob"),
        ],
    );
    assert_eq!(reply.status, 400);
    assert_eq!(Browser::new(web).get("/").status, 200);
}

#[test]
fn oversized_requests_are_refused_and_the_server_goes_on() {
    let server = TestServer::start();
    let web = server.addr("web");
    let long_line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(10_000));
    assert_eq!(raw(web, long_line.as_bytes()).status, 414);
    let big_field = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "b".repeat(10_000));
    assert_eq!(raw(web, big_field.as_bytes()).status, 431);
    let many: String = (0..200).map(|n| format!("X-{n}: y\r\n")).collect();
    assert_eq!(
        raw(web, format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()).status,
        431
    );
    let fat: String = (0..50)
        .map(|n| format!("X-{n}: {}\r\n", "c".repeat(1000)))
        .collect();
    assert_eq!(
        raw(web, format!("GET / HTTP/1.1\r\n{fat}\r\n").as_bytes()).status,
        431
    );
    let huge_body = "POST /mail/login HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n";
    assert_eq!(raw(web, huge_body.as_bytes()).status, 413);
    // A message-sized body is for a logged-in user only.
    let stranger = "POST /mail/send HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
    assert_eq!(raw(web, stranger.as_bytes()).status, 413);
    let chunked = "POST /mail/login HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(raw(web, chunked.as_bytes()).status, 411);
    assert_eq!(raw(web, b"NONSENSE\r\n\r\n").status, 400);
    assert_eq!(Browser::new(web).get("/").status, 200);
    // SMTP did not notice.
    server.connect().expect("QUIT", 221);
}

#[test]
fn connections_beyond_the_cap_get_503_and_places_come_back() {
    let server = TestServer::start();
    let web = server.addr("web");
    // Idle connections that never send a request hold their places.
    let idle: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(web).unwrap()).collect();
    let turned_away = wait_for("a 503 for one connection too many", || {
        let reply = Browser::new(web).get("/");
        (reply.status == 503).then_some(reply)
    });
    assert_eq!(turned_away.header("Retry-After").as_deref(), Some("5"));
    drop(idle);
    wait_for("the board again", || {
        (Browser::new(web).get("/").status == 200).then_some(())
    });
}

#[test]
fn web_no_turns_the_listener_off() {
    let server = TestServer::start_with(Setup {
        config: "web = no\n".into(),
        ..Setup::default()
    });
    assert!(!server.listeners.contains("web "), "{}", server.listeners);
}

#[test]
fn beyond_loopback_the_web_speaks_only_https_with_the_servers_certificate() {
    let server = TestServer::start_with(Setup {
        config: "web_listen = 0.0.0.0\n".into(),
        ..Setup::default()
    });
    let port = server.addr("web").port();
    let web: SocketAddr = ([127, 0, 0, 1], port).into();
    // Plain HTTP gets no page.
    let reply = raw(web, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_ne!(reply.status, 200);
    let cert = server.dir.join("tls").join("cert.pem");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .arg(format!("https://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.contains("MAILBOX"),
        "{page}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn webmail_sends_with_an_attachment_and_the_other_account_reads_it() {
    let server = TestServer::start();
    let web = server.addr("web");
    let mut alice = Browser::log_in(web, "alice", "alice-password");
    let csrf = alice.csrf();
    let reply = alice.post_multipart(
        "/mail/send",
        &[
            ("csrf", None, csrf.as_bytes()),
            ("to", None, b"bob@localhost"),
            ("subject", None, b"Lunch at noon"),
            ("body", None, b"Shall we?\r\n-- alice"),
            ("attachment", Some("menu.txt"), b"soup\nbread\n"),
        ],
    );
    assert_eq!(reply.status, 303, "{}", reply.body);
    wait_for("bob's mail", || {
        (server.new_mail("bob").len() == 1).then_some(())
    });
    let mut bob = Browser::log_in(web, "bob", "bob-password");
    let inbox = bob.get("/mail");
    assert!(inbox.body.contains("Lunch at noon"), "{}", inbox.body);
    let uid = inbox
        .body
        .split("uid=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let message = bob.get(&format!("/mail/read?folder=INBOX&uid={uid}"));
    assert!(message.body.contains("Shall we?"), "{}", message.body);
    assert!(message.body.contains("menu.txt"));
    assert!(message.body.contains("alice@localhost"));
    // The webmail is a real MUA: submission with AUTH (step 1), IMAP (step 7), the read event.
    let transcripts = server.transcripts();
    assert!(
        transcripts.contains("C: AUTH PLAIN <credentials hidden>"),
        "{transcripts}"
    );
    assert!(transcripts.contains("[7 ACCESS] C: a1 LOGIN \"bob\" <password hidden>"));
    assert!(transcripts.contains("read by bob in the webmail"));
    assert!(!transcripts.contains("bob-password") && !transcripts.contains("alice-password"));
    // Reply, then move to a new folder and delete.
    let compose = bob.get(&format!("/mail/compose?folder=INBOX&uid={uid}"));
    assert!(
        compose.body.contains("Re: Lunch at noon") && compose.body.contains("&#62; Shall we?"),
        "{}",
        compose.body
    );
    let csrf = bob.csrf();
    let moved = bob.post(
        "/mail/move",
        &[
            ("csrf", &csrf),
            ("folder", "INBOX"),
            ("uid", &uid),
            ("to", "Trash"),
        ],
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    assert!(!bob.get("/mail").body.contains("Lunch at noon"));
    let trash = bob.get("/mail?folder=Trash");
    assert!(trash.body.contains("Lunch at noon"), "{}", trash.body);
    let uid = trash
        .body
        .split("uid=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let deleted = bob.post(
        "/mail/delete",
        &[("csrf", &csrf), ("folder", "Trash"), ("uid", &uid)],
    );
    assert_eq!(deleted.status, 303);
    assert!(!bob.get("/mail?folder=Trash").body.contains("Lunch at noon"));
}

#[test]
fn hostile_html_mail_is_cleaned_and_served_sandboxed() {
    let server = TestServer::start();
    let web = server.addr("web");
    let html = "<p>hello</p><script>document.title='pwned'</script>\
        <img src=x onerror=\"document.title='pwned'\">\
        <a href=\"javascript:document.title='pwned'\">click</a>\
        <div style=\"width:expression(alert(1))\">css</div>\
        <img src=\"http://192.0.2.1/track.png\">";
    let content = format!(
        "Subject: hostile\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    );
    mail(&server, "bob@localhost", &content);
    let mut bob = Browser::log_in(web, "bob", "bob-password");
    let inbox = bob.get("/mail");
    let uid = inbox
        .body
        .split("uid=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let page = bob.get(&format!("/mail/read?folder=INBOX&uid={uid}"));
    assert!(
        page.body
            .contains("<iframe class=\"body\" id=\"html-body\" sandbox=\"\""),
        "{}",
        page.body
    );
    let body = bob.get(&format!("/mail/body?folder=INBOX&uid={uid}"));
    assert!(body.body.contains("hello"));
    for bad in ["<script", "onerror", "javascript:", "expression(", "style="] {
        assert!(!body.body.contains(bad), "{bad} in {}", body.body);
    }
    let policy = body.header("Content-Security-Policy").unwrap();
    assert!(
        policy.starts_with("default-src 'none'") && policy.contains("sandbox"),
        "{policy}"
    );
    assert!(
        policy.contains("img-src data:"),
        "remote images are blocked: {policy}"
    );
}

/// A tiny WebDriver client (W3C WebDriver, the JSON wire of `chromedriver`) over plain HTTP:
/// just the commands the browser tests use. Values are picked out of the JSON by hand; every
/// script the tests run returns a plain string.
mod webdriver {
    use super::*;
    use std::process::{Child, Command, Stdio};

    pub struct Chrome {
        child: Child,
        addr: SocketAddr,
        session: String,
        _profile: std::path::PathBuf,
    }

    fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        // chromedriver keeps the connection open: read the head, then Content-Length octets.
        let mut reader = std::io::BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        String::from_utf8_lossy(&body).into_owned()
    }

    /// The string after `"key":"` in a JSON text, with \" \\ and \n undone.
    pub fn string(json: &str, key: &str) -> Option<String> {
        let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
        let mut out = String::new();
        let mut chars = json[start..].chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        None
    }

    fn quote(text: &str) -> String {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }

    const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

    impl Chrome {
        /// Starts chromedriver and a headless Chromium, or `None` if they are not installed.
        pub fn start() -> Chrome {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (Debian package chromium-driver; tests/deps.sh installs it)");
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            wait_for("chromedriver", || {
                TcpStream::connect(addr).ok().and_then(|_| {
                    call(addr, "GET", "/status", "")
                        .contains("\"ready\":true")
                        .then_some(())
                })
            });
            let profile = temp_dir("chrome-profile");
            let body = format!(
                "{{\"capabilities\":{{\"alwaysMatch\":{{\"goog:chromeOptions\":{{\"args\":[\"--headless=new\",\"--no-sandbox\",\"--disable-gpu\",\"--disable-dev-shm-usage\",\"--window-size=1600,1000\",\"--user-data-dir={}\"]}}}}}}}}",
                profile.display()
            );
            let reply = call(addr, "POST", "/session", &body);
            let session =
                string(&reply, "sessionId").unwrap_or_else(|| panic!("no session: {reply}"));
            Chrome {
                child,
                addr,
                session,
                _profile: profile,
            }
        }

        fn post(&self, path: &str, body: &str) -> String {
            call(
                self.addr,
                "POST",
                &format!("/session/{}{path}", self.session),
                body,
            )
        }

        pub fn go(&self, url: &str) {
            self.post("/url", &format!("{{\"url\":{}}}", quote(url)));
        }

        pub fn find(&self, css: &str) -> String {
            let reply = self.post(
                "/element",
                &format!("{{\"using\":\"css selector\",\"value\":{}}}", quote(css)),
            );
            string(&reply, ELEMENT).unwrap_or_else(|| panic!("no element {css}: {reply}"))
        }

        pub fn type_in(&self, css: &str, text: &str) {
            let element = self.find(css);
            self.post(
                &format!("/element/{element}/value"),
                &format!("{{\"text\":{}}}", quote(text)),
            );
        }

        pub fn click(&self, css: &str) {
            let element = self.find(css);
            self.post(&format!("/element/{element}/click"), "{}");
        }

        /// Runs `script` (which returns a string) in the current page.
        pub fn run(&self, script: &str) -> String {
            let reply = self.post(
                "/execute/sync",
                &format!("{{\"script\":{},\"args\":[]}}", quote(script)),
            );
            string(&reply, "value").unwrap_or_default()
        }

        /// Opens a new tab and returns its handle.
        pub fn new_tab(&self) -> String {
            let reply = self.post("/window/new", "{\"type\":\"tab\"}");
            string(&reply, "handle").unwrap()
        }

        pub fn current_tab(&self) -> String {
            let reply = call(
                self.addr,
                "GET",
                &format!("/session/{}/window", self.session),
                "",
            );
            string(&reply, "value").unwrap()
        }

        pub fn switch_to(&self, handle: &str) {
            self.post("/window", &format!("{{\"handle\":{}}}", quote(handle)));
        }

        /// Enters an iframe found by CSS, or goes back to the top page with `None`.
        pub fn frame(&self, css: Option<&str>) {
            match css {
                Some(css) => {
                    let element = self.find(css);
                    self.post(
                        "/frame",
                        &format!("{{\"id\":{{\"{ELEMENT}\":\"{element}\"}}}}"),
                    );
                }
                None => {
                    self.post("/frame", "{\"id\":null}");
                }
            }
        }

        pub fn delete_cookies(&self) {
            call(
                self.addr,
                "DELETE",
                &format!("/session/{}/cookie", self.session),
                "",
            );
        }

        /// A PNG of the current tab.
        pub fn screenshot(&self) -> Vec<u8> {
            use base64ct::Encoding;
            let reply = call(
                self.addr,
                "GET",
                &format!("/session/{}/screenshot", self.session),
                "",
            );
            let data = string(&reply, "value").unwrap();
            base64ct::Base64::decode_vec(&data).unwrap()
        }

        /// Polls `script` until it returns a string for which `done` holds.
        pub fn wait(&self, what: &str, script: &str, done: impl Fn(&str) -> bool) -> String {
            wait_for(what, || {
                let value = self.run(script);
                done(&value).then_some(value)
            })
        }
    }

    impl Drop for Chrome {
        fn drop(&mut self) {
            call(
                self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                "",
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn in_a_real_browser_webmail_sends_the_board_shows_it_arrive_and_the_other_account_reads_it() {
    let server = TestServer::start();
    let web = server.addr("web");
    let chrome = webdriver::Chrome::start();
    // Tab one: the board, live once its event stream is open.
    chrome.go(&format!("http://{web}/"));
    let board = chrome.current_tab();
    chrome.wait(
        "the board's stream",
        "return document.body.className",
        |c| c.contains("live"),
    );
    // Tab two: alice writes to bob with an attachment.
    let mail = chrome.new_tab();
    chrome.switch_to(&mail);
    chrome.go(&format!("http://{web}/mail"));
    chrome.type_in("#user", "alice");
    chrome.type_in("#password", "alice-password");
    chrome.click("#login-button");
    chrome.wait(
        "the inbox",
        "return location.pathname + document.body.innerText",
        |t| t.contains("INBOX"),
    );
    chrome.go(&format!("http://{web}/mail/compose"));
    let attachment = temp_dir("attachment").join("agenda.txt");
    std::fs::write(&attachment, "1. mail\n2. lunch\n").unwrap();
    chrome.type_in("#to", "bob@localhost");
    chrome.type_in("#subject", "Seen from the back of the room");
    chrome.type_in("#body", "Hello Bob, from the webmail.");
    chrome.type_in("#attachment", &attachment.display().to_string());
    chrome.click("#send");
    chrome.wait("Sent.", "return document.body.innerText", |t| {
        t.contains("Sent.")
    });
    // The board: a token for bob reached MAILBOX (box 6).
    chrome.switch_to(&board);
    let in_mailbox = chrome.wait(
        "bob's token in MAILBOX",
        "return [...document.querySelectorAll('#box6 .token')].map(t => t.dataset.recipient).join(',')",
        |r| r.contains("bob"),
    );
    assert_eq!(in_mailbox, "bob");
    let png = chrome.screenshot();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("board.png"),
        &png,
    )
    .unwrap();
    // Bob reads it in his inbox.
    chrome.switch_to(&mail);
    chrome.delete_cookies();
    chrome.go(&format!("http://{web}/mail"));
    chrome.type_in("#user", "bob");
    chrome.type_in("#password", "bob-password");
    chrome.click("#login-button");
    chrome.wait("bob's inbox", "return document.body.innerText", |t| {
        t.contains("Seen from the back")
    });
    chrome.click("a.open");
    let text = chrome.wait("the message", "return document.body.innerText", |t| {
        t.contains("Hello Bob")
    });
    assert!(text.contains("agenda.txt"), "{text}");
    // Reading it is step 7 on the board.
    chrome.switch_to(&board);
    chrome.wait(
        "bob's token in ACCESS",
        "return [...document.querySelectorAll('#box7 .token')].map(t => t.dataset.recipient).join(',')",
        |r| r.contains("bob"),
    );
}

#[test]
fn in_a_real_browser_hostile_html_mail_runs_nothing_and_loads_nothing() {
    let server = TestServer::start();
    let web = server.addr("web");
    // Anything the message manages to run or load would connect here.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let t = trap.local_addr().unwrap();
    let html = format!(
        "<p id=\"greeting\">hello</p>\
         <script>document.title='pwned';fetch('http://{t}/script')</script>\
         <img src=\"x\" onerror=\"document.title='pwned';new Image().src='http://{t}/onerror'\">\
         <a id=\"link\" href=\"javascript:document.title='pwned';new Image().src='http://{t}/link'\">click me</a>\
         <div style=\"width:expression(alert(1));background:url(http://{t}/css)\">styled</div>\
         <style>p {{ background: url(http://{t}/style) }}</style>\
         <img src=\"http://{t}/remote-image.png\">"
    );
    let content = format!(
        "Subject: hostile\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    );
    mail(&server, "bob@localhost", &content);
    let chrome = webdriver::Chrome::start();
    chrome.go(&format!("http://{web}/mail"));
    chrome.type_in("#user", "bob");
    chrome.type_in("#password", "bob-password");
    chrome.click("#login-button");
    chrome.wait("bob's inbox", "return document.body.innerText", |t| {
        t.contains("hostile")
    });
    chrome.click("a.open");
    chrome.wait("the message page", "return document.readyState", |s| {
        s == "complete"
    });
    chrome.frame(Some("#html-body"));
    chrome.wait(
        "the cleaned message",
        "return document.body ? document.body.innerText : ''",
        |t| t.contains("click me"),
    );
    chrome.wait("the frame loaded", "return document.readyState", |s| {
        s == "complete"
    });
    // ammonia drops ids; the only link in the message is the `javascript:` one, now without its href.
    chrome.click("a");
    let frame_title = chrome.run("return document.title");
    chrome.frame(None);
    let title = chrome.run("return document.title");
    assert_eq!(title, "postlab webmail");
    assert_ne!(frame_title, "pwned");
    // The page is fully loaded and the link clicked: nothing reached the trap.
    chrome.go(&format!("http://{web}/"));
    chrome.wait("the board", "return document.readyState", |s| {
        s == "complete"
    });
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("the hostile message made the browser connect ({from})"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn web_and_imap_logins_share_one_throttle() {
    let server = TestServer::start();
    let web = server.addr("web");
    // Two wrong passwords over IMAP from this address …
    for n in 0..2 {
        let mut imap = TcpStream::connect(server.addr("imap")).unwrap();
        imap.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        imap.write_all(format!("a{n} LOGIN bob wrong\r\n").as_bytes())
            .unwrap();
        let mut seen = String::new();
        let mut buffer = [0u8; 1024];
        while !seen.contains(&format!("a{n} NO")) {
            let got = imap.read(&mut buffer).unwrap();
            assert!(got > 0, "{seen}");
            seen.push_str(&String::from_utf8_lossy(&buffer[..got]));
        }
    }
    // … and one in the webmail make three: the next attempt, from either door, waits.
    let mut guesser = Browser::new(web);
    let token = csrf(&guesser.get("/mail").body);
    let wrong = guesser.post(
        "/mail/login",
        &[("csrf", &token), ("user", "bob"), ("password", "wrong")],
    );
    assert!(wrong.body.contains("Wrong account name or password"));
    let started = std::time::Instant::now();
    let token = csrf(&wrong.body);
    let right = guesser.post(
        "/mail/login",
        &[
            ("csrf", &token),
            ("user", "bob"),
            ("password", "bob-password"),
        ],
    );
    assert_eq!(right.status, 303);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the throttle's first delay is 1 s"
    );
}

#[test]
fn a_board_that_stopped_reading_never_holds_up_the_mail() {
    let server = TestServer::start();
    // A browser that asks for the events and then stops reading, with a small receive buffer
    // so the stream backs up soon: the server's writes block, the board's queue of 1024 lines
    // fills, and from then on its lines are dropped, never waited for.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr("web").into()).unwrap();
    let mut stalled: TcpStream = socket.into();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut smtp = server.connect();
    smtp.expect("EHLO laptop", 250);
    let content = format!("Subject: load\r\n\r\n{}\r\n", "x".repeat(76));
    for _ in 0..200 {
        let reply = smtp.send_mail("carol@localhost", &["bob@localhost"], &content);
        assert_eq!(reply.code, 250);
    }
    assert_eq!(server.new_mail("bob").len(), 200);
    // The board's queue keeps at most 1024 lines for it (src/web/events.rs: dropped lines are
    // counted, a unit test there checks the counting); the server's write timeout cuts a
    // board that stays stalled.
    assert_eq!(Browser::new(server.addr("web")).get("/").status, 200);
    drop(stalled);
}
