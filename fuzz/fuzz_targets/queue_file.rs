//! Any bytes as a queue envelope file (`mta::envelope_file`): an envelope or an error, never a
//! panic; and an envelope that was read comes back with the same sender and recipients when it
//! is written and read again (what the queue relies on each time it saves a delivery attempt).
#![no_main]
use libfuzzer_sys::fuzz_target;
use postlab::ids::QueueId;
use postlab::mta::envelope_file::Entry;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let id = QueueId::new();
    let Ok(entry) = Entry::parse(id.clone(), text) else {
        return;
    };
    let again = Entry::parse(id, &entry.to_text()).expect("a written envelope reads back");
    assert_eq!(again.from, entry.from);
    let addresses = |e: &Entry| e.recipients.iter().map(|r| r.address.clone()).collect::<Vec<_>>();
    assert_eq!(addresses(&again), addresses(&entry));
    assert_eq!(
        (again.arrived, again.attempts, again.next_attempt),
        (entry.arrived, entry.attempts, entry.next_attempt)
    );
});
