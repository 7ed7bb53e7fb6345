//! The attacks of issue 14, replayed over real sockets against a real server: what one hostile
//! client may cost (memory, threads) before and after login, and that a listener outlives a
//! failure to start a thread.
//!
//! Memory is read from `/proc/PID/status`: `VmHWM`, the most the server ever held, against a
//! wide ceiling. Threads are counted in `/proc/PID/task`. The idle timeouts are set to a few
//! seconds so that a client that never reads is cut quickly.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64ct::{Base64, Encoding};

use crate::imap::Imap;
use crate::support::{status_kb, temp_dir, wait_for, Setup, SmtpClient, TestServer, DEADLINE};

/// The most memory the server may ever hold in these tests (it idles at about 10 MB).
const CEILING_KB: u64 = 300 * 1024;

/// The most memory the server has held since it started.
fn peak_kb(server: &TestServer) -> u64 {
    status_kb(server.child.id(), "VmHWM:")
}

fn threads(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// The server's threads once it has started them all (the count holds still for 300 ms).
fn idle_threads(pid: u32) -> usize {
    wait_for("the server's threads to settle", || {
        let count = threads(pid);
        std::thread::sleep(Duration::from_millis(300));
        (count > 1 && threads(pid) == count).then_some(count)
    })
}

fn server_with(config: &str) -> TestServer {
    TestServer::start_with(Setup {
        config: config.into(),
        ..Setup::default()
    })
}

/// A message of about `size` octets in lines of 76 letters, delivered to bob over SMTP.
fn deliver_large(server: &TestServer, size: usize) {
    let line = format!("{}\r\n", "x".repeat(76));
    let body = line.repeat(size / line.len() + 1);
    let mut smtp = server.connect();
    smtp.expect("EHLO attacker", 250);
    let content = format!("Subject: large\r\n\r\n{body}");
    let reply = smtp.send_mail("alice@localhost", &["bob@localhost"], &content);
    assert_eq!(reply.code, 250, "{reply:?}");
}

/// The server still serves someone else: a POP3 login and STAT get their answers.
fn another_client_is_served(server: &TestServer) {
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    let mut answer = |send: &str, line: &mut String| {
        if !send.is_empty() {
            writer.write_all(send.as_bytes()).unwrap();
        }
        line.clear();
        reader.read_line(line).unwrap();
        assert!(line.starts_with("+OK"), "{send:?} got {line:?}");
    };
    answer("", &mut line);
    answer("USER alice\r\n", &mut line);
    answer("PASS alice-password\r\n", &mut line);
    answer("STAT\r\n", &mut line);
    answer("QUIT\r\n", &mut line);
}

/// Waits for the transcript line that says a client was cut for not reading.
fn wait_for_not_reading_cut(server: &TestServer) {
    // Longer than the usual deadline: the server must first fill both sides' socket buffers
    // (tens of thousands of replies), which takes a while on a busy 2-core machine.
    let started = std::time::Instant::now();
    while !server
        .transcripts()
        .contains("cut off: the client read nothing of our answer")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "the client that reads nothing was never cut"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Finding 1: `FETCH 1 (BODY.PEEK[] ×2000)` on a 1 MB message, never read. It held 2000
/// copies in memory and aborted the process; now the answer goes out as it is made, the
/// session blocks, and it is cut once it has read nothing for `imap_idle_timeout`.
#[test]
fn fetch_2000_bodies_never_read_costs_little_and_is_cut() {
    let server = server_with("imap_idle_timeout = 3\n");
    deliver_large(&server, 1024 * 1024);
    let mut attacker = Imap::login(server.addr("imap"), "bob");
    let r = attacker.cmd("s SELECT INBOX");
    assert!(r.last().unwrap().starts_with("s OK"), "{r:?}");
    let items = vec!["BODY.PEEK[]"; 2000].join(" ");
    attacker.send(format!("f FETCH 1 ({items})\r\n").as_bytes());
    // The attacker reads nothing from here on; others are served meanwhile.
    another_client_is_served(&server);
    wait_for_not_reading_cut(&server);
    another_client_is_served(&server);
    let peak = peak_kb(&server);
    eprintln!(
        "FETCH x2000 of 1 MB, never read: server peak {} MB",
        peak / 1024
    );
    assert!(peak < CEILING_KB, "the server held {peak} kB");
    drop(attacker);
}

/// Finding 1 for POP3: `RETR 1` ×2000 in one write against a 3 MB message, never read.
#[test]
fn retr_2000_times_never_read_costs_little_and_is_cut() {
    let server = server_with("pop3_idle_timeout = 3\n");
    deliver_large(&server, 3 * 1024 * 1024);
    let stream = TcpStream::connect(server.addr("pop3")).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    for send in ["", "USER bob\r\n", "PASS bob-password\r\n"] {
        writer.write_all(send.as_bytes()).unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{line}");
    }
    let pusher = push_in_background(&writer, "RETR 1\r\n".repeat(2000));
    another_client_is_served(&server);
    wait_for_not_reading_cut(&server);
    another_client_is_served(&server);
    let peak = peak_kb(&server);
    eprintln!(
        "RETR x2000 of 3 MB, never read: server peak {} MB",
        peak / 1024
    );
    assert!(peak < CEILING_KB, "the server held {peak} kB");
    drop((reader, writer));
    pusher.join().unwrap();
}

/// Finding 1 for SMTP: 10,000 pipelined commands whose replies are never read. The replies
/// wait in a bounded buffer, the session blocks, and the cut names its reason.
#[test]
fn smtp_pipelining_never_read_is_cut_for_not_reading() {
    let server = server_with("idle_timeout = 3\n");
    let client = TcpStream::connect(server.smtp).unwrap();
    // About 12 MB of replies, more than the kernel's buffers on both sides hold.
    let pusher = push_in_background(&client, "EHLO never-reads\r\n".repeat(80_000));
    wait_for_not_reading_cut(&server);
    another_client_is_served(&server);
    let mut other = server.connect();
    other.expect("EHLO other", 250);
    drop(client);
    pusher.join().unwrap();
    let peak = peak_kb(&server);
    eprintln!(
        "SMTP 80,000 pipelined EHLO never read: server peak {} MB",
        peak / 1024
    );
    assert!(peak < CEILING_KB, "the server held {peak} kB");
}

/// Writes `text` on a thread of its own (it blocks once the server stops reading), ignoring
/// the error when the server closes the connection.
fn push_in_background(stream: &TcpStream, text: String) -> std::thread::JoinHandle<()> {
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = writer.write_all(text.as_bytes());
    })
}

