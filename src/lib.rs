//! postlab: a mail server written to be read, watched and used in a classroom.
//!
//! The modules follow the course's flowchart (see README.md and DESIGN.md):
//!
//! | step | module |
//! |---|---|
//! | 1 MUA: a client connects | [`serve`] (the accept), [`smtp::server`] |
//! | 2 MTA: the SMTP dialogue | [`smtp`] |
//! | 3 MDA: local or remote? | [`mta::route`] |
//! | 4 DNS: who takes mail for a remote domain? | [`dns`] |
//! | 6 MAILBOX: stored | [`mda`], [`mailbox`] |
//! | 7 ACCESS: read over POP3 | [`pop3`], [`mailbox::maildrop`] |
//!
//! Around them: [`config`] and [`datadir`] (settings and files), [`accounts`] (users, passwords,
//! aliases), [`transcript`] (the labelled log of every session) and [`trace`] (a message's
//! journey read back from it).

#![forbid(unsafe_code)]

pub mod accounts;
pub mod address;
pub mod admin;
pub mod budget;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod daemon;
pub mod datadir;
pub mod dns;
pub mod faults;
pub mod hints;
pub mod ids;
pub mod imap;
pub mod lab;
pub mod lesson;
pub mod mailauth;
pub mod mailbox;
pub mod mda;
pub mod mta;
pub mod mua;
pub mod net;
pub mod pace;
pub mod pop3;
pub mod redact;
pub mod serve;
pub mod sessions;
pub mod smtp;
pub mod tls;
pub mod trace;
pub mod transcript;
pub mod watch;
pub mod web;
