//! The webmail (`/mail`): log in, folders, read, write (with an attachment), reply, delete,
//! move. It is a mail client like any other: it reads over IMAP and sends over submission,
//! both on loopback, so its sessions are in the transcripts as steps 7 and 1.
//!
//! Showing mail safely: a text part is shown as text (escaped by the template). An HTML part
//! is cleaned by ammonia (an allow-list: no `<script>`, no `on…=` handlers, no `javascript:`
//! links, no `style`), then served on its own URL under a policy that forbids every script and
//! every remote load (`default-src 'none'`, CSP `sandbox`), inside an `<iframe sandbox="">`
//! (no `allow-scripts`, no `allow-same-origin`). Remote images are not fetched: only `data:`
//! images may load, so a tracking pixel learns nothing.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use mail_parser::{MessageParser, MimeHeaders};

use super::board::render;
use super::http::{parse_form, parse_multipart, Request, Response};
use super::imap::{self, folder_name, Summary};
use super::session::{self, Session};
use super::Web;
use crate::ids::SessionId;
use crate::mua::compose::{compose, content_type_for, Draft};
use crate::mua::submit::{submit, Submission, Tls};
use crate::transcript::{Step, Transcript};

pub const SCRIPT: &str = include_str!("static/mail.js");

/// The policy for a cleaned HTML message: nothing runs, nothing loads from elsewhere, and only
/// our own message page may frame it.
const MESSAGE_POLICY: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
     frame-ancestors 'self'; form-action 'none'; sandbox";

#[derive(Template)]
#[template(path = "mail_login.html")]
struct LoginPage<'a> {
    user: &'a str,
    csrf: &'a str,
    error: &'a str,
    notice: &'a str,
}

#[derive(Template)]
#[template(path = "mail_folder.html")]
struct FolderPage<'a> {
    user: &'a str,
    csrf: &'a str,
    error: &'a str,
    notice: &'a str,
    folders: Vec<String>,
    folder: &'a str,
    messages: Vec<Summary>,
}

#[derive(Template)]
#[template(path = "mail_message.html")]
struct MessagePage<'a> {
    user: &'a str,
    csrf: &'a str,
    error: &'a str,
    notice: &'a str,
    folders: Vec<String>,
    folder: &'a str,
    uid: u32,
    from: String,
    to: String,
    subject: String,
    date: String,
    journey: String,
    attachments: Vec<String>,
    html: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "mail_compose.html")]
struct ComposePage<'a> {
    user: &'a str,
    csrf: &'a str,
    error: &'a str,
    notice: &'a str,
    to: String,
    subject: String,
    body: String,
}

/// Everything under `/mail`.
pub fn route(web: &Web, request: &Request) -> Response {
    let path = request.path.as_str();
    if (request.method.as_str(), path) == ("POST", "/mail/login") {
        return log_in(web, request);
    }
    let Some(session) = web.sessions.get(request) else {
        return match request.method.as_str() {
            "GET" if path == "/mail" => login_page(web, ""),
            _ => Response::redirect("/mail"),
        };
    };
    if request.method == "POST" {
        // Every form carries the session's CSRF token; a post without it did not come from
        // a page we served (a multipart form carries it as one of its parts).
        let fields = form_fields(request);
        let token = field(&fields, "csrf").unwrap_or_default();
        if !session::same(&token, &session.csrf) {
            return Response::error(
                403,
                "this form is stale or did not come from postlab: reload the page",
            );
        }
        return match path {
            "/mail/logout" => {
                web.sessions.remove(request);
                Response::redirect("/mail").with(
                    "Set-Cookie",
                    session::cookie(session::COOKIE, "", web.https, Some(0)),
                )
            }
            "/mail/send" => send(web, &session, &fields),
            "/mail/delete" | "/mail/move" => change(web, &session, path, &fields),
            _ => Response::error(404, "no such form"),
        };
    }
    match path {
        "/mail" => folder_page(web, &session, request),
        "/mail/read" => message_page(web, &session, request),
        "/mail/body" => message_body(web, &session, request),
        "/mail/compose" => compose_page(web, &session, request),
        _ => Response::error(404, "no such page"),
    }
}

/// Form fields, from a urlencoded body or a multipart one: (name, file name, value).
fn form_fields(request: &Request) -> Vec<(String, Option<String>, Vec<u8>)> {
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type.starts_with("multipart/form-data") {
        parse_multipart(content_type, &request.body)
    } else {
        parse_form(&request.body)
            .into_iter()
            .map(|(n, v)| (n, None, v.into_bytes()))
            .collect()
    }
}

fn field(fields: &[(String, Option<String>, Vec<u8>)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, _, v)| String::from_utf8_lossy(v).into_owned())
}

fn login_page(web: &Web, error: &str) -> Response {
    let csrf = session::token();
    render(&LoginPage {
        user: "",
        csrf: &csrf,
        error,
        notice: "",
    })
    .with(
        "Set-Cookie",
        session::cookie(session::LOGIN_COOKIE, &csrf, web.https, None),
    )
}

