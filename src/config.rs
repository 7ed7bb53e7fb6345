//! Settings: `DIR/postlab.conf`, the embedded defaults, and the command line.
//!
//! The file is written in the style of Postfix's `main.cf`: one `key = value` per line, `#`
//! starts a comment line, a line that starts with white space continues the one before. On first
//! start postlab writes the file with every setting, its default and a sentence on what it does,
//! so an administrator can read what there is to change. A setting missing from the file keeps
//! its default; an unknown key or a bad value is an error that names the line.
//!
//! Precedence, lowest first: embedded default → `postlab.conf` → command-line flag.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hints::Hints;

/// One setting as it appears in `postlab.conf`: its key, default and meaning.
/// This table is the single place a setting is described; the default file is written from it.
pub struct Setting {
    pub key: &'static str,
    /// Text form of the default; empty means "computed at start" (see `help`).
    pub default: &'static str,
    pub help: &'static str,
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "hostname",
        default: "",
        help: "The server's own name: in the 220 greeting, the Received: header and Maildir file names.\nEmpty means this machine's hostname.",
    },
    Setting {
        key: "domains",
        default: "",
        help: "Mail domains delivered here (comma separated). Mail for any other domain is remote.\nEmpty means: localhost and the hostname.",
    },
    Setting {
        key: "listen",
        default: "127.0.0.1",
        help: "Address the listeners bind to. 127.0.0.1 keeps the server private to this machine.",
    },
    Setting {
        key: "port_offset",
        default: "10000",
        help: "Added to each standard port (SMTP 25 -> 10025), so no root is needed. 0 gives the standard ports.",
    },
    Setting {
        key: "max_message_size",
        default: "26214400",
        help: "Largest message accepted, in octets (advertised as SIZE in EHLO; RFC 1870). 25 MiB.",
    },
    Setting {
        key: "max_data_memory",
        default: "268435456",
        help: "Octets of messages all SMTP sessions together may hold in memory while they arrive; past it a message gets 452 4.3.1 and is sent again later. 256 MiB; 0 for no limit (SECURITY.md).",
    },
    Setting {
        key: "max_recipients",
        default: "100",
        help: "Recipients per message; more get 452 4.5.3 (RFC 5321 section 4.5.3.1.8 asks for at least 100).",
    },
    Setting {
        key: "max_errors",
        default: "10",
        help: "Errors one SMTP session may make before the server says 421 and closes it.",
    },
    Setting {
        key: "idle_timeout",
        default: "300",
        help: "Seconds a client may stay silent before 421 4.4.2 and close (RFC 5321 section 4.5.3.2.7: 5 minutes).",
    },
    Setting {
        key: "pop3_idle_timeout",
        default: "600",
        help: "Seconds a POP3 client may stay silent before the server closes the connection, removing nothing\n(RFC 1939 section 3: an autologout timer of at least 10 minutes).",
    },
        Setting {
        key: "imap_idle_timeout",
        default: "1800",
        help: "Seconds an IMAP client may stay silent (outside IDLE) before * BYE (RFC 3501 section 5.4: at least 30 minutes).",
    },
    Setting {
        key: "max_folders",
        default: "1000",
        help: "Folders one account may have, INBOX and Sent, Drafts, Trash, Junk included, and as many\nsubscriptions; IMAP CREATE (or SUBSCRIBE) beyond it gets NO [LIMIT] (RFC 5530). Each folder is\nfour directories on disk. 0: no limit (Dovecot's quota_mailbox_count, unlimited there).",
    },
    Setting {
                key: "max_connections",
        default: "100",
        help: "Simultaneous client connections; the surplus gets 421 4.7.0 and is closed.",
    },
    Setting {
        key: "max_connections_per_ip",
        default: "20",
        help: "Simultaneous connections from one address outside relay_networks, so one client (or a\nslowloris attack) cannot take every place. 0: no limit.",
    },
    Setting {
        key: "busy_timeout",
        default: "10",
        help: "From three quarters of max_connections on, the server is busy: silence, one line and a TLS\nhandshake may then take at most this many seconds, so slow clients give their places back\n(as Postfix's stress mode). A quiet server keeps the generous idle timeouts.",
    },
    Setting {
        key: "min_data_rate",
        default: "500",
        help: "Octets per second DATA and IMAP literals must keep up while the server is busy (after the\nfirst busy_timeout seconds). 0: no floor. A quiet server has none, for typing DATA by hand.",
    },
    Setting {
        key: "hints",
        default: "yes",
        help: "en (or yes): error replies carry a one-line hint for students (what to type instead).\nid: the same hints in Bahasa Indonesia (petunjuk: …). no: plain replies. Only the hint\nis translated; codes and reply texts are the protocol's.",
    },
    Setting {
        key: "recipient_delimiter",
        default: "+",
        help: "bob+anything@domain is delivered to bob. Empty turns address extensions off.",
    },
    Setting {
        key: "relay_networks",
        default: "127.0.0.0/8, ::1/128",
        help: "Clients in these networks may send mail to other domains without logging in.\nEveryone else must authenticate (AUTH) first: postlab is never an open relay. Empty: nobody.",
    },
    Setting {
        key: "relay_to",
        default: "",
        help: "The only domains (each with its subdomains) mail is relayed to, e.g. class.test for a class on a\nshared network (`postlab lab class join`). Empty: any domain.",
    },
        Setting {
        key: "dns_server",
        default: "",
        help: "DNS server for MX lookups (step 4), as ADDR or ADDR:PORT, e.g. a classroom `postlab dns`\nat 127.0.0.1:10053. Empty means the system's resolver (/etc/resolv.conf).",
    },
    Setting {
        key: "relay_port",
        default: "25",
        help: "The port our SMTP client connects to on other servers (a lab may use 10025).",
    },
    Setting {
        key: "relay_source",
        default: "listen",
        help: "The address our SMTP client sends from (step 5), so the next server's Received: line names us.\nlisten: the listen address when it is a specific one (never a loopback address to another host);\nany: whatever the system picks; or an IP address of this machine.",
    },
    Setting {
        key: "queue_retry_min",
        default: "300",
        help: "Seconds before the first retry of a deferred message; each retry waits twice as long.",
    },
    Setting {
        key: "queue_retry_max",
        default: "3600",
        help: "The longest wait, in seconds, between two delivery attempts.",
    },
    Setting {
        key: "queue_lifetime",
        default: "432000",
        help: "Seconds a message may stay in the queue before it is bounced (5 days).",
    },
    Setting {
        key: "max_outbound_per_destination",
        default: "2",
        help: "Connections the queue manager opens at once to one destination domain.",
    },
    Setting {
        key: "max_deliveries",
        default: "100",
        help: "Deliveries (step 5) the queue manager runs at once, each on a thread of its own; the rest\nof the queue waits its turn, so a full queue cannot take every thread. Postfix's\ndefault_process_limit is 100.",
    },
    Setting {
        key: "tls_cert",
        default: "",
        help: "PEM certificate chain for STARTTLS and the TLS ports. Empty: DIR/tls/cert.pem,\nself-signed for the hostname and localhost, made on first start.",
    },
    Setting {
        key: "tls_key",
        default: "",
        help: "PKCS#8 PEM private key (BEGIN PRIVATE KEY) for tls_cert. Empty: DIR/tls/key.pem (mode 0600).",
    },
    Setting {
        key: "relay_tls",
        default: "may",
        help: "STARTTLS when relaying to other servers (step 5), as Postfix's smtp_tls_security_level:\nnone: never; may: when offered, any certificate; encrypt: required, any certificate;\nverify: required, certificate checked against the system's trusted roots and the host name.",
    },
    Setting {
        key: "relay_timeout",
        default: "120",
        help: "Seconds the relay (step 5) waits for each reply of another server, from its first octet to its\nlast, and for a TLS handshake; sending a message may take ten times as long. A server that\ntrickles its replies cannot hold a delivery for longer (RFC 5321 section 4.5.3.2 suggests minutes).",
    },
    Setting {
        key: "relay_connection_cache_time_limit",
        default: "2",
        help: "Seconds an idle connection to another server is kept after a delivery (after RSET), for the\nnext message to the same host, port and TLS: no new TCP and TLS handshake. Postfix's\nsmtp_connection_cache_time_limit (2 s). 0: every message gets a connection of its own.",
    },
    Setting {
        key: "relay_connection_reuse_time_limit",
        default: "300",
        help: "Seconds after which a connection is no longer reused, however busy (Postfix's\nsmtp_connection_reuse_time_limit, 300 s).",
    },
    Setting {
        key: "relay_connection_reuse_count_limit",
        default: "0",
        help: "Messages one connection may carry before it is closed; 0: no limit but the time limit\n(Postfix's smtp_connection_reuse_count_limit, 0).",
    },
    Setting {
        key: "tls_ca_file",
        default: "",
        help: "With relay_tls = verify: a PEM file of extra trusted certificates, e.g. the classroom\nservers' self-signed DIR/tls/cert.pem files. Empty: the system's trusted roots only.",
    },
    Setting {
        key: "shutdown_grace",
        default: "10",
        help: "Seconds a message or mailbox transfer in flight may take to finish after SIGTERM or SIGINT.\nIdle sessions are told goodbye at once; after this the server exits anyway.",
    },
    Setting {
        key: "web",
        default: "yes",
        help: "yes: serve the journey board and the webmail over HTTP on port 80 + port_offset (10080).",
    },
    Setting {
        key: "web_listen",
        default: "",
        help: "Address the web listener binds to. Empty: loopback only (`listen` if it is a loopback address, else 127.0.0.1).\nAny other address is served over HTTPS only, with the server's TLS certificate.",
    },
    Setting {
        key: "dkim_sign",
        default: "no",
        help: "DKIM-sign (RFC 6376, rsa-sha256 and ed25519-sha256) mail from logged-in users and relay_networks\nthat goes to another server, before it is queued. Keys are made per local domain in DIR/dkim/ on start; `postlab dkim show\nDOMAIN` prints the DNS record to publish (lesson 15).",
    },
    Setting {
        key: "auth_check",
        default: "yes",
        help: "Check SPF (RFC 7208), DKIM and DMARC (RFC 7489) on mail from other servers (port 25, outside\nrelay_networks) and write the results into an Authentication-Results: header (RFC 8601).",
    },
    Setting {
        key: "dmarc_policy",
        default: "report",
        help: "What a failed DMARC check does. report: only the header and the transcript say so; enforce:\nthe sender domain's policy is followed (p=reject: 550 5.7.1; p=quarantine: into the Junk folder).",
    },
];

