//! Rotated values are freed: each replaced value is dropped exactly once, after its last
//! reader; a snapshot keeps its value valid and unchanged for as long as it is held; the
//! `SecretString`s of a replaced value go with it; and readers on several threads across 1,000
//! rotations only ever see whole, live values. (`tests/loom` checks the same protocol
//! exhaustively; `tests/memory.rs` checks that memory stays flat.)

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};

use secrets_runtime::{ExposeSecret, FromSecret, SecretString, Snapshot};
use secrets_tests::{extension_provider, rotating_extension};

/// Serials of dropped [`Tracked`] values, per test (each test uses its own list).
struct Drops(Mutex<Vec<u64>>);

impl Drops {
    const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    fn of(&self, serial: u64) -> usize {
        let drops = self.0.lock().expect("drops");
        drops.iter().filter(|&&s| s == serial).count()
    }

    fn all(&self) -> Vec<u64> {
        let mut drops = self.0.lock().expect("drops").clone();
        drops.sort_unstable();
        drops
    }
}

/// A value built by a `with` function (as a client or a pool would be) that records its drop.
#[derive(Debug)]
struct Tracked<const LIST: usize> {
    serial: u64,
}

static DROPS: [Drops; 2] = [Drops::new(), Drops::new()];

/// What a dropped [`Tracked`] holds: a reader that finds it read a freed value.
const POISON: u64 = u64::MAX;

impl<const LIST: usize> Drop for Tracked<LIST> {
    fn drop(&mut self) {
        DROPS[LIST].0.lock().expect("drops").push(self.serial);
        // A volatile write, so that it is not optimised away as a dead store: the memory keeps
        // the poison until it is reused.
        // SAFETY: `&mut self.serial` is a valid, aligned, exclusive place.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_volatile(&raw mut self.serial, POISON);
        }
    }
}

fn tracked<const LIST: usize>(text: &str) -> Result<Tracked<LIST>, std::num::ParseIntError> {
    Ok(Tracked {
        serial: text.parse()?,
    })
}

/// Version `n` of the secret: a serial, a canary key, and a check value derived from both.
fn version(n: u64) -> (String, String) {
    let value = serde_json::json!({
        "serial": n.to_string(),
        "check": n * 7,
        "api_key": format!("canary-{n}-{}", "k".repeat(64)),
    });
    (format!("v{n}"), value.to_string())
}

#[tokio::test]
async fn each_replaced_value_is_dropped_once_after_its_last_reader() {
    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Client {
        #[secret(with = tracked::<0>)]
        serial: Tracked<0>,
        check: u64,
        api_key: SecretString,
    }
    let drops = &DROPS[0];
    let port = rotating_extension(version).await;
    let first = Client::load_with(extension_provider(port))
        .await
        .expect("loads");
    let held = Client::get();
    let also_held = held.clone();
    drop(first);
    let before = held.api_key.expose_secret().to_owned();

    for rotation in 1..=100 {
        let current = Client::refresh_now().await.expect("rotates");
        assert_eq!(current.serial.serial, rotation);
        // The held snapshot still sees version 0, whole.
        assert_eq!((held.serial.serial, held.check), (0, 0));
        assert_eq!(held.api_key.expose_secret(), before);
        assert!(
            Snapshot::is_expired(&held),
            "replaced values count as expired"
        );
        // Every version between is gone, once each; version 0 is kept for its readers.
        drop(current);
        assert_eq!(drops.all(), (1..rotation).collect::<Vec<_>>());
    }
    assert_eq!(Client::stats().retained, 1, "version 0, held by a slot");

    drop(held);
    assert_eq!(drops.of(0), 0, "a clone still holds version 0");
    assert_eq!(also_held.serial.serial, 0);
    drop(also_held);
    assert_eq!(drops.of(0), 1, "dropped with its last reader");
    assert_eq!(Client::stats().retained, 0);
    assert_eq!(drops.all(), (0..100).collect::<Vec<_>>());
    assert_eq!(
        Client::get().serial.serial,
        100,
        "the current value is kept"
    );
}

