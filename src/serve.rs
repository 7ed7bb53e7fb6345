//! `postlab serve`: start-up, listeners, and one thread per client (DESIGN.md: synchronous,
//! blocking `std::net`, a thread per connection).
//!
//! Start-up order: prepare the data directory, read the settings (defaults → file → flags),
//! bind every listener (so a port already in use fails at once, with a clear message), write
//! the real addresses to `DIR/run/listeners`, print the banner, then accept.
//!
//! Each accepted connection is counted; past `max_connections` the newcomer is told
//! `421 4.7.0` and closed, so a flood cannot exhaust threads or memory. That refusal is written
//! on the accepting thread itself, without waiting; a client whose thread cannot be made (the
//! system's thread or memory limit) is turned away the same way and logged. Each admission and
//! each session runs under `catch_unwind`: a bug that panics ends one session, never a
//! listener.

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::context::Shared;
use crate::datadir::{Created, DataDir};
use crate::dns::{DnsResolver, Resolve};
use crate::faults::FaultFile;
use crate::imap;
use crate::mailbox::durable;
use crate::mta::queue::Queue;
use crate::pop3;
use crate::smtp;
use crate::smtp::session::Mode;
use crate::tls::ServerTls;

/// A protocol postlab serves, with its standard port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Smtp,
    Submission,
    Pop3,
    Imap,
    /// Submission over implicit TLS (RFC 8314 §3.3).
    Smtps,
    /// POP3 over implicit TLS (RFC 8314 §3.3).
    Pop3s,
    /// IMAP over implicit TLS (RFC 8314 §3.3).
    Imaps,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Smtp,
        Service::Submission,
        Service::Pop3,
        Service::Imap,
        Service::Smtps,
        Service::Pop3s,
        Service::Imaps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Pop3 => "pop3",
            Service::Smtps => "smtps",
            Service::Pop3s => "pop3s",
            Service::Imaps => "imaps",
            Service::Imap => "imap",
        }
    }

    /// The IANA port; postlab adds `port_offset`.
    pub fn standard_port(self) -> u16 {
        match self {
            Service::Smtp => 25,
            // RFC 6409 §3.1.
            Service::Submission => 587,
            Service::Pop3 => 110,
            // RFC 8314 §7.3.
            Service::Smtps => 465,
            Service::Pop3s => 995,
            Service::Imaps => 993,
            Service::Imap => 143,
        }
    }

    /// How a student tries it.
    pub fn try_it(self, addr: SocketAddr) -> String {
        match self {
            Service::Smtp | Service::Submission | Service::Pop3 | Service::Imap => {
                format!("telnet {} {}", addr.ip(), addr.port())
            }
            Service::Smtps | Service::Pop3s | Service::Imaps => {
                format!("openssl s_client -crlf -connect {addr}")
            }
        }
    }

    fn serve(self, stream: TcpStream, shared: Arc<Shared>) {
        match self {
            Service::Smtp => smtp::server::serve_client(stream, shared, Mode::Relay),
            Service::Submission => smtp::server::serve_client(stream, shared, Mode::Submission),
            Service::Pop3 => pop3::server::serve_client(stream, shared),
            Service::Smtps => smtp::server::serve_implicit_tls(stream, shared),
            Service::Imap => imap::server::serve_client(stream, shared),
            Service::Pop3s => pop3::server::serve_implicit_tls(stream, shared),
            Service::Imaps => imap::server::serve_implicit_tls(stream, shared),
        }
    }
}

/// Settings for one run of `postlab serve` beyond postlab.conf.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Bind every listener to port 0 and let the system choose (tests run many servers at once).
    pub ephemeral_ports: bool,
}

/// A server with its listeners bound, ready to accept.
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<(Service, TcpListener)>,
    /// The journey board and webmail (`src/web/`); `None` with `web = no`.
    web: Option<crate::web::Listener>,
}