/// `POST /mail/login`: double-submit CSRF check, then the password through the shared throttle.
fn log_in(web: &Web, request: &Request) -> Response {
    let form = parse_form(&request.body);
    let get = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let cookie = request.cookie(session::LOGIN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !session::same(cookie, get("csrf")) {
        return Response::error(
            403,
            "this form is stale or did not come from postlab: reload the page",
        );
    }
    match web
        .sessions
        .log_in(&web.shared, request.peer.ip(), get("user"), get("password"))
    {
        Some(id) => Response::redirect("/mail").with(
            "Set-Cookie",
            session::cookie(session::COOKIE, &id, web.https, None),
        ),
        None => login_page(web, "Wrong account name or password."),
    }
}

/// Where the webmail finds the server's own IMAP and submission listeners.
fn loopback(web: &Web, service: &str) -> String {
    let ip = match web.shared.config.listen {
        ip if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        ip => ip,
    };
    let port = web.shared.port_of(service).unwrap_or(0);
    SocketAddr::new(ip, port).to_string()
}

/// Runs `work` on the session's IMAP connection, logging in again once if it broke.
fn with_imap<T>(
    web: &Web,
    session: &Session,
    work: impl Fn(&mut crate::mua::imap::Imap) -> Result<T, String>,
) -> Result<T, String> {
    let mut slot = session.imap.lock().unwrap_or_else(|e| e.into_inner());
    for attempt in 0..2 {
        if slot.is_none() {
            *slot = Some(imap::connect(
                loopback(web, "imap"),
                &session.user,
                &session.password,
            )?);
        }
        let Some(conn) = slot.as_mut() else { break };
        match work(conn) {
            Ok(value) => return Ok(value),
            Err(e) if e.starts_with("connection failed") && attempt == 0 => *slot = None,
            Err(e) => return Err(e),
        }
    }
    Err("the IMAP server cannot be reached".into())
}

/// A folder parameter, checked; INBOX when there is none.
fn folder_param(request: &Request) -> Option<String> {
    folder_name(request.param("folder").unwrap_or("INBOX")).map(str::to_string)
}

fn uid_param(value: Option<&str>) -> Option<u32> {
    value?.parse().ok()
}

fn folder_page(web: &Web, session: &Session, request: &Request) -> Response {
    let Some(folder) = folder_param(request) else {
        return Response::error(400, "not a folder name");
    };
    let notice = request.param("notice").unwrap_or_default();
    let listed = with_imap(web, session, |conn| {
        Ok((imap::folders(conn)?, imap::list(conn, &folder)?))
    });
    let (folders, messages, error) = match listed {
        Ok((folders, messages)) => (folders, messages, String::new()),
        Err(e) => (Vec::new(), Vec::new(), e),
    };
    render(&FolderPage {
        user: &session.user,
        csrf: &session.csrf,
        error: &error,
        notice: match notice {
            "sent" => "Sent.",
            "deleted" => "Deleted.",
            "moved" => "Moved.",
            _ => "",
        },
        folders,
        folder: &folder,
        messages,
    })
}

/// The folder and uid of a read, body or reply request, checked.
fn message_params(request: &Request) -> Option<(String, u32)> {
    Some((folder_param(request)?, uid_param(request.param("uid"))?))
}

fn message_page(web: &Web, session: &Session, request: &Request) -> Response {
    let Some((folder, uid)) = message_params(request) else {
        return Response::error(400, "not a folder and message");
    };
    let fetched = with_imap(web, session, |conn| {
        Ok((imap::folders(conn)?, imap::read(conn, &folder, uid)?))
    });
    let (folders, raw) = match fetched {
        Ok(found) => found,
        Err(e) => return Response::error(404, &e),
    };
    let journey = crate::mailbox::maildrop::queue_id(&raw);
    if let Some(id) = &journey {
        // The webmail's own transcript: step 7 of this message's journey, for the board.
        let mut transcript =
            Transcript::create(&web.shared.data.transcripts(), &SessionId::new(), "web");
        transcript.event(
            Step::Access,
            id,
            &format!("read by {} in the webmail", session.user),
        );
    }
    let Some(message) = MessageParser::default().parse(&raw) else {
        return Response::error(502, "the message cannot be read");
    };
    let addresses = |a: Option<&mail_parser::Address>| {
        a.map(|a| {
            a.iter()
                .filter_map(|a| a.address())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
    };
    render(&MessagePage {
        user: &session.user,
        csrf: &session.csrf,
        error: "",
        notice: "",
        folders,
        folder: &folder,
        uid,
        from: addresses(message.from()),
        to: addresses(message.to()),
        subject: message.subject().unwrap_or_default().to_string(),
        date: message.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        journey: journey
            .map(|id| id.as_str().to_string())
            .unwrap_or_default(),
        attachments: message
            .attachments()
            .map(|a| a.attachment_name().unwrap_or("(unnamed)").to_string())
            .collect(),
        html: message.html_body_count() > 0
            && message.html_part(0).is_some_and(|p| p.is_text_html()),
        text: message.body_text(0).unwrap_or_default().into_owned(),
    })
}

/// `GET /mail/body`: the HTML part, cleaned, for the sandboxed frame.
fn message_body(web: &Web, session: &Session, request: &Request) -> Response {
    let Some((folder, uid)) = message_params(request) else {
        return Response::error(400, "not a folder and message");
    };
    let raw = match with_imap(web, session, |conn| imap::read(conn, &folder, uid)) {
        Ok(raw) => raw,
        Err(e) => return Response::error(404, &e),
    };
    let html = MessageParser::default()
        .parse(&raw)
        .and_then(|m| m.body_html(0).map(|h| h.into_owned()))
        .unwrap_or_default();
    let mut response = Response::html(clean(&html));
    response.policy = MESSAGE_POLICY;
    response
}

/// ammonia's allow-list, with every URL scheme but http, https and mailto refused (so
/// `javascript:` links lose their href) and links made `noopener noreferrer`.
pub fn clean(html: &str) -> String {
    ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into())
        .clean(html)
        .to_string()
}

fn compose_page(web: &Web, session: &Session, request: &Request) -> Response {
    let mut page = ComposePage {
        user: &session.user,
        csrf: &session.csrf,
        error: "",
        notice: "",
        to: String::new(),
        subject: String::new(),
        body: String::new(),
    };
    if let Some((folder, uid)) = message_params(request) {
        let raw = with_imap(web, session, |conn| imap::read(conn, &folder, uid));
        if let Some(original) = raw
            .ok()
            .as_deref()
            .and_then(|r| MessageParser::default().parse(r))
        {
            let sender = original.reply_to().or(original.from());
            page.to = sender
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string();
            let subject = original.subject().unwrap_or_default();
            page.subject = if subject.to_ascii_lowercase().starts_with("re:") {
                subject.to_string()
            } else {
                format!("Re: {subject}")
            };
            // The original, quoted (RFC 3676 §4.5 style: "> " before each line).
            page.body = original
                .body_text(0)
                .unwrap_or_default()
                .lines()
                .map(|l| format!("> {l}\n"))
                .collect::<String>();
            page.body.insert(0, '\n');
        }
    }
    render(&page)
}

/// `POST /mail/send`: compose the message and submit it over loopback submission with AUTH.
fn send(web: &Web, session: &Session, fields: &[(String, Option<String>, Vec<u8>)]) -> Response {
    let domain = web
        .shared
        .config
        .domains
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let to: Vec<String> = field(fields, "to")
        .unwrap_or_default()
        .split([',', ' ', ';'])
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let mut draft = Draft {
        from: format!("{}@{domain}", session.user),
        to: to.clone(),
        subject: field(fields, "subject").unwrap_or_default(),
        body: field(fields, "body")
            .unwrap_or_default()
            .replace("\r\n", "\n"),
        ..Draft::default()
    };
    for (name, file, bytes) in fields {
        if let (true, Some(file)) = (name == "attachment", file) {
            if !file.is_empty() {
                // Only the last path piece of the browser's file name is kept.
                let file = file
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or("file")
                    .to_string();
                let kind = content_type_for(&file).to_string();
                draft.attachments.push((file, kind, bytes.clone()));
            }
        }
    }
    let error = |text: String| {
        render(&ComposePage {
            user: &session.user,
            csrf: &session.csrf,
            error: &text,
            notice: "",
            to: to.join(", "),
            subject: draft.subject.clone(),
            body: draft.body.clone(),
        })
    };
    if to.is_empty() {
        return error("Give at least one recipient.".into());
    }
    let message = match compose(&draft) {
        Ok(message) => message,
        Err(e) => return error(format!("cannot compose: {e}")),
    };
    let how = Submission {
        server: loopback(web, "submission"),
        auth: Some((session.user.clone(), session.password.clone())),
        tls: Tls::Off,
        verify: false,
        verbose: false,
    };
    match submit(&how, &draft.from, &to, &message) {
        Ok(_) => Response::redirect("/mail?notice=sent"),
        Err(e) => error(e),
    }
}

/// `POST /mail/delete` and `/mail/move`.
fn change(
    web: &Web,
    session: &Session,
    path: &str,
    fields: &[(String, Option<String>, Vec<u8>)],
) -> Response {
    let folder = field(fields, "folder").unwrap_or_default();
    let Some(folder) = folder_name(&folder) else {
        return Response::error(400, "not a folder name");
    };
    let Some(uid) = uid_param(field(fields, "uid").as_deref()) else {
        return Response::error(400, "not a message number");
    };
    let done = if path == "/mail/delete" {
        with_imap(web, session, |conn| imap::delete(conn, folder, uid)).map(|_| "deleted")
    } else {
        let to = field(fields, "to").unwrap_or_default();
        let Some(to) = folder_name(&to) else {
            return Response::error(400, "not a folder name");
        };
        with_imap(web, session, |conn| imap::move_to(conn, folder, uid, to)).map(|_| "moved")
    };
    match done {
        Ok(notice) => Response::redirect(&format!("/mail?notice={notice}")),
        Err(e) => Response::error(502, &e),
    }
}