/// Finding 6: 50 strangers each announce a 25 MiB LITERAL+ in LOGIN and send it. Before login
/// only 8 KiB literals are taken: each is told BYE and closed, and the server holds little.
/// A synchronizing one gets `NO [LIMIT]` before a single octet is sent.
#[test]
fn huge_literals_before_login_are_refused() {
    let server = TestServer::start();
    let imap = server.addr("imap");
    let size = 25 * 1024 * 1024;
    let answers: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..50)
            .map(|_| {
                scope.spawn(move || {
                    let stream = TcpStream::connect(imap).unwrap();
                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                    let mut writer = stream.try_clone().unwrap();
                    let pusher = std::thread::spawn(move || {
                        let announce = format!("a LOGIN {{{size}+}}\r\n");
                        if writer.write_all(announce.as_bytes()).is_err() {
                            return;
                        }
                        let chunk = vec![b'x'; 1024 * 1024];
                        for _ in 0..25 {
                            if writer.write_all(&chunk).is_err() {
                                return;
                            }
                        }
                    });
                    let text = read_until_closed(stream);
                    let _ = pusher.join();
                    text
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let log = server.transcripts();
    let byes = log.matches("S: * BYE Literal too large; closing").count();
    assert_eq!(byes, 50, "{answers:?}");
    for text in &answers {
        // The BYE is on its way before the close; a reset may overtake it on the wire.
        assert!(
            text.is_empty() || text.contains("* BYE Literal too large"),
            "{text:?}"
        );
    }
    let mut c = Imap::connect(imap);
    c.send(format!("s LOGIN {{{size}}}\r\n").as_bytes());
    assert_eq!(
        c.line(),
        "s NO [LIMIT] Literal too large (limit 8192 octets)"
    );
    let r = c.cmd("l LOGIN bob bob-password");
    assert!(r.last().unwrap().starts_with("l OK"), "{r:?}");
    let peak = peak_kb(&server);
    eprintln!(
        "50 x 25 MiB LITERAL+ before login: server peak {} MB",
        peak / 1024
    );
    assert!(peak < CEILING_KB, "the server held {peak} kB");
}

/// The password of a demo account, from the banner of a first start.
fn demo_password(server: &TestServer, name: &str) -> String {
    server
        .banner
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(name)).then(|| words.next().map(str::to_string))?
        })
        .unwrap_or_else(|| panic!("no password for {name} in {}", server.banner))
}