impl Server {
    /// Binds every listener. Fails with a message an administrator can act on.
    pub fn bind(config: Config, data: DataDir, options: &Options) -> Result<Server, String> {
        let mut listeners = Vec::new();
        for service in Service::ALL {
            let port = if options.ephemeral_ports {
                0
            } else {
                service
                    .standard_port()
                    .checked_add(config.port_offset)
                    .ok_or_else(|| {
                        format!(
                            "port_offset {} puts {} past port 65535",
                            config.port_offset,
                            service.name()
                        )
                    })?
            };
            let addr = SocketAddr::new(config.listen, port);
            let listener = listen(addr)
                .map_err(|e| format!("cannot listen for {} on {addr}: {e}", service.name()))?;
            listeners.push((service, listener));
        }
        let web = crate::web::bind(&config, options.ephemeral_ports)?;
        let accounts = Accounts::open(data.users(), data.aliases())
            .map_err(|e| format!("cannot read the accounts: {e}"))?;
        let resolver: Arc<dyn Resolve> = Arc::new(
            DnsResolver::from_config(&config)
                .map_err(|e| format!("cannot set up DNS lookups: {e}"))?,
        );
        let tls = ServerTls::load(&config, &data)?;
        let queue = Queue::open(&data.root().join("queue"))
            .map_err(|e| format!("cannot open the queue: {e}"))?;
        match queue.recover() {
            Ok(0) => {}
            Ok(n) => log::warn!(
                "queue: removed {n} unfinished files left by a crash (never acknowledged)"
            ),
            Err(e) => return Err(format!("cannot check the queue: {e}")),
        }
        match crate::mailbox::maildir::clean_tmp(&data.mail()) {
            Ok(0) => {}
            Ok(n) => log::warn!("mailboxes: removed {n} unfinished deliveries left in tmp/ by a crash (never acknowledged)"),
            Err(e) => log::error!("mailboxes: cannot clean tmp/: {e}"),
        }
        if config.dkim_sign {
            // Issue 20: a key per local domain on first start (`postlab dkim show` prints it).
            for line in crate::mailauth::ensure_keys(&data.dkim(), &config.domains) {
                log::warn!("dkim: {line}");
            }
        }
        let faults = FaultFile::new(&data.root().join("faults"));
        let addresses = listeners
            .iter()
            .filter_map(|(s, l)| Some((s.name(), l.local_addr().ok()?)))
            .collect();
        let shared = Arc::new(Shared::new(
            config,
            data,
            accounts,
            queue,
            Some(Arc::new(tls)),
            resolver,
            faults,
            addresses,
        ));
        Ok(Server {
            shared,
            listeners,
            web,
        })
    }

