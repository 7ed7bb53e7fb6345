//! `postlab dns`: the classroom's own DNS server, answering from standard zone files
//! ([`Zones`], one file per zone, as BIND and NSD read them).
//!
//! A class has no real domains, so the teacher runs this next to `postlab serve`: it answers
//! the MX, A and AAAA questions of step 4 (and any other type the zone files hold: TXT, CNAME,
//! SOA, NS...) for names such as `b.test`, over real DNS
//! (RFC 1035 section 4.2: UDP, and TCP for answers too long for a datagram). `dig`, the system
//! resolver and postlab's own resolver (`dns_server = 127.0.0.1:10053`) all ask it as they would
//! ask any DNS server, and it prints each question and its answer.
//!
//! It is authoritative (the AA bit, RFC 1035 section 4.1.1) for its zones: it knows the whole
//! truth about them, so a name it does not have is NXDOMAIN, with the zone's SOA record in the
//! authority section so resolvers may cache the "no" (RFC 2308 section 3). It is not a
//! recursive resolver: questions about other names are REFUSED.
//!
//! The socket work (reading datagrams, TCP framing, writing replies) is hickory-server's; this
//! file only decides answers, from [`Zones::answer`]. hickory-server is async, so this command
//! runs its own small tokio runtime. That is the `postlab dns` process, not the mail server.
//!
//! What can go wrong: the port is taken (the command fails at start, saying so), or a question
//! the lab does not serve (a type the zone has no records of gets an empty answer; an update
//! or a query with several questions gets NOTIMP or FORMERR).

use std::iter;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo, Server};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::zone::{shown_name, Answer, Zone, Zones};

/// How long a TCP client may stay silent before the server closes its connection.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Runs the server until the process is stopped. Prints `listening on ADDR (UDP and TCP)`
/// first, with the real port when `listen` asked for port 0.
pub fn run(zones: Zones, listen: SocketAddr) -> Result<(), String> {
    serve(Arc::new(RwLock::new(zones)), listen)
}

/// [`run`] with zones another thread may replace while it serves (`postlab lab class host`
/// writes a new zone when a student joins): each question is answered from the zones of the
/// moment.
pub fn serve(zones: Arc<RwLock<Zones>>, listen: SocketAddr) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the DNS server's runtime: {e}"))?;
    runtime.block_on(async move {
        let (udp, tcp) = bind(listen).await?;
        let bound = udp
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let names = zones.read().unwrap_or_else(|e| e.into_inner()).names();
        let mut server = Server::new(LabHandler { zones });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 64);
        // Tests and lessons read this line for the port; print it before the first answer.
        println!("postlab dns: authoritative for {names}; listening on {bound} (UDP and TCP)");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        server
            .block_until_done()
            .await
            .map_err(|e| format!("the DNS server stopped: {e}"))
    })
}

/// Binds UDP and TCP on the same address and port. With port 0 the system picks UDP's port,
/// and TCP takes the same number; if that one is taken for TCP, try again with another.
async fn bind(
    listen: SocketAddr,
) -> Result<(tokio::net::UdpSocket, tokio::net::TcpListener), String> {
    let tries = if listen.port() == 0 { 10 } else { 1 };
    let mut last = String::new();
    for _ in 0..tries {
        let udp = tokio::net::UdpSocket::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen} (UDP): {e}"))?;
        let port = udp
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?
            .port();
        match tokio::net::TcpListener::bind(SocketAddr::new(listen.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = format!("cannot listen on {}:{port} (TCP): {e}", listen.ip()),
        }
    }
    Err(last)
}

