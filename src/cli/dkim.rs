//! `postlab dkim show DOMAIN`: the DNS records that publish a domain's DKIM keys.
//!
//! RFC 6376 section 3.6.2.1: a verifier finds the key of `d=lab1.test; s=postlab-rsa` as a
//! TXT record at `postlab-rsa._domainkey.lab1.test`. This prints those records in zone-file
//! form (RFC 1035 section 5), ready to paste into the domain's zone. The keys are made now if
//! the server has not made them yet (it does on start with `dkim_sign = yes`).

use getopts::Options;

use super::{fail, parse};
use crate::datadir::DataDir;
use crate::mailauth::keys;

pub(super) fn dkim(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab dkim show DOMAIN [--data DIR]\n\n\
                 Prints the DNS TXT records to publish for DOMAIN's DKIM keys (DIR/dkim/),\n\
                 making the keys first if there are none.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let ["show", domain] = words.as_slice() else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    if !crate::address::is_domain(domain, false) {
        return fail(format!("'{domain}' is not a domain name"));
    }
    let made = match keys::ensure(&data.dkim(), domain) {
        Ok(made) => made,
        Err(e) => return fail(format!("cannot make the DKIM keys: {e}")),
    };
    for line in made {
        println!("; made now: {line}");
    }
    let Some(records) = keys::txt_records(&data.dkim(), domain) else {
        return fail(format!(
            "cannot read the DKIM keys of {domain} in {}",
            data.dkim().display()
        ));
    };
    println!("; DKIM keys of {domain} (RFC 6376, RFC 8463): publish these in its zone");
    for (name, text) in records {
        println!("{name} 3600 IN TXT {}", keys::zone_strings(&text));
    }
    0
}