/// Everything `postlab serve` needs to know, after defaults, file and flags are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub hostname: String,
    pub domains: Vec<String>,
    pub listen: IpAddr,
    pub port_offset: u16,
    pub max_message_size: usize,
    /// Octets of DATA all sessions may hold at once (`src/budget.rs`).
    pub max_data_memory: usize,
    pub max_recipients: usize,
    pub max_errors: usize,
    pub idle_timeout: Duration,
    pub pop3_idle_timeout: Duration,
    pub imap_idle_timeout: Duration,
    /// Folders per account, 0 for no limit (IMAP CREATE: `NO [LIMIT]`).
    pub max_folders: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub busy_timeout: Duration,
    pub min_data_rate: u64,
    pub hints: Hints,
    pub recipient_delimiter: Option<char>,
    pub relay_networks: Vec<Network>,
    /// `relay_to`: relaying only to these domains and below; empty, to any.
    pub relay_to: Vec<String>,
    pub relay_port: u16,
    pub relay_source: RelaySource,
    /// `None`: the system resolver. See [`crate::dns::DnsResolver::from_config`].
    pub dns_server: Option<SocketAddr>,
    pub queue_retry_min: Duration,
    pub queue_retry_max: Duration,
    pub queue_lifetime: Duration,
    pub max_outbound_per_destination: usize,
    /// At most this many delivery threads at once (`src/mta/scheduler.rs`).
    pub max_deliveries: usize,
    /// `None`: the self-signed pair in `DIR/tls/` (see [`crate::tls::ServerTls::load`]).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub relay_tls: RelayTls,
    pub relay_timeout: Duration,
    pub tls_ca_file: Option<PathBuf>,
    /// The relay's connection cache (`src/mta/connection_cache.rs`); zero turns it off.
    pub relay_connection_cache_time_limit: Duration,
    pub relay_connection_reuse_time_limit: Duration,
    /// 0: no limit.
    pub relay_connection_reuse_count_limit: u32,
    pub shutdown_grace: Duration,
    /// The journey board and the webmail (`src/web/`).
    pub web: bool,
    /// `None`: loopback only. Set, and not loopback: HTTPS.
    pub web_listen: Option<IpAddr>,
    /// DKIM-sign mail from our own users (`src/mailauth/`).
    pub dkim_sign: bool,
    /// SPF, DKIM and DMARC on mail from other servers.
    pub auth_check: bool,
    /// Follow the sender domain's DMARC policy (`enforce`), or only report it.
    pub dmarc_enforce: bool,
}

