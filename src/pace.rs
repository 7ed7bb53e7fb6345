//! The clocks on every client connection, and the stricter clocks of a busy server.
//!
//! A thread waits for each client, so a client that holds its connection without using it
//! holds a place that a real client could have. The "slowloris" attack does exactly that: it
//! opens hundreds of connections and sends one octet every few seconds, each just inside the
//! idle timeout. Four clocks stand against it:
//!
//! | clock | normally | when the server is busy |
//! |---|---|---|
//! | silence: the client sends nothing | `idle_timeout` (SMTP 300 s, RFC 5321 §4.5.3.2.7) | at most `busy_timeout` |
//! | one line, from its first octet to its LF | the same | at most `busy_timeout` |
//! | a TLS handshake, start to finish | 30 s | at most `busy_timeout` |
//! | a transfer (DATA, an IMAP literal) | no floor | at least `min_data_rate` octets a second |
//! | our answer waits: the client reads nothing | the idle time the connection began with | at most `busy_timeout` |
//!
//! Generous clocks while there is room, so a student who types `DATA` by hand in telnet and
//! thinks between lines is never cut off; short clocks as places run out, so slow connections
//! give their places back within seconds. This follows Postfix's "stress" mode (its
//! `smtpd_timeout` is 300 s, and 10 s once every smtpd process is in use), but starts earlier:
//! the server counts as busy from three quarters of `max_connections` on, so places are freed
//! before the last is taken. `max_connections_per_ip` stops one address from taking them all.
//!
//! When every place is taken, a new client is not simply turned away: an address that holds
//! more than twice as many places as the newcomer's gives one up, the connection of theirs that
//! has gone longest without sending a whole line (at least [`STALLED`], 2 s;
//! [`Load::make_room`]). An attacker that fills the server from many addresses holds many places
//! each, and its connections never finish a line, so a new client from anywhere else still gets
//! in; the attacker's own addresses, holding about as many places each, cannot push each other
//! out (which would only churn, and use up the room made for others).
//!
//! The last clock is for writing. A client can hurt a server as much by not reading as by not
//! writing: it pipelines commands (or asks for one large message many times) and never reads
//! the answers. Our output waits in a small buffer (`src/net.rs`), then in the kernel; once
//! those are full the session blocks in a write, and a write that makes no progress for the
//! connection's idle time (less when busy) ends with [`Cut::NotReading`], as Postfix's
//! `smtpd_timeout` and Dovecot's output timeout end a client that stops reading.
//!
//! [`PacedTcp`] sits between the TCP socket and everything above it (TLS included), so these
//! clocks hold for plaintext and encrypted sessions alike. A read never blocks for longer than
//! [`TICK`]: it wakes, looks at the clocks and at how busy the server is, and goes back to
//! waiting, so a connection that was fine when the server was quiet is held to the busy clocks
//! a moment after the server fills up.
//!
//! The relay (step 5, `src/mta/client.rs`) runs its connections to other servers over the same
//! layer, with a [`Load::quiet`] that is never busy: each reply of the receiving server must be
//! whole within `relay_timeout`, so a server that answers one octet at a time (a "tarpit")
//! cannot hold a delivery for ever.

use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The longest a read sleeps before it looks at the clocks again.
pub const TICK: Duration = Duration::from_secs(1);

/// A connection must have gone this long without a line before it can be made to give its
/// place to a newcomer (see [`Load::make_room`]).
pub const STALLED: Duration = Duration::from_secs(2);

/// Why a clock ended a read: carried inside the `io::Error`, so each protocol can tell the
/// client (and the transcript) what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// Nothing came for this long.
    Silent(Duration),
    /// One line took longer than this from its first octet to its end.
    SlowLine(Duration),
    /// Something with a deadline (a TLS handshake, a relay's reply) was not over in time.
    Late(&'static str),
    /// A transfer fell under `min_data_rate` while the server was busy.
    SlowTransfer {
        octets: u64,
        seconds: u64,
        rate: u64,
    },
    /// The server was full and this connection made room for a newcomer.
    MadeRoom,
    /// The client read none of what we sent for this long: its window stayed shut (it sends
    /// commands but never reads the answers, or it stopped reading in the middle of a message).
    NotReading(Duration),
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cut::Silent(d) => write!(f, "silent for {} s", d.as_secs_f32()),
            Cut::SlowLine(d) => write!(f, "a line took longer than {} s", d.as_secs_f32()),
            Cut::Late(what) => write!(f, "{what} took too long"),
            Cut::SlowTransfer { octets, seconds, rate } => write!(
                f,
                "too slow while the server is busy: {octets} octets in {seconds} s, under {rate} octets/s"
            ),
            Cut::MadeRoom => write!(
                f,
                "every place was taken: this connection, the one longest without a whole line, made room for a new client"
            ),
            Cut::NotReading(d) => write!(
                f,
                "the client read nothing of our answer for {} s",
                d.as_secs_f32()
            ),
        }
    }
}

