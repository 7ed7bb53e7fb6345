//! The queue manager: works through `DIR/queue/active/`, steps 4 (DNS) and 5 (relay).
//!
//! One thread looks at the queue every second (at once when new mail is queued). Each message
//! that is due gets a delivery thread, which for each destination domain:
//!
//! 1. finds the receiving servers: the transport map, else DNS MX records (step 4);
//! 2. tries them in order until one answers (step 5), with our SMTP client;
//! 3. records each recipient's verdict: delivered, failed (bounce), or still pending.
//!
//! A message with recipients still pending is tried again later, each wait twice the one
//! before (`queue_retry_min` up to `queue_retry_max`), until `queue_lifetime` runs out and it
//! bounces. A connection that has delivered a message is kept a moment for the next message
//! to the same server (`connection_cache.rs`); each pass closes the ones that waited too long.
//! At most `max_outbound_per_destination` deliveries run at once to one domain, at
//! most `max_deliveries` in all (100, Postfix's `default_process_limit`), and one message is
//! never worked on by two threads. A queue of thousands of messages to thousands of domains
//! therefore takes `max_deliveries` threads, not one each; the rest wait for the next pass.
//! A delivery thread that cannot be made, or that panics, is logged and its message tried
//! again on a later pass; the queue manager goes on. Because all state is in the queue files, a
//! restarted server simply picks up where it left off.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::accept;
use super::bounce::{self, Failed};
use super::client::{self, Connection, HostFailure, Verdicts};
use super::connection_cache::{self, ConnectionCache};
use super::queue::{unix_now, Entry, Folder, Status};
use super::route::{Route, Router};
use super::transport::Transport;
use crate::address::Address;
use crate::context::Shared;
use crate::ids::{QueueId, SessionId};
use crate::transcript::{Step, Transcript};

/// Step 4's answer for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Servers to try, best first, each with its addresses.
    Hosts(Vec<Host>),
    /// RFC 7505 null MX: the domain takes no mail. Bounce.
    NullMx,
    /// The domain does not exist (NXDOMAIN). Bounce.
    NoSuchDomain,
    /// DNS did not answer; try later.
    Temporary(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub addrs: Vec<SocketAddr>,
}

/// What is being worked on now.
#[derive(Default)]
struct InFlight {
    ids: HashSet<QueueId>,
    per_domain: HashMap<String, usize>,
}

/// Runs forever on its own thread.
pub fn run(shared: Arc<Shared>) {
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    let cache = Arc::new(ConnectionCache::new(connection_cache::Limits::from_config(
        &shared.config,
    )));
    loop {
        close_expired(&cache);
        // A panic in one pass (a bug) must not stop the queue for good.
        let pass = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            match shared.queue.list(Folder::Active) {
                Ok(entries) => {
                    let now = unix_now();
                    for entry in entries.into_iter().filter(|e| e.next_attempt <= now) {
                        start(&shared, &in_flight, &cache, entry);
                    }
                }
                Err(e) => log::error!(
                    "queue: cannot list {}: {e}",
                    shared.data.root().join("queue").display()
                ),
            }
        }));
        if pass.is_err() {
            log::error!("queue: a pass over the queue panicked (a bug); going on");
        }
        // With idle connections, look again within their time limit so they are closed on time.
        let wait = if cache.is_empty() {
            Duration::from_secs(1)
        } else {
            cache.limits().idle.min(Duration::from_secs(1)) / 2
        };
        shared.wait_for_queue_work(wait.max(Duration::from_millis(50)));
    }
}

/// Says QUIT on the idle connections that waited longer than the time limit, on a thread of
/// its own: a server slow to answer QUIT must not hold up the queue manager.
fn close_expired(cache: &ConnectionCache) {
    let expired = cache.expired();
    if expired.is_empty() {
        return;
    }
    let closing = std::thread::Builder::new()
        .name("queue-close".into())
        .spawn(move || {
            for (destination, connection) in expired {
                let mut log = Transcript::log_only(SessionId::new());
                log.note(
                    Step::Relay,
                    &format!(
                        "closing the idle connection to {} (relay_connection_cache_time_limit)",
                        destination.addr
                    ),
                );
                client::quit(connection, &mut log);
            }
        });
    if let Err(e) = closing {
        // The connections were dropped with the closure: closed without QUIT.
        log::error!("queue: cannot start a thread to close idle connections: {e}");
    }
}

