//! The MTA's tools: `postlab trace`, `postlab queue`, `postlab dns`.

use super::*;

// ---- postlab trace ---------------------------------------------------------------------------

pub(super) fn trace(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optmulti("", "data", "data directory (default $POSTLAB_DATA or ./var); repeat to follow a message across servers", "DIR");
    opts.optopt(
        "",
        "svg",
        "also draw the journey as an SVG picture into FILE",
        "FILE",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab trace ID [--data DIR]... [--svg FILE]\n\nThe journey of one message (by its queue id) through the flowchart.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let [id] = m.free.as_slice() else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    let Some(id) = QueueId::parse(&id.to_ascii_uppercase()) else {
        return fail(format!("'{id}' is not a queue id (it looks like 19A3C4F2B8D10: see the 250 reply to MAIL FROM or DATA)"));
    };
    let dirs = m.opt_strs("data");
    let servers: Vec<(String, std::path::PathBuf)> = if dirs.len() > 1 {
        dirs.iter()
            .map(|d| {
                let data = DataDir::new(d);
                let label = data
                    .root()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| d.clone());
                (label, data.transcripts())
            })
            .collect()
    } else {
        vec![(
            String::new(),
            DataDir::from_option(dirs.into_iter().next()).transcripts(),
        )]
    };
    let journey = match trace::journey_across(&servers, &id) {
        Ok(journey) if journey.stops.is_empty() => {
            return fail(format!("no transcript mentions {id}"))
        }
        Ok(journey) => journey,
        Err(e) => return fail(e),
    };
    let outcome = trace::outcome::outcome(&journey);
    print!("{}", trace::render(&journey, &outcome));
    if let Some(path) = m.opt_str("svg") {
        if let Err(e) = std::fs::write(&path, trace::svg::render(&journey, &outcome)) {
            return fail(format!("cannot write {path}: {e}"));
        }
        println!("\npicture written to {path}");
    }
    0
}

// ---- postlab queue ---------------------------------------------------------------------------