impl std::error::Error for Cut {}

impl Cut {
    /// As an `io::Error`: a timeout, except [`Cut::MadeRoom`] (the session must end now, not
    /// wait on as IMAP IDLE does after a timeout).
    pub fn into_error(self) -> io::Error {
        let kind = match self {
            Cut::MadeRoom => io::ErrorKind::ConnectionAborted,
            _ => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, self)
    }

    /// The reason inside an error from a read, if a clock ended it.
    pub fn of(e: &io::Error) -> Option<&Cut> {
        e.get_ref()?.downcast_ref::<Cut>()
    }
}

/// How full the server is: every client connection counts from accept to close.
#[derive(Debug)]
pub struct Load {
    active: AtomicUsize,
    /// From this many connections on, the server is busy.
    busy_from: usize,
    /// At most this many connections may be on their way out after making room, so the
    /// server is never more than this over `max_connections` (a quarter of it).
    leaving_at_most: usize,
    busy_timeout: Duration,
    min_data_rate: u64,
    /// Every open connection's clocks, to choose one to make room (see [`Load::make_room`]).
    open: Mutex<Vec<Weak<Clocks>>>,
}

impl Load {
    /// `max_connections` places; busy from three quarters of them.
    pub fn new(max_connections: usize, busy_timeout: Duration, min_data_rate: u64) -> Load {
        Load {
            active: AtomicUsize::new(0),
            // Three quarters, without overflow for any number an administrator may write.
            busy_from: (max_connections / 4 * 3 + max_connections % 4 * 3 / 4).max(1),
            leaving_at_most: (max_connections / 4).max(1),
            busy_timeout,
            min_data_rate,
            open: Mutex::new(Vec::new()),
        }
    }

    fn register(&self, clocks: &Arc<Clocks>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.len() >= 64 && open.len() > 2 * self.active() {
            open.retain(|c| c.strong_count() > 0);
        }
        open.push(Arc::downgrade(clocks));
    }