    /// The addresses actually bound (after port 0 is resolved).
    pub fn addresses(&self) -> Vec<(Service, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(s, l)| l.local_addr().ok().map(|a| (*s, a)))
            .collect()
    }

    /// The web listener's address (the journey board and webmail), if it is on.
    pub fn web_address(&self) -> Option<SocketAddr> {
        self.web.as_ref().and_then(|w| w.socket.local_addr().ok())
    }

    /// Writes `DIR/run/postlab.pid` and `DIR/run/listeners` (one `service address` line each),
    /// so tests and tools can find the running server.
    pub fn write_run_files(&self) -> std::io::Result<()> {
        let data = &self.shared.data;
        durable::write_atomically(
            &data.pid_file(),
            format!("{}\n", std::process::id()).as_bytes(),
        )?;
        let mut text: String = self
            .addresses()
            .iter()
            .map(|(s, a)| format!("{} {a}\n", s.name()))
            .collect();
        if let Some(addr) = self.web_address() {
            text.push_str(&format!("web {addr}\n"));
        }
        durable::write_atomically(&data.listeners(), text.as_bytes())
    }

    /// The start banner: what runs where, and how to try it.
    pub fn banner(&self, created: &Created) -> String {
        let config = &self.shared.config;
        let mut text = format!(
            "postlab serve: {} for {}\n  data: {}\n",
            config.hostname,
            config.domains.join(", "),
            self.shared.data.root().display()
        );
        for (service, addr) in self.addresses() {
            text.push_str(&format!(
                "  {:<10} {addr:<21} try: {}\n",
                service.name(),
                service.try_it(addr)
            ));
        }
        if let Some(addr) = self.web_address() {
            let scheme = if self.web.as_ref().is_some_and(|w| w.https) {
                "https"
            } else {
                "http"
            };
            text.push_str(&format!(
                "  {:<10} {addr:<21} open: {scheme}://{addr}/\n",
                "web"
            ));
        }
        if let Some(tls) = &self.shared.tls {
            let made = match (&tls.remade, tls.generated) {
                (Some(why), _) => format!(" (self-signed, made again: {why})"),
                (None, true) => " (self-signed, made now)".to_string(),
                (None, false) => String::new(),
            };
            // The two forms clients pin: the certificate's digest (`openssl x509 -fingerprint
            // -sha256`), and its public key's (`curl --pinnedpubkey sha256//…`), which stays
            // when the certificate is renewed with the same key. Or trust `cert.pem` itself.
            text.push_str(&format!(
                "  TLS certificate{made}: {} (trust this file, or pin one of these)\n  \
                 certificate SHA-256 {}\n  public key  sha256//{}\n",
                tls.cert_path.display(),
                tls.fingerprint,
                tls.key_pin
            ));
        }
        if created.config {
            text.push_str(&format!(
                "  wrote default settings to {}\n",
                self.shared.data.config().display()
            ));
        }
        if !created.demo_accounts.is_empty() {
            text.push_str("  demo accounts (passwords shown this once, stored hashed):\n");
            for (name, password) in &created.demo_accounts {
                text.push_str(&format!("    {name:<6} {password}\n"));
            }
        }
        text.push_str(&format!(
            "  watch it: ./postlab watch --all --data {}   (every transcript line, coloured by step)\n",
            self.shared.data.root().display()
        ));
        text.push_str(
            "  the course: lessons/README.md; each lesson starts with ./postlab lesson start N\n",
        );
        text.push_str(
            "  stop: Ctrl-C (or SIGTERM): every session is told goodbye, mail in flight finishes\n",
        );
        text.push_str("  transcripts: every line is labelled with its flowchart step, [1 MUA] to [7 ACCESS]\n");
        text
    }

    /// Accepts connections on every listener until SIGTERM or SIGINT has stopped every session.
    pub fn run(self, signals: crate::daemon::Signals) {
        let shared = self.shared.clone();
        start_thread("queue", move || crate::mta::scheduler::run(shared));
        let shared = self.shared.clone();
        start_thread("status", move || crate::daemon::write_status(shared));
        if let Some(web) = self.web {
            let shared = self.shared.clone();
            start_thread("web-accept", move || crate::web::run(web, shared));
        }
        for (service, listener) in self.listeners {
            let shared = self.shared.clone();
            start_thread(&format!("{}-accept", service.name()), move || {
                accept_loop(service, listener, shared)
            });
        }
        // The accept and queue threads are not joined: once every session has said goodbye the
        // process exits, which closes the listeners; the queue is safe on disk at every moment.
        crate::daemon::handle_signals(signals, &self.shared);
    }
}

/// Starts one of the server's own threads at start-up. Without it the server would run
/// half-way (a listener that never answers), so a failure stops the process with a message.
fn start_thread(name: &str, work: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(work) {
        log::error!("cannot start the {name} thread: {e}");
        eprintln!("postlab serve: cannot start the {name} thread: {e}");
        std::process::exit(1);
    }
}

/// How many connections may wait in the kernel's accept queue. std's `TcpListener::bind`
/// asks for 128; a burst of new clients beyond that had their handshakes dropped and retried
/// for up to a minute. Linux caps this at `net.core.somaxconn` (4096 here).
const ACCEPT_QUEUE: i32 = 1024;

/// A listening socket as `TcpListener::bind` makes one (address reuse, so a restart need not
/// wait for old connections), with a longer accept queue.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(ACCEPT_QUEUE)?;
    Ok(socket.into())
}

/// Accepts clients on one listener for as long as the server runs. Nothing a client does, and
/// no failure to serve one, ends this loop: a client that cannot be given a thread is told
/// to come back later and closed, a panic while admitting one is logged, and the next is
/// accepted.
fn accept_loop(service: Service, listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // EMFILE and the like: wait a moment rather than spin.
                log::warn!("{}: accept failed: {e}", service.name());
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let admitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            admit(service, stream, &shared, spawn_session)
        }));
        if admitted.is_err() {
            log::error!(
                "{}: a panic while admitting a client (a bug); still accepting",
                service.name()
            );
        }
    }
}