/// An IP network such as `127.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Network {
    /// `ADDR/PREFIX`, or a bare address (a network of one).
    pub fn parse(text: &str) -> Option<Network> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (
                addr.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u8>().ok()?),
            ),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client may arrive as an IPv4-mapped IPv6 address (::ffff:127.0.0.1).
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        // IPv4 sits in the top 32 bits, so one mask rule serves both families.
        let mask = if self.prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix))
        };
        bits(self.addr) & mask == bits(ip) & mask
    }
}

/// A problem with a settings file, located for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Config {
    /// The embedded defaults. `hostname` and `domains` stay empty until [`Config::finish`],
    /// because their defaults depend on each other and on what the file and flags set.
    pub fn defaults() -> Config {
        Config {
            hostname: String::new(),
            domains: Vec::new(),
            listen: IpAddr::from([127, 0, 0, 1]),
            port_offset: 10000,
            max_message_size: 25 * 1024 * 1024,
            max_data_memory: 256 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
            idle_timeout: Duration::from_secs(300),
            pop3_idle_timeout: Duration::from_secs(600),
            imap_idle_timeout: Duration::from_secs(1800),
            max_folders: 1000,
            max_connections: 100,
            max_connections_per_ip: 20,
            busy_timeout: Duration::from_secs(10),
            min_data_rate: 500,
            hints: Hints::English,
            recipient_delimiter: Some('+'),
            relay_networks: ["127.0.0.0/8", "::1/128"]
                .into_iter()
                .filter_map(Network::parse)
                .collect(),
            relay_to: Vec::new(),
            relay_port: 25,
            relay_source: RelaySource::Listen,
            dns_server: None,
            queue_retry_min: Duration::from_secs(300),
            queue_retry_max: Duration::from_secs(3600),
            queue_lifetime: Duration::from_secs(432_000),
            max_outbound_per_destination: 2,
            max_deliveries: 100,
            tls_cert: None,
            tls_key: None,
            relay_tls: RelayTls::May,
            relay_timeout: Duration::from_secs(120),
            tls_ca_file: None,
            relay_connection_cache_time_limit: Duration::from_secs(2),
            relay_connection_reuse_time_limit: Duration::from_secs(300),
            relay_connection_reuse_count_limit: 0,
            shutdown_grace: Duration::from_secs(10),
            web: true,
            web_listen: None,
            dkim_sign: false,
            auth_check: true,
            dmarc_enforce: false,
        }
    }

    /// Applies `postlab.conf` text on top of the current values.
    pub fn apply_file(&mut self, text: &str) -> Result<(), ConfigError> {
        for (line, key, value) in parse_lines(text)? {
            self.set(&key, &value)
                .map_err(|message| ConfigError { line, message })?;
        }
        Ok(())
    }

    /// Sets one setting by its `postlab.conf` key. The error says what a good value looks like.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "hostname" => {
                if !value.is_empty() && !crate::address::is_domain(value, false) {
                    return Err(format!("hostname: '{value}' is not a domain name"));
                }
                self.hostname = value.to_ascii_lowercase();
            }
            "domains" => {
                self.domains = Vec::new();
                for domain in value.split([',', ' ']).filter(|d| !d.is_empty()) {
                    self.add_domain(domain)?;
                }
            }
            "listen" => {
                self.listen = value
                    .parse()
                    .map_err(|_| format!("listen: '{value}' is not an IP address"))?
            }
            "port_offset" => self.port_offset = number(key, value)?,
            "max_message_size" => self.max_message_size = number(key, value)?,
            "max_data_memory" => self.max_data_memory = number(key, value)?,
            "max_recipients" => self.max_recipients = number(key, value)?,
            "max_errors" => self.max_errors = number(key, value)?,
            "idle_timeout" => self.idle_timeout = Duration::from_secs(number(key, value)?),
            "pop3_idle_timeout" => {
                self.pop3_idle_timeout = Duration::from_secs(number(key, value)?)
            }
            "imap_idle_timeout" => {
                self.imap_idle_timeout = Duration::from_secs(number::<u64>(key, value)?.max(1))
            }
            "max_folders" => self.max_folders = number(key, value)?,
            "max_connections" => self.max_connections = number(key, value)?,
            "max_connections_per_ip" => self.max_connections_per_ip = number(key, value)?,
            "busy_timeout" => {
                self.busy_timeout = Duration::from_secs(number::<u64>(key, value)?.max(1))
            }
            "min_data_rate" => self.min_data_rate = number(key, value)?,
            "hints" => {
                self.hints = Hints::parse(value)
                    .ok_or_else(|| format!("{key}: say yes, no, en or id, not '{value}'"))?
            }
            "recipient_delimiter" => {
                let mut chars = value.chars();
                self.recipient_delimiter = match (chars.next(), chars.next()) {
                    (None, _) => None,
                    (Some(c), None) if c.is_ascii_punctuation() && c != '@' => Some(c),
                    _ => return Err(format!("{key}: give one punctuation character, or nothing")),
                }
            }
            "relay_networks" => {
                let mut networks = Vec::new();
                for item in value.split([',', ' ']).filter(|n| !n.is_empty()) {
                    networks.push(Network::parse(item).ok_or_else(|| {
                        format!("{key}: '{item}' is not a network like 192.0.2.0/24")
                    })?);
                }
                self.relay_networks = networks;
            }
            "relay_to" => {
                self.relay_to = value
                    .split([',', ' '])
                    .filter(|d| !d.is_empty())
                    .map(|d| d.trim_matches('.').to_ascii_lowercase())
                    .collect()
            }
            "relay_port" => self.relay_port = number(key, value)?,
            "relay_source" => {
                self.relay_source = match value {
                    "listen" => RelaySource::Listen,
                    "any" => RelaySource::Any,
                    _ => RelaySource::Address(value.parse().map_err(|_| {
                        format!("{key}: say listen, any or an IP address, not '{value}'")
                    })?),
                }
            }
            "dns_server" => self.dns_server = crate::dns::parse_server(value)?,
            "queue_retry_min" => self.queue_retry_min = Duration::from_secs(number(key, value)?),
            "queue_retry_max" => self.queue_retry_max = Duration::from_secs(number(key, value)?),
            "queue_lifetime" => self.queue_lifetime = Duration::from_secs(number(key, value)?),
            "max_outbound_per_destination" => {
                self.max_outbound_per_destination = number::<usize>(key, value)?.max(1)
            }
            "max_deliveries" => self.max_deliveries = number::<usize>(key, value)?.max(1),
            "tls_cert" => self.tls_cert = (!value.is_empty()).then(|| PathBuf::from(value)),
            "tls_key" => self.tls_key = (!value.is_empty()).then(|| PathBuf::from(value)),
            "tls_ca_file" => self.tls_ca_file = (!value.is_empty()).then(|| PathBuf::from(value)),
            "relay_timeout" => {
                self.relay_timeout = Duration::from_secs(number::<u64>(key, value)?.max(1))
            }
            "relay_tls" => {
                self.relay_tls = RelayTls::parse(value)
                    .ok_or_else(|| format!("{key}: say none, may, encrypt or verify"))?
            }
            "relay_connection_cache_time_limit" => {
                self.relay_connection_cache_time_limit = Duration::from_secs(number(key, value)?)
            }
            "relay_connection_reuse_time_limit" => {
                self.relay_connection_reuse_time_limit = Duration::from_secs(number(key, value)?)
            }
            "relay_connection_reuse_count_limit" => {
                self.relay_connection_reuse_count_limit = number(key, value)?
            }
            "shutdown_grace" => self.shutdown_grace = Duration::from_secs(number(key, value)?),
            "web" => self.web = yes_no(key, value)?,
            "web_listen" if value.is_empty() => self.web_listen = None,
            "web_listen" => {
                self.web_listen = Some(
                    value
                        .parse()
                        .map_err(|_| format!("{key}: '{value}' is not an IP address"))?,
                )
            }
            "dkim_sign" => self.dkim_sign = yes_no(key, value)?,
            "auth_check" => self.auth_check = yes_no(key, value)?,
            "dmarc_policy" => {
                self.dmarc_enforce = match value {
                    "report" => false,
                    "enforce" => true,
                    _ => return Err(format!("{key}: say report or enforce")),
                }
            }
            _ => return Err(format!("unknown setting '{key}'")),
        }
        Ok(())
    }

    /// Adds a local domain (from `--domain` or the `domains` setting).
    pub fn add_domain(&mut self, domain: &str) -> Result<(), String> {
        if !crate::address::is_domain(domain, false) {
            return Err(format!("domains: '{domain}' is not a domain name"));
        }
        let domain = domain.to_ascii_lowercase();
        if !self.domains.contains(&domain) {
            self.domains.push(domain);
        }
        Ok(())
    }

    /// Fills the settings whose default depends on the machine; call once everything is applied.
    pub fn finish(mut self) -> Config {
        if self.hostname.is_empty() {
            self.hostname = machine_hostname();
        }
        if self.domains.is_empty() {
            self.domains = vec!["localhost".to_string()];
            if self.hostname != "localhost" {
                self.domains.push(self.hostname.clone());
            }
        }
        self
    }

    /// May a client at `ip` send to other domains without logging in?
    pub fn is_trusted_network(&self, ip: IpAddr) -> bool {
        self.relay_networks.iter().any(|n| n.contains(ip))
    }

    /// May mail be relayed to `domain` (`relay_to`)? An address literal (`[192.0.2.1]`) is
    /// under no domain, so a restricted server never relays to one.
    pub fn may_relay_to(&self, domain: &str) -> bool {
        let domain = domain.to_ascii_lowercase();
        self.relay_to.is_empty()
            || self.relay_to.iter().any(|top| {
                domain == *top
                    || domain
                        .strip_suffix(top.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            })
    }

    /// Is `domain` one of ours? Domains compare without regard to case (RFC 5321 §2.4).
    /// The address to send from when relaying to `to` (`relay_source`), or `None` for the
    /// system's choice. A loopback address cannot reach another host, and an IPv4 address
    /// cannot send to an IPv6 one: then the system chooses.
    pub fn relay_source_for(&self, to: IpAddr) -> Option<IpAddr> {
        let source = match self.relay_source {
            RelaySource::Any => return None,
            RelaySource::Address(ip) => ip,
            RelaySource::Listen if self.listen.is_unspecified() => return None,
            RelaySource::Listen => self.listen,
        };
        let fits = source.is_ipv4() == to.is_ipv4() && (!source.is_loopback() || to.is_loopback());
        fits.then_some(source)
    }

    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{key}: '{value}' is not a whole number in range"))
}