    /// Every place is taken and a new client from `newcomer` is at the door. A place is taken
    /// from an address that holds more than twice as many places as the newcomer's (`places`
    /// counts them, the newcomer included): of those, the connection that has gone longest without sending a
    /// line, and at least [`STALLED`], is told to go, and the newcomer may have its place. A
    /// slowloris connection never finishes a line and a stalled TLS handshake never sends one,
    /// so an attacker's connections go first, while a client that sends whole commands is never
    /// the stalest. False when there is no such connection, or when a quarter of
    /// `max_connections` are already on their way out.
    pub fn make_room(&self, newcomer: IpAddr, places: impl Fn(IpAddr) -> usize) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|c| c.strong_count() > 0);
        let open: Vec<Arc<Clocks>> = open.iter().filter_map(Weak::upgrade).collect();
        // Those told to go leave within a tick; until then they still count.
        let leaving = open
            .iter()
            .filter(|c| c.evicted.load(Ordering::SeqCst))
            .count();
        if leaving >= self.leaving_at_most {
            return false;
        }
        let fair_share = places(newcomer);
        let stalest = open
            .iter()
            .filter(|c| !c.evicted.load(Ordering::SeqCst))
            .filter(|c| places(c.peer) > 2 * fair_share)
            .map(|c| (c.stalled_for(), c))
            .filter(|(stalled, _)| *stalled >= STALLED)
            .max_by_key(|(stalled, _)| *stalled);
        match stalest {
            Some((_, clocks)) => {
                clocks.evicted.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// A load that is never busy: for our own connections to other servers (the relay).
    pub fn quiet() -> Load {
        Load {
            active: AtomicUsize::new(0),
            busy_from: usize::MAX,
            leaving_at_most: 0,
            busy_timeout: Duration::MAX,
            min_data_rate: 0,
            open: Mutex::new(Vec::new()),
        }
    }

    /// A connection arrives; returns how many are open now, this one included.
    pub fn arrive(&self) -> usize {
        self.active.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// A connection has closed.
    pub fn leave(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Are three quarters of the places taken?
    pub fn busy(&self) -> bool {
        self.active() >= self.busy_from
    }

    /// `limit`, or `busy_timeout` if that is shorter and the server is busy.
    pub fn shorten(&self, limit: Duration) -> Duration {
        if self.busy() {
            limit.min(self.busy_timeout)
        } else {
            limit
        }
    }
}

/// One connection's clocks, shared by its [`PacedTcp`] and its `Conn`.
#[derive(Debug)]
pub struct Clocks {
    load: Arc<Load>,
    /// The client's address.
    peer: IpAddr,
    state: Mutex<State>,
    /// Told to go by [`Load::make_room`]; the next tick of a read ends it.
    evicted: AtomicBool,
}

#[derive(Debug)]
struct State {
    /// The longest the client may stay silent.
    silence: Duration,
    /// The longest a write may wait for the client to read: the silence the connection began
    /// with (IMAP IDLE's short polling silence does not shorten it).
    patience: Duration,
    /// A moment by which something (a TLS handshake, a reply) must be over, and what.
    deadline: Option<(Instant, &'static str)>,
    /// A transfer in progress: when it began and how many octets have come since.
    transfer: Option<(Instant, u64)>,
    /// When the client last sent a line's end (or a good handful of octets at once).
    progress: Instant,
}

impl Clocks {
    /// The clocks of a new connection, counted among the server's open ones.
    pub fn new(load: Arc<Load>, peer: IpAddr, silence: Duration) -> Arc<Clocks> {
        let clocks = Arc::new(Clocks {
            load: load.clone(),
            peer,
            state: Mutex::new(State {
                silence,
                patience: silence,
                deadline: None,
                transfer: None,
                progress: Instant::now(),
            }),
            evicted: AtomicBool::new(false),
        });
        load.register(&clocks);
        clocks
    }

    /// How long since the client last made progress.
    fn stalled_for(&self) -> Duration {
        self.state().progress.elapsed()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn load(&self) -> &Load {
        &self.load
    }

    /// Changes how long the client may stay silent (IMAP IDLE polls with a short one).
    pub fn set_silence(&self, silence: Duration) {
        self.state().silence = silence;
    }

    /// `what` ("the TLS handshake") must be over within `within` from now (shortened when
    /// busy), however its octets trickle in.
    pub fn set_deadline(&self, what: &'static str, within: Duration) {
        self.state().deadline = Some((Instant::now() + self.load.shorten(within), what));
    }

    pub fn clear_deadline(&self) {
        self.state().deadline = None;
    }

    /// Has the deadline passed? (Writes look too: a peer that reads one octet a minute must
    /// not hold a sender for ever.)
    fn check_deadline(&self) -> io::Result<()> {
        match self.state().deadline {
            Some((deadline, what)) if Instant::now() >= deadline => {
                Err(Cut::Late(what).into_error())
            }
            _ => Ok(()),
        }
    }

    /// Has a clock run out, `waited` into a write that the client does not let through?
    /// Says which, or how long the write may still wait.
    fn check_writing(&self, waited: Duration) -> Result<Duration, io::Error> {
        self.check_deadline()?;
        let mut patience = self.load.shorten(self.state().patience);
        // A connection told to make room still says goodbye, but may not wait long to.
        if self.evicted.load(Ordering::SeqCst) {
            patience = patience.min(STALLED);
        }
        if waited >= patience {
            return Err(Cut::NotReading(patience).into_error());
        }
        Ok((patience - waited).min(TICK).max(Duration::from_millis(1)))
    }

    /// A transfer (DATA, a literal) starts: when the server is busy, it must keep up
    /// `min_data_rate`.
    pub fn begin_transfer(&self) {
        self.state().transfer = Some((Instant::now(), 0));
    }

    pub fn end_transfer(&self) {
        self.state().transfer = None;
    }

    /// Octets arrived. A line's end is progress; so are 16 octets or more in one read (a TLS
    /// record cannot be smaller, and its octets are not text), but one octet at a time is not.
    fn received(&self, octets: &[u8]) {
        let mut state = self.state();
        if let Some((_, count)) = &mut state.transfer {
            *count += octets.len() as u64;
        }
        if octets.len() >= 16 || octets.contains(&b'\n') {
            state.progress = Instant::now();
        }
    }

    /// Has a clock run out, `waited` into a read? Says which, or how long the read may still
    /// sleep.
    fn check(&self, waited: Duration) -> Result<Duration, io::Error> {
        if self.evicted.load(Ordering::SeqCst) {
            return Err(Cut::MadeRoom.into_error());
        }
        let state = self.state();
        let now = Instant::now();
        let silence = self.load.shorten(state.silence);
        if waited >= silence {
            return Err(Cut::Silent(silence).into_error());
        }
        let mut sleep = (silence - waited).min(TICK);
        if let Some((deadline, what)) = state.deadline {
            if now >= deadline {
                return Err(Cut::Late(what).into_error());
            }
            sleep = sleep.min(deadline - now);
        }
        if let Some((started, octets)) = state.transfer {
            let elapsed = now - started;
            let rate = self.load.min_data_rate;
            // The floor holds only when busy, and only after a first stretch of grace: a
            // transfer's first seconds include the client's own start-up.
            if self.load.busy() && rate > 0 && elapsed > self.load.busy_timeout {
                let floor = (rate as f64 * elapsed.as_secs_f64()) as u64;
                if octets < floor {
                    return Err(Cut::SlowTransfer {
                        octets,
                        seconds: elapsed.as_secs(),
                        rate,
                    }
                    .into_error());
                }
            }
        }
        Ok(sleep.max(Duration::from_millis(1)))
    }
}

/// A TCP socket whose reads obey the connection's [`Clocks`].
pub struct PacedTcp {
    stream: TcpStream,
    clocks: Arc<Clocks>,
    /// The read timeout last set on the socket (to save a system call per read).
    timeout: Option<Duration>,
    /// The same for writes.
    write_timeout: Option<Duration>,
}

impl PacedTcp {
    pub fn new(stream: TcpStream, clocks: Arc<Clocks>) -> PacedTcp {
        PacedTcp {
            stream,
            clocks,
            timeout: None,
            write_timeout: None,
        }
    }
}

impl Read for PacedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        loop {
            let sleep = self.clocks.check(started.elapsed())?;
            if self.timeout != Some(sleep) {
                self.stream.set_read_timeout(Some(sleep))?;
                self.timeout = Some(sleep);
            }
            match self.stream.read(buf) {
                Ok(n) => {
                    self.clocks.received(&buf[..n]);
                    return Ok(n);
                }
                Err(e) if is_wait(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// A read or write that only waited (the socket's timeout, or a signal): look at the clocks
/// and try again.
fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Write for PacedTcp {
    /// Waits at most [`TICK`] at a time for room in the socket, looking at the clocks between
    /// waits: a client that reads nothing is cut ([`Cut::NotReading`]).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let started = Instant::now();
        loop {
            let wait = self.clocks.check_writing(started.elapsed())?;
            if self.write_timeout != Some(wait) {
                self.stream.set_write_timeout(Some(wait))?;
                self.write_timeout = Some(wait);
            }
            match self.stream.write(buf) {
                Ok(n) => return Ok(n),
                Err(e) if is_wait(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair(load: Arc<Load>, silence: Duration) -> (PacedTcp, TcpStream, Arc<Clocks>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let clocks = Clocks::new(load, peer.ip(), silence);
        (PacedTcp::new(server, clocks.clone()), client, clocks)
    }

    fn quiet() -> Arc<Load> {
        Arc::new(Load::new(100, Duration::from_millis(300), 500))
    }

    #[test]
    fn busy_from_three_quarters() {
        let load = Load::new(8, Duration::from_secs(10), 500);
        for _ in 0..5 {
            load.arrive();
        }
        assert!(!load.busy());
        assert_eq!(
            load.shorten(Duration::from_secs(300)),
            Duration::from_secs(300)
        );
        load.arrive();
        assert!(load.busy());
        assert_eq!(
            load.shorten(Duration::from_secs(300)),
            Duration::from_secs(10)
        );
        load.leave();
        assert!(!load.busy());
    }

    #[test]
    fn silence_ends_a_read_with_a_timeout() {
        let (mut paced, _client, _) = pair(quiet(), Duration::from_millis(200));
        let err = paced.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("silent"), "{err}");
    }

    #[test]
    fn a_busy_server_shortens_silence() {
        let load = Arc::new(Load::new(1, Duration::from_millis(200), 500));
        load.arrive();
        let (mut paced, _client, _) = pair(load, Duration::from_secs(300));
        let started = Instant::now();
        assert!(paced.read(&mut [0; 8]).is_err());
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn data_passes_through() {
        let (mut paced, mut client, _) = pair(quiet(), Duration::from_secs(5));
        client.write_all(b"HELO x\r\n").unwrap();
        let mut buf = [0; 8];
        paced.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"HELO x\r\n");
    }

    #[test]
    fn a_deadline_ends_a_trickle() {
        let (mut paced, mut client, clocks) = pair(quiet(), Duration::from_secs(5));
        clocks.set_deadline("the TLS handshake", Duration::from_millis(300));
        let writer = std::thread::spawn(move || {
            // One octet every 50 ms: never silent for long, but never done either.
            for _ in 0..40 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let mut buf = [0; 1];
        let err = loop {
            if let Err(e) = paced.read(&mut buf) {
                break e;
            }
        };
        assert!(err.to_string().contains("handshake"), "{err}");
        drop(paced);
        writer.join().unwrap();
    }

    #[test]
    fn a_client_that_reads_nothing_is_cut() {
        let (mut paced, _client, _) = pair(quiet(), Duration::from_millis(300));
        // The client never reads: the socket buffers fill, then a write waits and is cut.
        let chunk = vec![b'x'; 64 * 1024];
        let err = loop {
            if let Err(e) = paced.write(&chunk) {
                break e;
            }
        };
        assert!(matches!(Cut::of(&err), Some(Cut::NotReading(_))), "{err}");
    }

    #[test]
    fn making_room_evicts_the_stalest_connection_only() {
        let load = Arc::new(Load::new(2, Duration::from_millis(100), 500));
        let (mut staller, mut staller_client, _) = pair(load.clone(), Duration::from_secs(30));
        let (mut worker, mut worker_client, _) = pair(load.clone(), Duration::from_secs(30));
        // From another address with a single place; loopback holds three.
        let newcomer: IpAddr = "192.0.2.1".parse().unwrap();
        let places = |ip: IpAddr| if ip == newcomer { 1 } else { 3 };
        // Nobody has been stalled for long enough yet: no room is made.
        assert!(!load.make_room(newcomer, places));
        std::thread::sleep(STALLED + Duration::from_millis(100));
        staller_client.write_all(b"E").unwrap();
        assert_eq!(staller.read(&mut [0; 8]).unwrap(), 1);
        worker_client.write_all(b"NOOP\r\n").unwrap();
        assert_eq!(worker.read(&mut [0; 8]).unwrap(), 6);
        // An address never takes a place from one that holds no more than twice as many.
        assert!(!load.make_room(newcomer, |ip| if ip == newcomer { 2 } else { 4 }));
        // One octet is not progress, a whole line is: the staller goes.
        assert!(load.make_room(newcomer, places));
        let err = staller.read(&mut [0; 8]).unwrap_err();
        assert!(err.to_string().contains("made room"), "{err}");
        // The worker is not stalled long enough to go as well.
        assert!(!load.make_room(newcomer, places));
    }

    #[test]
    fn at_most_a_quarter_of_the_places_are_leaving_at_once() {
        // Four places: one may be on its way out at a time.
        let load = Arc::new(Load::new(4, Duration::from_millis(100), 500));
        let mut stalled: Vec<_> = (0..3)
            .map(|_| pair(load.clone(), Duration::from_secs(30)))
            .collect();
        std::thread::sleep(STALLED + Duration::from_millis(100));
        let newcomer: IpAddr = "192.0.2.1".parse().unwrap();
        let places = |ip: IpAddr| if ip == newcomer { 1 } else { 3 };
        assert!(load.make_room(newcomer, places));
        assert!(!load.make_room(newcomer, places), "two leaving at once");
        // The one told to go goes; then another may be asked.
        let gone = stalled
            .iter()
            .position(|(_, _, clocks)| clocks.evicted.load(Ordering::SeqCst))
            .unwrap();
        let (mut paced, _, _) = stalled.remove(gone);
        assert!(paced.read(&mut [0; 8]).is_err());
        drop(paced);
        assert!(load.make_room(newcomer, places));
    }

    #[test]
    fn a_slow_transfer_is_cut_only_when_busy() {
        let slow = |load: Arc<Load>| {
            let (mut paced, mut client, clocks) = pair(load, Duration::from_secs(5));
            clocks.begin_transfer();
            let writer = std::thread::spawn(move || {
                for _ in 0..20 {
                    if client.write_all(b"x").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let mut buf = [0; 1];
            let mut result = Ok(());
            for _ in 0..20 {
                if let Err(e) = paced.read(&mut buf) {
                    result = Err(e);
                    break;
                }
            }
            drop(paced);
            writer.join().unwrap();
            result
        };
        // 20 octets a second against a floor of 500: fine while quiet ...
        assert!(slow(quiet()).is_ok());
        // ... cut once the server is busy and the grace (200 ms) is over.
        let load = Arc::new(Load::new(1, Duration::from_millis(200), 500));
        load.arrive();
        let err = slow(load).unwrap_err();
        assert!(err.to_string().contains("too slow"), "{err}");
    }
}