/// Finding 6: 50 AUTH PLAIN at once, each an Argon2 run of 19 MiB. The runs queue at one gate
/// (the number of CPUs, at least 2), so the memory has a ceiling.
#[test]
fn fifty_parallel_password_checks_share_a_small_gate() {
    let server = TestServer::start_with(Setup {
        users: None,
        ..Setup::default()
    });
    let password = demo_password(&server, "alice");
    let plain = Base64::encode_string(format!("\0alice\0{password}").as_bytes());
    let smtp = server.smtp;
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..50)
            .map(|_| {
                let plain = plain.clone();
                scope.spawn(move || {
                    let mut c = SmtpClient::connect(smtp);
                    c.expect("EHLO many", 250);
                    c.cmd(&format!("AUTH PLAIN {plain}")).code
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert!(codes.iter().all(|&c| c == 235), "{codes:?}");
    let peak = peak_kb(&server);
    eprintln!("50 parallel AUTH PLAIN: server peak {} MB", peak / 1024);
    assert!(peak < CEILING_KB, "the server held {peak} kB");
}

/// A server that accepts connections and never says a word: every delivery to it waits.
struct Tarpit {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Tarpit {
    fn start() -> Tarpit {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                held.lock().unwrap().push(stream);
            }
        });
        Tarpit { addr, stop }
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Finding 7: 1,000 queued messages to 1,000 domains whose server never answers. The queue
/// manager runs at most `max_deliveries` of them at once, not a thread each.
#[test]
fn a_thousand_queued_messages_take_at_most_max_deliveries_threads() {
    let tarpit = Tarpit::start();
    let server = server_with("max_deliveries = 20\nrelay_tls = none\n");
    let transport: String = (0..1000)
        .map(|n| format!("d{n}.test [{}]:{}\n", tarpit.addr.ip(), tarpit.addr.port()))
        .collect();
    fs::write(server.dir.join("transport"), transport).unwrap();
    let before = idle_threads(server.child.id());
    let most = Arc::new(Mutex::new(before));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (most, watching) = (most.clone(), watching.clone());
        let task = format!("/proc/{}/task", server.child.id());
        std::thread::spawn(move || {
            while watching.load(Ordering::SeqCst) {
                let now = fs::read_dir(&task).map(|d| d.count()).unwrap_or(0);
                let mut most = most.lock().unwrap();
                *most = (*most).max(now);
                drop(most);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let smtp = server.smtp;
    std::thread::scope(|scope| {
        for part in 0..4 {
            scope.spawn(move || {
                let mut c = SmtpClient::connect(smtp);
                c.expect("EHLO queue-filler", 250);
                for n in (part * 250)..(part + 1) * 250 {
                    let to = format!("someone@d{n}.test");
                    let reply = c.send_mail("alice@localhost", &[&to], "Subject: q\r\n\r\nq\r\n");
                    assert_eq!(reply.code, 250, "{reply:?}");
                }
            });
        }
    });
    let queued = fs::read_dir(server.dir.join("queue/active"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(queued >= 1000, "only {queued} files in the queue");
    // Give the queue manager a few passes to start what it will.
    wait_for("the queue manager to fill its places", || {
        (threads(server.child.id()) >= before + 20).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    watching.store(false, Ordering::SeqCst);
    watcher.join().unwrap();
    let most = *most.lock().unwrap();
    eprintln!("1,000 queued messages: {before} threads idle, at most {most}");
    assert!(most <= before + 20 + 8, "{most} threads (idle: {before})");
    drop(tarpit);
}

/// Finding 7: when no thread can be made, the refusal used `std::thread::spawn`, whose panic
/// ended SMTP's accept loop for good. The server runs here as an unprivileged user with
/// RLIMIT_NPROC set (by `prlimit`) just above its own threads, so the kernel refuses new ones;
/// the SMTP listener must go on answering once threads are free again.
#[test]
fn a_listener_outlives_a_failure_to_start_a_thread() {
    const UID: &str = "54321";
    let config = "max_connections = 2\nmax_connections_per_ip = 0\n";
    // How many threads this server runs when idle, counted on one without a limit.
    let idle = {
        let unlimited = server_with(config);
        idle_threads(unlimited.child.id())
    };
    let dir = temp_dir("nproc");
    let mut conf = postlab::config::default_file_text();
    conf.push_str(config);
    fs::write(dir.join("postlab.conf"), conf).unwrap();
    fs::write(dir.join("users"), "alice:{PLAIN}alice-password\n").unwrap();
    let owned = std::process::Command::new("chown")
        .args(["-R", &format!("{UID}:{UID}")])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(owned.success());
    // Room for the server's own threads and exactly one session thread. (Root is exempt from
    // RLIMIT_NPROC, hence the user of its own.)
    let setup = Setup {
        wrapper: vec![
            "prlimit".into(),
            format!("--nproc={}", idle + 1),
            "--".into(),
            "setpriv".into(),
            format!("--reuid={UID}"),
            format!("--regid={UID}"),
            "--clear-groups".into(),
        ],
        ..Setup::default()
    };
    let server = TestServer::start_in(dir, &setup);
    let pid: u32 = fs::read_to_string(server.dir.join("run/postlab.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(idle_threads(pid), idle);
    let mut first = SmtpClient::connect(server.smtp);
    assert_eq!(first.greeting.code, 220);
    // No thread for the second: it is turned away with a 421, not left without a word.
    let second = SmtpClient::connect(server.smtp);
    assert_eq!(second.greeting.code, 421, "{:?}", second.greeting);
    // The third is over max_connections: the refusal path, which used to spawn and panic.
    let third = SmtpClient::connect(server.smtp);
    assert_eq!(third.greeting.code, 421, "{:?}", third.greeting);
    drop((second, third));
    first.expect("QUIT", 221);
    drop(first);
    wait_for("the session thread to end", || {
        (threads(pid) <= idle).then_some(())
    });
    // SMTP still answers.
    let mut again = SmtpClient::connect(server.smtp);
    assert_eq!(again.greeting.code, 220, "{:?}", again.greeting);
    again.expect("EHLO back", 250);
}

/// Everything the server sends until it closes the connection (a reset counts as closed).
fn read_until_closed(mut stream: TcpStream) -> String {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no close within the deadline: {e}; got {text:?}"),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// Finding 6's class, for SMTP: DATA was held in memory whole as it arrived, so strangers with
/// no login, each sending a large message and never its final dot, could make the server hold
/// `max_connections × max_message_size` (20 such 20 MB messages held 430 MB). Now every
/// message arriving at once shares `max_data_memory`; past it a message is read but not kept,
/// and answered 452 4.3.1 at its end.
#[test]
fn messages_arriving_at_once_share_max_data_memory() {
    // 8 MiB for all of them; twelve clients each send 10 MB.
    let server = server_with("max_data_memory = 8388608\n");
    let chunk: Arc<Vec<u8>> =
        Arc::new(format!("{}\r\n", "y".repeat(998)).repeat(1000).into_bytes());
    let mut clients = Vec::new();
    let mut pushers = Vec::new();
    for _ in 0..12 {
        let mut smtp = server.connect();
        smtp.expect("EHLO stranger", 250);
        smtp.expect("MAIL FROM:<stranger@elsewhere.test>", 250);
        smtp.expect("RCPT TO:<bob@localhost>", 250);
        smtp.expect("DATA", 354);
        let mut writer = smtp.stream.try_clone().unwrap();
        let chunk = chunk.clone();
        let pusher = std::thread::spawn(move || {
            for _ in 0..10 {
                writer.write_all(&chunk).unwrap();
            }
        });
        clients.push(smtp);
        pushers.push(pusher);
    }
    // Every octet of the 120 MB is written (all but what the socket buffers hold was read).
    for pusher in pushers {
        pusher.join().unwrap();
    }
    let mut refused = 0;
    for mut smtp in clients {
        smtp.send_raw(b".\r\n");
        let reply = smtp.read_reply();
        match reply.code {
            250 => {}
            452 => {
                assert!(reply
                    .text()
                    .contains("4.3.1 Too many messages arriving at once"));
                refused += 1;
            }
            _ => panic!("{reply:?}"),
        }
    }
    let peak = peak_kb(&server);
    eprintln!(
        "12 × 10 MB of DATA at once against max_data_memory 8 MiB: server peak {} MB",
        peak / 1024
    );
    assert!(
        refused >= 11,
        "at most one 10 MB message fits in 8 MiB: {refused} refused"
    );
    assert!(peak < 100 * 1024, "the server held {peak} kB");
    // The budget came back: the next message is taken.
    let mut smtp = server.connect();
    smtp.expect("EHLO later", 250);
    let reply = smtp.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        "Subject: later\r\n\r\nhi\r\n",
    );
    assert_eq!(reply.code, 250, "{reply:?}");
}