fn yes_no(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!("{key}: say yes or no, not '{value}'")),
    }
}

/// Splits `postlab.conf` text into (line number, key, value), joining continuation lines.
pub fn parse_lines(text: &str) -> Result<Vec<(usize, String, String)>, ConfigError> {
    let mut out: Vec<(usize, String, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            // main.cf style: white space at the start continues the previous setting.
            match out.last_mut() {
                Some((_, _, value)) => {
                    value.push(' ');
                    value.push_str(raw.trim());
                    continue;
                }
                None => {
                    return Err(ConfigError {
                        line,
                        message: "a continuation line with no setting before it".into(),
                    })
                }
            }
        }
        let Some((key, value)) = raw.split_once('=') else {
            return Err(ConfigError {
                line,
                message: format!("expected 'key = value', found '{}'", raw.trim()),
            });
        };
        out.push((line, key.trim().to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// The text of a fresh `postlab.conf`: every setting with its meaning and default.
pub fn default_file_text() -> String {
    let mut text = String::from(
        "# postlab.conf: settings for `postlab serve`.\n\
         # One `key = value` per line; a line starting with white space continues the one before.\n\
         # Command-line flags (--hostname, --domain, --listen, --port-offset) override this file.\n\
         # After a change, restart the server.\n",
    );
    for setting in SETTINGS {
        text.push('\n');
        for help in setting.help.lines() {
            let _ = writeln!(text, "# {help}");
        }
        if setting.default.is_empty() {
            let _ = writeln!(text, "#{} =", setting.key);
        } else {
            let _ = writeln!(text, "{} = {}", setting.key, setting.default);
        }
    }
    text
}

/// Reads the machine's name the way `hostname` does on Linux, falling back to `localhost`.
pub fn machine_hostname() -> String {
    let from_file = |p: &str| std::fs::read_to_string(Path::new(p)).ok();
    from_file("/proc/sys/kernel/hostname")
        .or_else(|| from_file("/etc/hostname"))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| crate::address::is_domain(s, false))
        .unwrap_or_else(|| "localhost".to_string())
}

/// Which address our relay client (step 5) sends from: the `relay_source` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySource {
    /// The listen address, when it is a specific one.
    Listen,
    /// Whatever the system's routing picks.
    Any,
    Address(IpAddr),
}

/// When our relay client (step 5) uses STARTTLS: the `relay_tls` setting, named as Postfix's
/// `smtp_tls_security_level` names the same choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTls {
    /// Never: plaintext only.
    None,
    /// When the server offers STARTTLS; any certificate is accepted (RFC 7435 opportunistic
    /// security: encryption against eavesdroppers, not against an active attacker).
    May,
    /// Always; a server without STARTTLS gets the message later, not in the clear.
    Encrypt,
    /// Always, and the certificate must chain to a trusted root and name the host.
    Verify,
}

