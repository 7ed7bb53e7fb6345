//! The busy clocks (`src/pace.rs`): a quiet server lets a student think between lines; a busy
//! one (three quarters of `max_connections` taken) cuts slow and silent clients within
//! `busy_timeout`, holds DATA to `min_data_rate`, bounds a TLS handshake from start to finish,
//! and goes on serving a new client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Setup, SmtpClient, TestServer};

/// A connection from another loopback address (Linux answers on all of 127.0.0.0/8).
fn connect_from(ip: &str, to: std::net::SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let from: std::net::SocketAddr = format!("{ip}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

/// A newcomer from 127.0.0.1 on a full server: once the others have gone
/// `postlab::pace::STALLED` without a line, it is greeted with 220 and served.
fn newcomer_gets_in(server: &TestServer) -> SmtpClient {
    let smtp = server.smtp;
    let mut newcomer = crate::support::wait_for("a place made for a newcomer", || {
        let client = SmtpClient::connect(smtp);
        (client.greeting.code == 220).then_some(client)
    });
    newcomer.expect("HELO newcomer", 250);
    newcomer
}

/// The first whole line any of `readers` hears (each has a short read timeout). What each has
/// heard is kept across polls: a line may arrive in pieces.
fn first_line_heard(readers: &mut [&mut BufReader<TcpStream>], what: &str) -> String {
    let mut heard = vec![String::new(); readers.len()];
    crate::support::wait_for(what, || {
        readers
            .iter_mut()
            .zip(heard.iter_mut())
            .find_map(|(reader, line)| {
                let _ = reader.read_line(line);
                line.ends_with('\n').then(|| line.clone())
            })
    })
}

fn server_with(config: &str) -> TestServer {
    TestServer::start_with(Setup {
        config: config.into(),
        ..Setup::default()
    })
}

/// A client that keeps its place honestly: a NOOP every 200 ms, each answered.
struct Keeper {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keeper {
    fn start(server: &TestServer) -> Keeper {
        let mut client = server.connect();
        assert_eq!(client.greeting.code, 220);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                client.expect("NOOP", 250);
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Keeper {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A keeper that was cut off panics: that fails the test that started it.
            let kept = thread.join().is_ok();
            if !std::thread::panicking() {
                assert!(kept, "a client keeping its place honestly was cut off");
            }
        }
    }
}

/// Sends a message's content one short line at a time, `pause` apart, and returns the reply
/// that follows (or the one that cut it off), with how long it took.
fn slow_data(client: &mut SmtpClient, lines: usize, pause: Duration) -> (u16, String, Duration) {
    client.expect("MAIL FROM:<alice@localhost>", 250);
    client.expect("RCPT TO:<bob@localhost>", 250);
    client.expect("DATA", 354);
    let started = Instant::now();
    client.send_raw(b"Subject: typed by hand\r\n\r\n");
    for i in 0..lines {
        std::thread::sleep(pause);
        if client
            .stream
            .write_all(format!("line {i}\r\n").as_bytes())
            .is_err()
        {
            break;
        }
    }
    let _ = client.stream.write_all(b".\r\n");
    let reply = client.read_reply();
    (reply.code, reply.text(), started.elapsed())
}

#[test]
fn a_quiet_server_lets_a_student_type_data_slowly() {
    // 4 of 20 places taken: not busy, so the slow typist keeps the generous clocks.
    let server = server_with("max_connections = 20\nbusy_timeout = 1\nmin_data_rate = 500\n");
    let _keepers: Vec<Keeper> = (0..3).map(|_| Keeper::start(&server)).collect();
    let mut student = server.connect();
    student.expect("HELO student", 250);
    let (code, text, took) = slow_data(&mut student, 4, Duration::from_millis(700));
    assert_eq!(code, 250, "{text} after {took:?}");
    assert!(took > Duration::from_secs(2));
    assert_eq!(server.new_mail("bob").len(), 1);
}

#[test]
fn a_busy_server_holds_data_to_the_minimum_rate() {
    // 3 of 4 places taken: busy. Ten octets every 0.4 s is far under 500 octets a second.
    let server = server_with("max_connections = 4\nbusy_timeout = 1\nmin_data_rate = 500\n");
    let _keepers: Vec<Keeper> = (0..2).map(|_| Keeper::start(&server)).collect();
    let mut slow = server.connect();
    slow.expect("HELO slow", 250);
    let (code, text, took) = slow_data(&mut slow, 20, Duration::from_millis(400));
    assert_eq!(code, 421, "{text}");
    // Word for word as lesson 10 shows it.
    assert_eq!(text, "4.4.2 Too slow, closing connection");
    assert!(took < Duration::from_secs(6), "cut off only after {took:?}");
    assert!(server.new_mail("bob").is_empty());
    assert!(
        server
            .transcripts()
            .contains("too slow while the server is busy"),
        "the transcript says why"
    );
    // A client that sends its message at once is not troubled by the floor.
    let mut fast = server.connect();
    fast.expect("HELO fast", 250);
    let body = format!("Subject: fast\r\n\r\n{}\r\n", "x".repeat(998)).repeat(20);
    assert_eq!(
        fast.send_mail("alice@localhost", &["bob@localhost"], &body)
            .code,
        250
    );
}

#[test]
fn a_busy_server_cuts_silent_clients_and_serves_a_new_one() {
    // idle_timeout is five minutes; six silent clients make the server busy (6 of 8), so the
    // busy clock (1 s) applies to them until enough have been cut for the server to be quiet.
    let server = server_with("max_connections = 8\nbusy_timeout = 1\nidle_timeout = 300\n");
    let started = Instant::now();
    let mut silent: Vec<SmtpClient> = (0..6).map(|_| server.connect()).collect();
    for client in &mut silent {
        client
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
    }
    let mut readers: Vec<_> = silent.iter_mut().map(|c| &mut c.reader).collect();
    let cut = first_line_heard(&mut readers, "a silent client cut off");
    // Word for word as lesson 10 shows it.
    assert_eq!(cut, "421 4.4.2 Idle too long, closing connection\r\n");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{cut:?} after {:?}, not within the busy timeout",
        started.elapsed()
    );
    let mut newcomer = server.connect();
    assert_eq!(newcomer.greeting.code, 220);
    newcomer.expect("HELO newcomer", 250);
    let content = "Subject: still served\r\n\r\nhello\r\n";
    assert_eq!(
        newcomer
            .send_mail("alice@localhost", &["bob@localhost"], content)
            .code,
        250
    );
}

#[test]
fn a_trickled_tls_handshake_is_bounded_from_start_to_finish() {
    // Busy (1 of 2 places, plus a keeper): the handshake may take at most busy_timeout, however
    // steadily its octets trickle in. Each octet comes well inside every silence clock.
    let server = server_with("max_connections = 2\nbusy_timeout = 1\n");
    let _keeper = Keeper::start(&server);
    let mut stream = TcpStream::connect(server.addr("smtps")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // The start of a TLS record carrying a ClientHello that claims 512 octets.
    let hello = [
        0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let started = Instant::now();
    let mut closed = false;
    for byte in hello.iter().chain([0u8; 500].iter()) {
        if stream.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match stream.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        closed,
        "the handshake was still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_full_server_makes_room_for_a_new_client() {
    // Four IMAP sessions in IDLE from 127.0.0.2 take every place. IDLE is never cut by the
    // busy clocks (the client is waiting for news, RFC 2177), so without room being made a
    // newcomer would get 421 4.7.0 for as long as they idle. 127.0.0.2 holds four places, the
    // newcomer's 127.0.0.1 one: the stalest idler goes instead.
    let server = server_with("max_connections = 4\nbusy_timeout = 1\n");
    let imap = server.addr("imap");
    let mut idlers: Vec<crate::imap::Imap> = (0..4)
        .map(|_| {
            let mut c = crate::imap::Imap::over(connect_from("127.0.0.2", imap));
            let login = c.cmd("l LOGIN bob bob-password");
            assert!(login.last().unwrap().starts_with("l OK"), "{login:?}");
            c.cmd("s SELECT INBOX");
            c.send(b"i IDLE\r\n");
            assert!(c.line().starts_with("+ "));
            c
        })
        .collect();
    newcomer_gets_in(&server);
    // Exactly one idler made room: its connection ends.
    // What each idler has heard so far (a BYE may come in one read and the close in the next).
    let mut heard = vec![String::new(); idlers.len()];
    let gone = crate::support::wait_for("an IDLE session to make room", || {
        let mut closed = Vec::new();
        for (idler, heard) in idlers.iter_mut().zip(heard.iter_mut()) {
            let (text, is_closed) = idler.waiting_now();
            heard.push_str(&text);
            if is_closed {
                closed.push(heard.clone());
            }
        }
        (!closed.is_empty()).then_some(closed)
    });
    assert_eq!(
        gone,
        ["* BYE [UNAVAILABLE] Server full: this connection made room for a new client\r\n"]
    );
    assert!(server.transcripts().contains("made room for a new client"));
}

#[test]
fn an_smtp_client_that_makes_room_is_told_so() {
    // busy_timeout is long here, so only making room can free a place: four silent SMTP
    // clients from 127.0.0.2 fill the server, and a newcomer from 127.0.0.1 takes one's place.
    let server = server_with("max_connections = 4\nbusy_timeout = 60\n");
    let mut silent: Vec<BufReader<TcpStream>> = (0..4)
        .map(|_| {
            let mut reader = BufReader::new(connect_from("127.0.0.2", server.smtp));
            let mut greeting = String::new();
            reader.read_line(&mut greeting).unwrap();
            assert!(greeting.starts_with("220"), "{greeting:?}");
            reader
                .get_ref()
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            reader
        })
        .collect();
    newcomer_gets_in(&server);
    let mut readers: Vec<_> = silent.iter_mut().collect();
    let told = first_line_heard(&mut readers, "the client that made room to be told");
    // Word for word as lesson 10 shows it.
    assert_eq!(
        told,
        "421 4.7.0 Server full: this connection made room for a new client, closing\r\n"
    );
}

#[test]
fn a_busy_server_holds_an_imap_literal_to_the_minimum_rate() {
    // 3 of 4 places taken: busy. An APPEND whose literal trickles in at 30 octets a second is
    // far under min_data_rate; the session ends with a BYE that says why.
    let server = server_with("max_connections = 4\nbusy_timeout = 1\nmin_data_rate = 500\n");
    let _keepers: Vec<Keeper> = (0..2).map(|_| Keeper::start(&server)).collect();
    let mut c = crate::imap::Imap::login(server.addr("imap"), "bob");
    c.send(b"a APPEND INBOX {2000}\r\n");
    assert!(c.line().starts_with("+ "));
    let started = Instant::now();
    let mut heard = String::new();
    let closed = crate::support::wait_for("the slow literal to be cut off", || {
        let _ = c.try_send(b"xxxxxxxxx\n");
        std::thread::sleep(Duration::from_millis(300));
        let (text, closed) = c.waiting_now();
        heard.push_str(&text);
        closed.then(|| heard.clone())
    });
    assert_eq!(closed, "* BYE Too slow, closing connection\r\n");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