/// Answers every request from the zone, and prints it.
struct LabHandler {
    zones: Arc<RwLock<Zones>>,
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let reply = self.reply(request);
        println!(
            "{} {} {} {}",
            crate::clock::now().stamp(),
            request.protocol().to_string().to_uppercase(),
            request.src(),
            reply.shown
        );

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.code;
        metadata.authoritative = reply.authoritative;
        // RFC 6891 section 6.1.1: answer EDNS with EDNS, so the client may use its larger size.
        let mut edns = Edns::new();
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(asked) = &request.edns {
            edns.set_max_payload(asked.max_payload().max(512));
            edns.set_version(0);
            builder.edns(&edns);
        }
        let response = builder.build(
            metadata,
            reply.answers.iter(),
            iter::empty(),
            reply.soa.iter(),
            iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                log::warn!("postlab dns: cannot answer {}: {e}", request.src());
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(hickory_server::proto::op::Header {
                    metadata,
                    counts: Default::default(),
                })
            }
        }
    }
}

/// What to send back, and the line that describes it.
struct Reply {
    code: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    /// The zone's SOA, for the authority section of a negative answer.
    soa: Option<Record>,
    /// `MX? b.test → 10 mx.b.test, 20 backup.b.test` for the server's output.
    shown: String,
}

impl LabHandler {
    fn reply(&self, request: &Request) -> Reply {
        let failed = |code: ResponseCode, shown: String| Reply {
            code,
            authoritative: false,
            answers: Vec::new(),
            soa: None,
            shown,
        };
        if request.metadata.op_code != OpCode::Query {
            return failed(
                ResponseCode::NotImp,
                format!(
                    "{:?}: only queries are served → NOTIMP",
                    request.metadata.op_code
                ),
            );
        }
        let Ok(info) = request.request_info() else {
            return failed(
                ResponseCode::FormErr,
                "a request without exactly one question → FORMERR".into(),
            );
        };
        let rtype = info.query.query_type();
        let name = Name::from(info.query.name().clone());
        let question = format!("{rtype}? {}", shown_name(&name));
        // The zones hold internet (IN) records only; other classes (CH, HS) are not ours.
        if info.query.query_class() != DNSClass::IN {
            return failed(
                ResponseCode::Refused,
                format!("{question} in class {} → REFUSED", info.query.query_class()),
            );
        }

        let zones = self.zones.read().unwrap_or_else(|e| e.into_inner());
        match zones.answer(&name, rtype) {
            Answer::Refused => failed(
                ResponseCode::Refused,
                format!("{question} → REFUSED (not in this server's zones)"),
            ),
            Answer::NxDomain { zone } => Reply {
                code: ResponseCode::NXDomain,
                authoritative: true,
                answers: Vec::new(),
                soa: Some(negative_soa(zone)),
                shown: format!("{question} → NXDOMAIN"),
            },
            Answer::Records(found) => {
                let shown = if found.is_empty() {
                    format!("{question} → no {rtype} records (NODATA)")
                } else {
                    // `MX 10 mx.b.test.`, as a zone file writes it; the owner's name only
                    // when a CNAME led elsewhere.
                    let values: Vec<String> = found
                        .iter()
                        .map(|r| {
                            let value = format!("{} {}", r.record_type(), r.data);
                            if r.name == name {
                                value
                            } else {
                                format!("{} {value}", shown_name(&r.name))
                            }
                        })
                        .collect();
                    format!("{question} → {}", values.join(", "))
                };
                // RFC 2308 section 2.2: a NODATA answer carries the SOA, like NXDOMAIN.
                let soa = if found.is_empty() {
                    zones.zone_of(&name).map(negative_soa)
                } else {
                    None
                };
                Reply {
                    code: ResponseCode::NoError,
                    authoritative: true,
                    answers: found.into_iter().cloned().collect(),
                    soa,
                    shown,
                }
            }
        }
    }
}

/// The zone's SOA record for the authority section of a negative answer. RFC 2308 section 3:
/// its TTL is the smaller of its own and its MINIMUM field, how long a "no" may be kept.
fn negative_soa(zone: &Zone) -> Record {
    let mut soa = zone.soa.clone();
    if let RData::SOA(fields) = &soa.data {
        soa.ttl = soa.ttl.min(fields.minimum);
    }
    soa
}