impl RelayTls {
    pub fn parse(text: &str) -> Option<RelayTls> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Some(RelayTls::None),
            "may" => Some(RelayTls::May),
            "encrypt" => Some(RelayTls::Encrypt),
            "verify" => Some(RelayTls::Verify),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_source_is_the_listen_address_where_it_can_reach() {
        let mut config = Config::defaults();
        let lab2: IpAddr = "127.0.0.12".parse().unwrap();
        let outside: IpAddr = "192.0.2.25".parse().unwrap();
        assert_eq!(
            config.relay_source_for(lab2),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            config.relay_source_for(outside),
            None,
            "loopback cannot reach out"
        );
        config.set("listen", "198.51.100.11").unwrap();
        assert_eq!(config.relay_source_for(outside), Some(config.listen));
        assert_eq!(config.relay_source_for("::1".parse().unwrap()), None);
        config.set("relay_source", "any").unwrap();
        assert_eq!(config.relay_source_for(outside), None);
        config.set("listen", "0.0.0.0").unwrap();
        config.set("relay_source", "listen").unwrap();
        assert_eq!(config.relay_source_for(outside), None);
        assert!(config.set("relay_source", "somewhere").is_err());
    }

    #[test]
    fn default_file_parses_back_to_the_defaults() {
        let mut config = Config::defaults();
        config.apply_file(&default_file_text()).unwrap();
        assert_eq!(config, Config::defaults());
    }