#[tokio::test]
async fn the_secret_strings_of_a_replaced_value_are_dropped_with_it() {
    /// Records the canary it held when dropped; the `SecretString` inside it is dropped (and
    /// zeroized by `secrecy`) right after.
    struct Canary(SecretString);

    static DROPPED_CANARIES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    impl Drop for Canary {
        fn drop(&mut self) {
            let canary = self
                .0
                .expose_secret()
                .split('-')
                .take(2)
                .collect::<Vec<_>>();
            DROPPED_CANARIES
                .lock()
                .expect("canaries")
                .push(canary.join("-"));
        }
    }

    fn canary(text: &str) -> Result<Canary, Infallible> {
        Ok(Canary(SecretString::from(text)))
    }

    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Keys {
        check: u64,
        #[secret(with = canary)]
        api_key: Canary,
    }
    let port = rotating_extension(version).await;
    Keys::load_with(extension_provider(port))
        .await
        .expect("loads");
    let rotated = Keys::refresh_now().await.expect("rotates");
    assert_eq!(rotated.check, 7);
    drop(rotated);
    assert_eq!(
        *DROPPED_CANARIES.lock().expect("canaries"),
        ["canary-0"],
        "version 0's key was dropped when version 1 replaced it"
    );
    Keys::refresh_now().await.expect("rotates");
    assert_eq!(
        *DROPPED_CANARIES.lock().expect("canaries"),
        ["canary-0", "canary-1"]
    );
    assert!(
        Keys::get()
            .api_key
            .0
            .expose_secret()
            .starts_with("canary-2-")
    );
}

#[test]
fn readers_on_four_threads_see_only_whole_live_values_across_1000_rotations() {
    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Shared {
        #[secret(with = tracked::<1>)]
        serial: Tracked<1>,
        check: u64,
        api_key: SecretString,
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let port = runtime.block_on(rotating_extension(version));
    runtime
        .block_on(Shared::load_with(extension_provider(port)))
        .expect("loads");

    let done = AtomicBool::new(false);
    let start = Barrier::new(5);
    let reads = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|reader| {
                let (done, start) = (&done, &start);
                scope.spawn(move || {
                    start.wait();
                    let mut kept: Vec<Snapshot<Shared>> = Vec::new();
                    let mut reads = 0u64;
                    let mut last = 0;
                    while !done.load(Ordering::Relaxed) {
                        let value = Shared::get();
                        let serial = value.serial.serial;
                        assert_ne!(serial, POISON, "a freed value");
                        assert_eq!(value.check, serial * 7, "a torn value");
                        assert!(
                            value
                                .api_key
                                .expose_secret()
                                .starts_with(&format!("canary-{serial}-")),
                            "a torn value"
                        );
                        assert!(serial >= last, "values go back in time");
                        last = serial;
                        reads += 1;
                        // Some readers keep a few snapshots (by slot and by clone) for a while.
                        if reader % 2 == 0 && reads.is_multiple_of(64) {
                            kept.push(if reads.is_multiple_of(128) {
                                value.clone()
                            } else {
                                value
                            });
                            if kept.len() > 3 {
                                kept.remove(0);
                            }
                        }
                    }
                    for value in &kept {
                        assert_eq!(value.check, value.serial.serial * 7, "a kept value changed");
                    }
                    reads
                })
            })
            .collect();
        start.wait();
        runtime.block_on(async {
            for _ in 0..1000 {
                Shared::refresh_now().await.expect("rotates");
            }
        });
        done.store(true, Ordering::Relaxed);
        readers
            .into_iter()
            .map(|reader| reader.join().expect("reader"))
            .collect::<Vec<_>>()
    });
    assert!(reads.iter().all(|&n| n > 0), "every reader read: {reads:?}");
    assert_eq!(Shared::get().serial.serial, 1000);
    assert_eq!(Shared::stats().retained, 0, "readers let go of everything");
    // Every replaced version was dropped exactly once.
    assert_eq!(DROPS[1].all(), (0..1000).collect::<Vec<_>>());
}