fn domains(entry: &Entry) -> Vec<String> {
    let mut domains: Vec<String> = entry
        .pending()
        .map(|r| r.address.domain.to_ascii_lowercase())
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

/// Starts a delivery thread for `entry` unless it or its destinations are busy.
fn start(
    shared: &Arc<Shared>,
    in_flight: &Arc<Mutex<InFlight>>,
    cache: &Arc<ConnectionCache>,
    entry: Entry,
) {
    let domains = domains(&entry);
    {
        let mut busy = in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let limit = shared.config.max_outbound_per_destination;
        if busy.ids.len() >= shared.config.max_deliveries
            || busy.ids.contains(&entry.id)
            || domains
                .iter()
                .any(|d| busy.per_domain.get(d).copied().unwrap_or(0) >= limit)
        {
            return;
        }
        busy.ids.insert(entry.id.clone());
        for d in &domains {
            *busy.per_domain.entry(d.clone()).or_default() += 1;
        }
    }
    let release = {
        let (in_flight, id) = (in_flight.clone(), entry.id.clone());
        move || {
            let mut busy = in_flight.lock().unwrap_or_else(|e| e.into_inner());
            busy.ids.remove(&id);
            for d in &domains {
                if let Some(n) = busy.per_domain.get_mut(d) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    };
    let release = Arc::new(Mutex::new(Some(release)));
    let worker_release = release.clone();
    let worker_shared = shared.clone();
    let cache = cache.clone();
    let spawned = std::thread::Builder::new()
        .name("queue-delivery".into())
        .spawn(move || {
            let id = entry.id.clone();
            let shared = worker_shared;
            // A panic (a bug) ends this attempt only; the message stays queued for the next.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                deliver(&shared, &cache, entry)
            }));
            if run.is_err() {
                log::error!("queue: the delivery of {id} panicked (a bug); it will be tried again");
            }
            if let Some(release) = take(&worker_release) {
                release();
            }
            // A place is free for the next message to the same destination: look again now.
            shared.wake_queue();
        });
    if let Err(e) = spawned {
        log::error!("queue: cannot start a delivery thread: {e}; trying again later");
        if let Some(release) = take(&release) {
            release();
        }
    }
}