    #[test]
    fn every_setting_in_the_table_is_settable() {
        for setting in SETTINGS {
            let mut config = Config::defaults();
            let value = match setting.key {
                "dns_server" => "127.0.0.1:10053",
                "web_listen" => "127.0.0.1",
                _ if setting.default.is_empty() => "example.org",
                _ => setting.default,
            };
            assert_eq!(config.set(setting.key, value), Ok(()), "{}", setting.key);
        }
    }

    #[test]
    fn file_overrides_and_continuations() {
        let mut config = Config::defaults();
        config
            .apply_file("# comment\nhostname = mx.example\ndomains = example.org,\n  example.net\nhints = no\n")
            .unwrap();
        assert_eq!(config.hostname, "mx.example");
        assert_eq!(config.domains, vec!["example.org", "example.net"]);
        assert_eq!(config.hints, Hints::Off);
        for (value, hints) in [
            ("yes", Hints::English),
            ("en", Hints::English),
            ("id", Hints::Indonesian),
        ] {
            config.set("hints", value).unwrap();
            assert_eq!(config.hints, hints, "{value}");
        }
        assert!(config.set("hints", "fr").is_err());
    }

    #[test]
    fn networks_contain_what_they_should() {
        let net = Network::parse("192.0.2.0/24").unwrap();
        assert!(net.contains("192.0.2.77".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let lo = Network::parse("127.0.0.0/8").unwrap();
        assert!(lo.contains("127.9.9.9".parse().unwrap()));
        assert!(lo.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(Network::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_none());
        let mut config = Config::defaults();
        assert!(config.is_trusted_network("127.0.0.1".parse().unwrap()));
        config.set("relay_networks", "").unwrap();
        assert!(!config.is_trusted_network("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_line() {
        let mut config = Config::defaults();
        let err = config
            .apply_file("hints = yes\nmax_errors = lots\n")
            .unwrap_err();
        assert_eq!(err.line, 2);
        let err = config.apply_file("colour = blue\n").unwrap_err();
        assert!(err.message.contains("unknown setting"));
        let err = config.apply_file("no equals sign\n").unwrap_err();
        assert_eq!(err.line, 1);
    }
}
