//! Any bytes as a folder of messages (split at each NUL NUL): their SORT facts are read, they
//! are sorted by every key and threaded by both algorithms, and base subjects are taken,
//! without a panic, and every message appears in each answer once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postlab::imap::sort::{self, Criterion, Facts, IdHasher, Row, SortKey};
use postlab::imap::thread::{self, Algorithm, Item};

fuzz_target!(|input: &[u8]| {
    let ids = IdHasher::default();
    let facts: Vec<Facts> = input
        .split(|&b| b == 0)
        .filter(|m| !m.is_empty())
        .map(|m| Facts::read(m, 0, &ids))
        .collect();
    let _ = postlab::imap::base_subject::base_subject(&String::from_utf8_lossy(input));
    let mut rows: Vec<Row> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| Row {
            number: i as u32 + 1,
            seq: i as u32 + 1,
            size: i as u64,
            facts: f,
        })
        .collect();
    for key in [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
    ] {
        sort::sort(&mut rows, &[Criterion { reverse: true, key }]);
    }
    let items: Vec<Item> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| Item {
            number: i as u32 + 1,
            seq: i as u32 + 1,
            facts: f,
        })
        .collect();
    for algorithm in [Algorithm::OrderedSubject, Algorithm::References] {
        let answer = thread::thread(algorithm, &items);
        let mut numbers: Vec<u32> = answer
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=items.len() as u32).collect::<Vec<_>>(), "{answer}");
    }
});