/// The one-time action in `slot`, if it has not run yet.
fn take<F>(slot: &Mutex<Option<F>>) -> Option<F> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// One delivery attempt for every pending recipient of one message.
fn deliver(shared: &Shared, cache: &ConnectionCache, mut entry: Entry) {
    let queue = &shared.queue;
    let content = match std::fs::read(queue.content_path(&entry.id, Folder::Active)) {
        Ok(content) => content,
        // Held or deleted by the administrator since the listing: nothing to do.
        Err(_) => return,
    };
    let mut transcript = Transcript::create(&shared.data.transcripts(), &SessionId::new(), "relay");
    let id = entry.id.clone();
    transcript.event(
        Step::Relay,
        &id,
        &format!(
            "delivery attempt {} for {} recipient(s)",
            entry.attempts + 1,
            entry.pending().count()
        ),
    );
    let transport = Transport::load(&shared.data.root().join("transport")).unwrap_or_else(|e| {
        log::error!("transport map: {e}; ignoring it");
        Transport::default()
    });

    let mut by_domain: BTreeMap<String, Vec<Address>> = BTreeMap::new();
    for r in entry.pending() {
        by_domain
            .entry(r.address.domain.to_ascii_lowercase())
            .or_default()
            .push(r.address.clone());
    }
    let mut newly_failed = Vec::new();
    for (domain, recipients) in by_domain {
        let destination = find_destination(shared, &transport, &domain, &id, &mut transcript);
        for (address, status) in attempt(
            shared,
            cache,
            &destination,
            &entry,
            &recipients,
            &content,
            &mut transcript,
        ) {
            let text = match &status {
                Status::Delivered(reply) => format!("<{address}> delivered: {reply}"),
                Status::Pending(why) => format!("<{address}> deferred, will retry: {why}"),
                Status::Failed { status, diagnostic } => {
                    format!("<{address}> failed ({status}): {diagnostic}")
                }
            };
            transcript.event(Step::Relay, &id, &text);
            if let Status::Failed { status, diagnostic } = &status {
                newly_failed.push(Failed {
                    address: address.clone(),
                    status: status.clone(),
                    diagnostic: diagnostic.clone(),
                });
            }
            if let Some(r) = entry.recipients.iter_mut().find(|r| r.address == address) {
                r.status = status;
            }
        }
    }

    entry.attempts += 1;
    let now = unix_now();
    if entry.pending().next().is_some() {
        if now.saturating_sub(entry.arrived) >= shared.config.queue_lifetime.as_secs() {
            for r in entry
                .recipients
                .iter_mut()
                .filter(|r| matches!(r.status, Status::Pending(_)))
            {
                let Status::Pending(why) = &r.status else {
                    continue;
                };
                let diagnostic = format!("gave up after {} attempts: {why}", entry.attempts);
                newly_failed.push(Failed {
                    address: r.address.clone(),
                    status: "4.4.7".into(),
                    diagnostic: diagnostic.clone(),
                });
                r.status = Status::Failed {
                    status: "4.4.7".into(),
                    diagnostic,
                };
            }
            transcript.event(
                Step::Relay,
                &id,
                "queue lifetime over: the pending recipients bounce",
            );
        } else {
            entry.next_attempt = now + backoff(shared, entry.attempts).as_secs();
        }
    }
    if !newly_failed.is_empty() {
        send_bounce(shared, &entry, &content, &newly_failed, &mut transcript);
    }
    let done = entry.pending().next().is_none();
    let saved = if done {
        queue.remove(&id, Folder::Active)
    } else {
        queue.save(&entry, Folder::Active)
    };
    match saved {
        Ok(()) if done => transcript.event(Step::Relay, &id, "done: removed from the queue"),
        Ok(()) => transcript.event(
            Step::Relay,
            &id,
            &format!(
                "next attempt in {} s",
                entry.next_attempt.saturating_sub(now)
            ),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => transcript.event(
            Step::Relay,
            &id,
            "held or deleted by the administrator during this attempt: left as it is",
        ),
        Err(e) => log::error!("queue: cannot update {id}: {e}"),
    }
}

/// `queue_retry_min` × 2^(attempts − 1), at most `queue_retry_max`.
fn backoff(shared: &Shared, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    shared
        .config
        .queue_retry_min
        .saturating_mul(factor)
        .min(shared.config.queue_retry_max)
}

/// Step 4: where does mail for `domain` go?
fn find_destination(
    shared: &Shared,
    transport: &Transport,
    domain: &str,
    id: &QueueId,
    transcript: &mut Transcript,
) -> Destination {
    if let Some(rule) = shared.faults.current().dns(domain) {
        transcript.event(
            Step::Dns,
            id,
            &format!(
                "{domain}: {}: the lookup {}",
                rule.label(),
                match rule.action {
                    crate::faults::Action::NxDomain => "says the domain does not exist",
                    _ => "times out",
                }
            ),
        );
        return match rule.action {
            crate::faults::Action::NxDomain => Destination::NoSuchDomain,
            _ => Destination::Temporary(format!("{}: DNS timeout for {domain}", rule.label())),
        };
    }
    if let Some(target) = transport.route(domain) {
        let addrs: Vec<SocketAddr> = target
            .to_socket_addrs()
            .map(|a| a.collect())
            .unwrap_or_default();
        transcript.event(
            Step::Dns,
            id,
            &format!("{domain}: the transport map says {target} (no DNS lookup)"),
        );
        return if addrs.is_empty() {
            Destination::Temporary(format!("cannot resolve {target} from the transport map"))
        } else {
            Destination::Hosts(vec![Host {
                name: target.to_string(),
                addrs,
            }])
        };
    }
    let (destination, lines) = crate::mta::dns_lookup(shared, domain);
    for line in lines {
        transcript.event(Step::Dns, id, &line);
    }
    destination
}

/// Step 5 for one domain: tries its hosts in order. Returns a status per recipient.
fn attempt(
    shared: &Shared,
    cache: &ConnectionCache,
    destination: &Destination,
    entry: &Entry,
    recipients: &[Address],
    content: &[u8],
    transcript: &mut Transcript,
) -> Vec<(Address, Status)> {
    let all = |status: Status| {
        recipients
            .iter()
            .map(|r| (r.clone(), status.clone()))
            .collect()
    };
    let failed = |status: &str, diagnostic: String| Status::Failed {
        status: status.into(),
        diagnostic,
    };
    let hosts = match destination {
        Destination::NullMx => {
            return all(failed(
                "5.1.10",
                "556 5.1.10 the domain accepts no mail (null MX, RFC 7505)".into(),
            ))
        }
        Destination::NoSuchDomain => {
            return all(failed(
                "5.1.2",
                "the domain does not exist (NXDOMAIN)".into(),
            ))
        }
        Destination::Temporary(why) => return all(Status::Pending(why.clone())),
        Destination::Hosts(hosts) => hosts,
    };
    let domain = recipients
        .first()
        .map(|r| r.domain.to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(rule) = shared.faults.current().connect(&domain) {
        transcript.event(
            Step::Relay,
            &entry.id,
            &format!("{}: connections to {domain} are refused", rule.label()),
        );
        return all(Status::Pending(format!(
            "{}: connection refused",
            rule.label()
        )));
    }
    let mut last_problem = String::from("no server to try");
    for host in hosts {
        for addr in &host.addrs {
            // An MX that points back at this very server would loop forever (RFC 5321 §5.1).
            if shared.is_own_smtp_address(*addr) {
                return all(failed(
                    "5.4.6",
                    format!("the MX host {} is this server: mail loop", host.name),
                ));
            }
            let target = client::Target {
                addr: *addr,
                source: shared.config.relay_source_for(addr.ip()),
                host: &host.name,
                tls: shared.config.relay_tls,
                ca_file: shared.config.tls_ca_file.as_deref(),
                timeout: shared.config.relay_timeout,
            };
            match send(
                shared, cache, target, entry, recipients, content, transcript,
            ) {
                Ok(verdicts) => {
                    return verdicts
                        .into_iter()
                        .map(|(address, reply)| {
                            let status = if reply.is_positive() {
                                Status::Delivered(format!("{} said {reply}", host.name))
                            } else if reply.is_permanent() {
                                failed(&reply.status(), format!("{} said {reply}", host.name))
                            } else {
                                Status::Pending(format!("{} said {reply}", host.name))
                            };
                            (address, status)
                        })
                        .collect();
                }
                Err(HostFailure::Permanent(reply)) => {
                    return all(failed(
                        &reply.status(),
                        format!("{} said {reply}", host.name),
                    ))
                }
                Err(HostFailure::Connection(why)) | Err(HostFailure::Temporary(why)) => {
                    last_problem = why
                }
            }
        }
    }
    all(Status::Pending(last_problem))
}

/// One message to one server: on an idle connection to it if the cache has one, else on a
/// new connection; afterwards the connection is kept for the next message, or closed.
fn send(
    shared: &Shared,
    cache: &ConnectionCache,
    target: client::Target,
    entry: &Entry,
    recipients: &[Address],
    content: &[u8],
    transcript: &mut Transcript,
) -> Result<Verdicts, HostFailure> {
    let destination = connection_cache::Destination::of(&target);
    if let Some((mut connection, idle)) = cache.take(&destination) {
        transcript.note(
            Step::Relay,
            &format!(
                "reusing connection to {} ({}{}), idle {} ms, message {} on it: no new handshake",
                target.addr,
                target.host,
                if connection.tls { ", TLS" } else { "" },
                idle.as_millis(),
                connection.messages + 1
            ),
        );
        match client::transaction(
            &mut connection,
            &entry.from,
            recipients,
            content,
            transcript,
        ) {
            Ok(verdicts) => {
                keep(cache, destination, connection, transcript);
                return Ok(verdicts);
            }
            Err(HostFailure::Permanent(reply)) => {
                keep(cache, destination, connection, transcript);
                return Err(HostFailure::Permanent(reply));
            }
            // The server closed it while it was idle (its timeout, a 421), or the network
            // broke: not this message's fault. It goes on a new connection, in this attempt.
            Err(failure) => transcript.note(
                Step::Relay,
                &format!("the kept connection no longer works ({failure:?}): opening a new one"),
            ),
        }
    }
    let mut connection = client::connect(target, &shared.config.hostname, transcript)?;
    let result = client::transaction(
        &mut connection,
        &entry.from,
        recipients,
        content,
        transcript,
    );
    match &result {
        Ok(_) | Err(HostFailure::Permanent(_)) => keep(cache, destination, connection, transcript),
        Err(HostFailure::Temporary(_)) => client::quit(connection, transcript),
        Err(HostFailure::Connection(_)) => {}
    }
    result
}

/// After a message: RSET and into the cache, or QUIT when the cache may not keep it.
fn keep(
    cache: &ConnectionCache,
    destination: connection_cache::Destination,
    mut connection: Connection,
    transcript: &mut Transcript,
) {
    if let Some(why) = cache.refuses(&connection) {
        if !cache.limits().idle.is_zero() {
            transcript.note(Step::Relay, &format!("closing the connection: {why}"));
        }
        return client::quit(connection, transcript);
    }
    match client::reset(&mut connection, transcript) {
        Ok(()) => {}
        Err(HostFailure::Connection(_)) => return,
        Err(_) => return client::quit(connection, transcript),
    }
    let addr = destination.addr;
    match cache.keep(destination, connection) {
        None => transcript.note(
            Step::Relay,
            &format!(
                "connection to {addr} kept open for the next message (up to {} s idle)",
                cache.limits().idle.as_secs_f64()
            ),
        ),
        Some(connection) => client::quit(connection, transcript),
    }
}

/// Sends a bounce for `failed` to the message's sender (never for a bounce).
fn send_bounce(
    shared: &Shared,
    entry: &Entry,
    content: &[u8],
    failed: &[Failed],
    transcript: &mut Transcript,
) {
    let crate::address::ReversePath::Mailbox(sender) = &entry.from else {
        transcript.event(
            Step::Relay,
            &entry.id,
            "the sender is <> (a bounce itself): no bounce is sent, RFC 5321 §4.5.5",
        );
        return;
    };
    let directory = shared.accounts.current();
    let router = Router {
        config: &shared.config,
        directory: &directory,
        may_relay: true,
    };
    let route = match router.route(sender) {
        Route::Reject(why) => {
            transcript.event(
                Step::Relay,
                &entry.id,
                &format!("cannot bounce to <{sender}>: {why:?}"),
            );
            return;
        }
        route => route,
    };
    let Some(message) = bounce::build(
        &shared.config.hostname,
        &entry.id,
        &entry.from,
        entry.arrived,
        content,
        failed,
        route,
    ) else {
        return;
    };
    let bounce_id = message.envelope.id.clone();
    // A bounce into a local mailbox is a writer like any other: it respects the quota
    // (`mailbox::quota`), or a user could fill their mailbox past it by mailing nowhere.
    if let Err(e) =
        crate::mda::check_quotas(&shared.data.mail(), &shared.accounts.current(), &message)
    {
        transcript.event(
            Step::Relay,
            &entry.id,
            &format!("bounce to <{sender}> not stored: {e:?}"),
        );
        return;
    }
    match accept::store(
        &shared.data.mail(),
        &shared.queue,
        &shared.config.hostname,
        &message,
        || shared.wake_queue(),
    ) {
        accept::Outcome::Accepted { .. } => transcript.event(
            Step::Relay,
            &entry.id,
            &format!("bounce {bounce_id} sent to <{sender}>"),
        ),
        other => transcript.event(
            Step::Relay,
            &entry.id,
            &format!("bounce to <{sender}> failed: {other:?}"),
        ),
    }
}
