//! Randomness for backoff and TTL jitter, from std's per-process random hash keys: no
//! dependency, and plenty for spreading a fleet's refreshes apart.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// A random number in `0..=max`.
fn up_to(max: u64) -> u64 {
    let random = RandomState::new().hash_one(std::time::Instant::now());
    random % (max.saturating_add(1)).max(1)
}

/// A random part of `whole`, up to `1 / divisor` of it.
fn random_part(whole: Duration, divisor: u32) -> Duration {
    let most = u64::try_from(whole.as_nanos() / u128::from(divisor)).unwrap_or(u64::MAX);
    Duration::from_nanos(up_to(most))
}

/// `base` plus a random extra of up to half of it.
pub(crate) fn add_up_to_half(base: Duration) -> Duration {
    base + random_part(base, 2)
}

/// `wait` minus a random part of up to half of it ("equal jitter"): a fleet that failed
/// together does not retry together.
pub(crate) fn shorten_by_up_to_half(wait: Duration) -> Duration {
    wait.saturating_sub(random_part(wait, 2))
}

/// `ttl` minus a random part of up to a tenth of it: values expire between 90 % and 100 % of
/// their TTL, so instances started together do not refresh together.
pub(crate) fn shorten_by_up_to_a_tenth(ttl: Duration) -> Duration {
    ttl.saturating_sub(random_part(ttl, 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_in_range_and_varies() {
        let ttl = Duration::from_secs(300);
        let samples: Vec<_> = (0..200).map(|_| shorten_by_up_to_a_tenth(ttl)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(270) && *d <= ttl)
        );
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter at all");
        let b = Duration::from_millis(100);
        assert!(
            (0..200)
                .map(|_| add_up_to_half(b))
                .all(|d| d >= b && d <= b * 3 / 2)
        );
        assert_eq!(shorten_by_up_to_a_tenth(Duration::ZERO), Duration::ZERO);
    }
}