pub(super) fn queue(args: &[String]) -> i32 {
    use crate::mta::queue::{unix_now, Folder, Queue, Status};
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab queue list | show ID | flush | hold ID | release ID | delete ID [--data DIR]\n\n\
                 The outbound queue: mail waiting for another server (flowchart steps 4 and 5).\n\
                 A running server notices every change within a second.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let queue = match Queue::open(&data.root().join("queue")) {
        Ok(queue) => queue,
        Err(e) => return fail(format!("cannot open the queue: {e}")),
    };
    let id = |text: &str| {
        QueueId::parse(&text.to_ascii_uppercase())
            .ok_or_else(|| format!("'{text}' is not a queue id"))
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result: Result<(), String> = match words.as_slice() {
        ["list"] => (|| {
            let now = unix_now();
            let mut count = 0;
            for folder in [Folder::Active, Folder::Hold] {
                for entry in queue.list(folder).map_err(|e| e.to_string())? {
                    count += 1;
                    let size = std::fs::metadata(queue.content_path(&entry.id, folder))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    let when = match folder {
                        Folder::Hold => "held".to_string(),
                        Folder::Corrupt => "corrupt".to_string(),
                        Folder::Active if entry.next_attempt <= now => "due now".to_string(),
                        Folder::Active => format!("next try in {} s", entry.next_attempt - now),
                    };
                    println!(
                        "{}  {size:>8} octets  {} attempt(s), {when}  from {}",
                        entry.id, entry.attempts, entry.from
                    );
                    for r in &entry.recipients {
                        let status = match &r.status {
                            Status::Pending(why) if why.is_empty() => "pending".to_string(),
                            Status::Pending(why) => format!("pending: {why}"),
                            Status::Delivered(reply) => format!("delivered: {reply}"),
                            Status::Failed { status, diagnostic } => {
                                format!("failed {status}: {diagnostic}")
                            }
                        };
                        println!("    <{}>  {status}", r.address);
                    }
                }
            }
            // Never out of sight: messages whose envelope could not be read (queue.rs).
            let corrupt = queue.corrupt().map_err(|e| e.to_string())?;
            for (id, why) in &corrupt {
                println!("{id}  CORRUPT: queue/corrupt/{id}.env cannot be read: {why}");
            }
            println!("{count} message(s) in the queue");
            if !corrupt.is_empty() {
                println!(
                    "{} message(s) set aside in queue/corrupt/: repair the .env and move both files back to queue/active/, or `postlab queue delete ID`",
                    corrupt.len()
                );
            }
            Ok(())
        })(),
        ["show", text] => (|| {
            let id = id(text)?;
            if let Some(raw) = queue.corrupt_text(&id) {
                println!("# {id} is in queue/corrupt/: its envelope cannot be read. As it is:");
                print!("{raw}");
                return Ok(());
            }
            let (entry, folder) = queue.find(&id).map_err(|e| e.to_string())?;
            print!("{}", entry.to_text());
            let content =
                std::fs::read(queue.content_path(&id, folder)).map_err(|e| e.to_string())?;
            println!("\n# content ({} octets):", content.len());
            print!("{}", String::from_utf8_lossy(&content));
            Ok(())
        })(),
        ["flush"] => (|| {
            let mut count = 0;
            for mut entry in queue.list(Folder::Active).map_err(|e| e.to_string())? {
                entry.next_attempt = unix_now();
                queue
                    .save(&entry, Folder::Active)
                    .map_err(|e| e.to_string())?;
                count += 1;
            }
            println!("{count} message(s) will be tried now");
            Ok(())
        })(),
        ["hold", text] => (|| {
            let id = id(text)?;
            queue
                .move_to(&id, Folder::Active, Folder::Hold)
                .map_err(|e| format!("cannot hold {id}: {e}"))?;
            println!("{id} is held: nothing happens to it until `postlab queue release {id}`");
            Ok(())
        })(),
        ["release", text] => (|| {
            let id = id(text)?;
            let (mut entry, folder) = queue.find(&id).map_err(|e| e.to_string())?;
            if folder != Folder::Hold {
                return Err(format!("{id} is not held"));
            }
            entry.next_attempt = unix_now();
            queue
                .save(&entry, Folder::Hold)
                .map_err(|e| e.to_string())?;
            queue
                .move_to(&id, Folder::Hold, Folder::Active)
                .map_err(|e| e.to_string())?;
            println!("{id} released: it will be tried now");
            Ok(())
        })(),
        ["delete", text] => (|| {
            let id = id(text)?;
            let folder = match queue.corrupt_text(&id) {
                Some(_) => Folder::Corrupt,
                None => queue.find(&id).map_err(|e| e.to_string())?.1,
            };
            queue.remove(&id, folder).map_err(|e| e.to_string())?;
            println!("{id} deleted (no bounce is sent)");
            Ok(())
        })(),
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

// ---- postlab dns -----------------------------------------------------------------------------

pub(super) fn dns(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optmulti(
        "",
        "zone",
        "a zone file to serve, in the standard format of BIND and NSD (RFC 1035 section 5; \
         see lessons/05-dns-mx.md); once per zone",
        "FILE",
    );
    opts.optopt(
        "",
        "listen",
        "address and port (default 127.0.0.1:10053; port 0 lets the system pick)",
        "ADDR:PORT",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab dns --zone FILE [--zone FILE]... [--listen ADDR:PORT]\n\n\
                 Answer DNS questions from zone files, over UDP and TCP.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let paths = m.opt_strs("zone");
    if paths.is_empty() || !m.free.is_empty() {
        eprint!("{}", opts.usage(brief));
        return 2;
    }
    let listen = m
        .opt_str("listen")
        .unwrap_or_else(|| "127.0.0.1:10053".to_string());
    let Ok(listen) = listen.parse() else {
        return fail(format!(
            "--listen: '{listen}' is not ADDR:PORT (e.g. 127.0.0.1:10053)"
        ));
    };
    let mut zones = Vec::new();
    for path in &paths {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return fail(format!("cannot read {path}: {e}")),
        };
        match dns::zone::Zone::parse(&text, path) {
            Ok(zone) => zones.push(zone),
            Err(e) => return fail(e.to_string()),
        }
    }
    let zones = match dns::zone::Zones::new(zones) {
        Ok(zones) => zones,
        Err(e) => return fail(e),
    };
    match dns::lab::run(zones, listen) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}