/// Starts a named thread, as `std::thread::Builder::spawn` does: an error (no memory for its
/// stack, a process or thread limit reached) is returned, never a panic.
type Spawn = fn(String, Box<dyn FnOnce() + Send>) -> std::io::Result<()>;

fn spawn_session(name: String, work: Box<dyn FnOnce() + Send>) -> std::io::Result<()> {
    std::thread::Builder::new().name(name).spawn(work).map(drop)
}

/// Counts a new client, then serves it on a thread of its own, or turns it away (too many
/// connections, or no thread to be had).
fn admit(service: Service, stream: TcpStream, shared: &Arc<Shared>, spawn: Spawn) {
    let ip = stream
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let active = shared.load.arrive();
    let from_ip = {
        let mut per_ip = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_ip.entry(ip).or_insert(0);
        *count += 1;
        *count
    };
    let guard = ActiveGuard(shared.clone(), ip);
    let limit = shared.config.max_connections_per_ip;
    // Trusted networks (loopback by default) are exempt: the lab and the tests run there.
    let too_many_from_ip = limit > 0 && from_ip > limit && !shared.config.is_trusted_network(ip);
    // Full: an address holding over twice the newcomer's places gives up its stalest
    // connection (a slowloris, a stalled handshake) to the newcomer, which is one over the
    // limit for the second it takes that connection to go.
    let refused =
        too_many_from_ip || (active > shared.config.max_connections && !make_room(shared, ip));
    if refused {
        log::warn!("too many connections: turned away {ip}");
        refuse(service, &stream);
        return;
    }
    // Kept to answer on if no thread can be made (the stream itself goes into the thread).
    let spare = stream.try_clone().ok();
    let session_shared = shared.clone();
    let work = Box::new(move || {
        let _guard = guard;
        // A panic in a session (a bug) ends that session only, and is logged.
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            service.serve(stream, session_shared)
        }));
        if served.is_err() {
            log::error!(
                "{}: a session panicked (a bug); it is closed",
                service.name()
            );
        }
    });
    if let Err(e) = spawn(format!("{}-client", service.name()), work) {
        log::error!(
            "{}: cannot start a thread for a client from {ip}: {e}; turned away",
            service.name()
        );
        if let Some(spare) = spare {
            refuse(service, &spare);
        }
    }
}

/// See `pace::Load::make_room`: places counted per address, the newcomer's included.
fn make_room(shared: &Shared, newcomer: IpAddr) -> bool {
    let per_ip = shared.per_ip.lock().unwrap_or_else(|e| e.into_inner());
    shared
        .load
        .make_room(newcomer, |ip| per_ip.get(&ip).copied().unwrap_or(0))
}

/// Tells a surplus client why it is turned away (SMTP 421 4.7.0, IMAP `* BYE`), on the
/// accepting thread and without waiting: the socket is new, so its send buffer has room for
/// one line, and a write that would block is simply dropped. No thread is needed, so none can
/// fail to start.
fn refuse(service: Service, stream: &TcpStream) {
    let text = match service {
        Service::Smtp | Service::Submission => {
            smtp::reply::too_many_connections().render(crate::hints::Hints::Off)
        }
        // RFC 2449 §8: SYS/TEMP, a temporary problem on the server's side.
        Service::Pop3 => "-ERR [SYS/TEMP] Too many connections, try again later\r\n".into(),
        // RFC 3501 §7.1.5: a server that will not serve a client greets it with BYE.
        Service::Imap => "* BYE [UNAVAILABLE] Too many connections, try again later\r\n".into(),
        // Implicit TLS: nothing may be said in the clear; closing is the answer.
        Service::Smtps | Service::Pop3s | Service::Imaps => return,
    };
    let _ = stream.set_nonblocking(true);
    let mut stream = stream;
    let _ = stream.write_all(text.as_bytes());
}

/// Counts a connection as active for as long as it lives.
struct ActiveGuard(Arc<Shared>, IpAddr);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.load.leave();
        let mut per_ip = self.0.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_ip.get_mut(&self.1) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.1);
            }
        }
    }
}
