//! The Lambda lifecycle, on a simulated Lambda: the real `examples/lambda.rs` binary as the
//! function (built by `scripts/test.sh` with a 2 s TTL, with and without the `sdk` feature),
//! an extension stand-in that forwards to a Secrets Manager Agent reading moto, and freeze and
//! thaw of the whole sandbox between invocations (see `support/lambda.rs`).
//!
//! Timings are printed for the record, never asserted: the assertions are about what
//! happened (which requests reached the extension and moto, and when relative to the
//! lifecycle), so that a loaded machine cannot fail them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrets_tests::lambda::{Invoked, Lambda, LambdaBuilder, Readiness, jay};
use serde_json::{Value, json};

/// The TTL of the function's test build (`short-ttl`).
const TTL: Duration = Duration::from_secs(2);
/// An idle gap that crosses the TTL.
const PAST_THE_TTL: Duration = Duration::from_millis(2300);

/// The example, built with the `sdk` feature (auto mode falls back to the SDK).
fn example() -> PathBuf {
    binary("SECRETS_TEST_LAMBDA_BIN")
}

/// The example, built without the `sdk` feature (the extension only).
fn example_without_sdk() -> PathBuf {
    binary("SECRETS_TEST_LAMBDA_BIN_NO_SDK")
}

fn binary(var: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => path.into(),
        _ => panic!(
            "{var} is not set: these tests run the example built by ./scripts/test.sh, which \
             builds it and starts the peers"
        ),
    }
}

fn standin() -> PathBuf {
    env!("CARGO_BIN_EXE_extension-standin").into()
}

fn with_extension(function: PathBuf, readiness: Readiness) -> LambdaBuilder {
    LambdaBuilder::new(function).extension(standin(), readiness)
}

fn count(events: &[String], event: &str) -> usize {
    events.iter().filter(|e| *e == event).count()
}

/// How many requests the extension answered with a value, in any phase.
fn forwarded(events: &[String]) -> usize {
    events
        .iter()
        .filter(|e| e.starts_with("request ") && e.ends_with(" 200"))
        .count()
}

fn database(invoked: &Invoked) -> String {
    invoked.response()["database"]
        .as_str()
        .expect("a database")
        .to_owned()
}

fn config(invoked: &Invoked, field: &str) -> u64 {
    invoked.response()["config"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("config.{field} in {}", invoked.response()))
}

async fn put_secret(lambda: &Lambda, value: &Value) -> String {
    secrets_tests::moto()
        .await
        .put_secret_value()
        .secret_id(&lambda.secret)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("rotating the secret in moto")
        .version_id
        .expect("a version id")
}

async fn cold_start(readiness: Readiness) {
    let lambda = with_extension(example(), readiness)
        .start(&jay("db-v1", "key-v1"))
        .await;
    // INIT is over and asked nothing of the extension.
    let events = lambda.extension_events();
    assert!(
        !events.iter().any(|e| e.starts_with("arrived")),
        "INIT called the extension: {events:?}"
    );
    let first = lambda.invoke(json!({"name": "jay"})).await;
    assert_eq!(database(&first), "db-v1:5432");
    assert_eq!(first.response()["greeting"], "hello, jay");
    assert_eq!(first.response()["config"]["source"], "extension");
    assert_eq!(config(&first, "loads"), 1);

    let events = lambda.extension_events();
    // The first invocation got its value in one round trip through the extension, which made
    // one upstream call.
    assert_eq!(forwarded(&events), 1, "{events:?}");
    assert_eq!(lambda.upstream_calls("GetSecretValue"), 1);
    let not_ready = count(&events, "request invoke not-ready");

    // The next invocation reads the cache: no request at all (unless the machine stalled past
    // the TTL, and then exactly the refreshes it reports).
    let second = lambda.invoke(json!({})).await;
    assert_eq!(database(&second), "db-v1:5432");
    let refreshes = usize::try_from(config(&second, "refreshes")).expect("small");
    assert_eq!(forwarded(&lambda.extension_events()), 1 + refreshes);
    eprintln!(
        "{readiness:?} extension: INIT {:.1} ms, first invocation {:.1} ms ({not_ready} \
         not-ready answers), second invocation {:.1} ms",
        ms(lambda.init),
        ms(first.took),
        ms(second.took)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_with_the_managed_extension() {
    cold_start(Readiness::Managed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_with_the_agent_as_an_extension() {
    cold_start(Readiness::Agent).await;
}

/// 1,000 invocations, each followed by a freeze, with idle gaps that cross the TTL, and the
/// secret rotated halfway: every invocation is answered; every invocation that starts one TTL
/// after the rotation reads the new value; moto sees at most one call per TTL window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_frozen_invocations_see_a_rotation_within_one_ttl() {
    let lambda = with_extension(example(), Readiness::Managed)
        .start(&jay("db-v1", "key-v1"))
        .await;
    let started = Instant::now();
    let mut rotated_at = None;
    let mut first_new = None;
    let mut gaps = 0;
    for i in 0..1000 {
        if i % 150 == 149 {
            tokio::time::sleep(PAST_THE_TTL).await;
            gaps += 1;
        }
        if i == 500 {
            put_secret(&lambda, &jay("db-v2", "key-v2")).await;
            rotated_at = Some(Instant::now());
        }
        let invoked_at = Instant::now();
        let invoked = lambda.invoke(json!({})).await;
        let database = database(&invoked);
        match rotated_at {
            None => assert_eq!(database, "db-v1:5432", "invocation {i}"),
            Some(_) if database == "db-v2:5432" => {
                first_new.get_or_insert(i);
            }
            Some(rotated) => {
                assert_eq!(database, "db-v1:5432", "invocation {i}");
                assert!(
                    first_new.is_none(),
                    "invocation {i} went back to the old value"
                );
                assert!(
                    invoked_at < rotated + TTL,
                    "invocation {i} started {:?} after the rotation and read the old value",
                    invoked_at - rotated
                );
            }
        }
        assert_eq!(config(&invoked, "failures"), 0, "invocation {i}");
    }
    let first_new = first_new.expect("the rotated value was seen");
    let elapsed = started.elapsed();
    // The first load, then at most one refresh per TTL window (values expire after 90 % to
    // 100 % of the TTL); at least one refresh after each idle gap.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let most = 1 + (elapsed.as_secs_f64() / (TTL.as_secs_f64() * 0.9)) as usize;
    let requests = forwarded(&lambda.extension_events());
    assert!(
        (1 + gaps..=most).contains(&requests),
        "{requests} requests to the extension in {elapsed:?}: expected {} to {most}",
        1 + gaps
    );
    // Upstream, the agent (no cache of its own here) checks the version with DescribeSecret
    // and reads a value with GetSecretValue only when it changed: the first and the rotated.
    let reads = lambda.upstream_calls("GetSecretValue");
    assert_eq!(reads, 2, "GetSecretValue calls at moto");
    let checks = lambda.upstream_calls("DescribeSecret");
    assert!(
        checks <= most,
        "{checks} DescribeSecret calls at moto: at most {most}"
    );
    eprintln!(
        "1,000 frozen invocations in {elapsed:?}: {requests} requests to the extension, \
         {reads} GetSecretValue and {checks} DescribeSecret calls at moto, rotation seen from \
         invocation {first_new}"
    );
}

/// A caller presents the rotated key; the handler's forced refresh gets it in the same
/// invocation, and later invocations use it without fetching again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_forces_one_refresh_and_the_next_invocation_uses_the_new_value() {
    let lambda = with_extension(example(), Readiness::Managed)
        .start(&jay("db-v1", "key-v0"))
        .await;
    // Each try rotates the key while the cached value is fresh. Should the machine stall past
    // the TTL in between, a plain refresh reads the new key first and the try is made again.
    for version in 1..=5 {
        let old = format!("key-v{}", version - 1);
        let new = format!("key-v{version}");
        let before = lambda.invoke(json!({"api_key": old})).await;
        assert_eq!(before.response()["authorized"], true);
        put_secret(&lambda, &jay("db-v1", &new)).await;
        let rotated = lambda.invoke(json!({"api_key": new})).await;
        assert_eq!(
            rotated.response()["authorized"],
            true,
            "the new key, at once"
        );
        if config(&rotated, "refreshes") > config(&before, "refreshes") {
            continue;
        }
        let forced = config(&rotated, "forced_refreshes");
        assert_eq!(forced, config(&before, "forced_refreshes") + 1);
        let next = lambda.invoke(json!({"api_key": new})).await;
        assert_eq!(next.response()["authorized"], true);
        if config(&next, "refreshes") == config(&rotated, "refreshes") {
            assert_eq!(config(&next, "forced_refreshes"), forced, "no second fetch");
        }
        let old = lambda.invoke(json!({"api_key": old})).await;
        assert_eq!(old.response()["authorized"], false);
        return;
    }
    panic!("every try stalled past the TTL");
}

/// No extension layer, without the `sdk` feature: a clear error in the invocation, within the
/// extension deadline, and INIT untouched; the next invocation tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_layer_or_the_sdk_an_invocation_fails_clearly() {
    let lambda = LambdaBuilder::new(example_without_sdk())
        .start(&jay("db-v1", "key-v1"))
        .await;
    for _ in 0..2 {
        let invoked = lambda.invoke(json!({})).await;
        let err = invoked.result.clone().expect_err("no extension, no SDK");
        assert!(
            err.contains("could not reach the secrets extension at 127.0.0.1:"),
            "{err}"
        );
        assert!(err.contains(&lambda.secret), "names the secret: {err}");
        eprintln!(
            "no layer, no sdk: failed in {:.1} ms: {err}",
            ms(invoked.took)
        );
    }
    assert_eq!(lambda.upstream_calls("GetSecretValue"), 0);
}

/// No extension layer, with the `sdk` feature: auto mode goes to the SDK at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_layer_auto_mode_reads_through_the_sdk() {
    let lambda = LambdaBuilder::new(example())
        .start(&jay("db-v1", "key-v1"))
        .await;
    let invoked = lambda.invoke(json!({})).await;
    assert_eq!(database(&invoked), "db-v1:5432");
    assert_eq!(invoked.response()["config"]["source"], "sdk");
    assert_eq!(lambda.upstream_calls("GetSecretValue"), 1);
    eprintln!(
        "no layer, sdk: INIT {:.1} ms, first invocation {:.1} ms",
        ms(lambda.init),
        ms(invoked.took)
    );
}

/// The extension dies mid-run: invocations keep being answered from the cache, with one
/// warning per failed refresh; once it is back, the next refresh succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_killed_and_restarted_costs_nothing_but_warnings() {
    let mut lambda = with_extension(example_without_sdk(), Readiness::Managed)
        .extension_ready_timeout(Duration::from_millis(200))
        .start(&jay("db-v1", "key-v1"))
        .await;
    assert_eq!(database(&lambda.invoke(json!({})).await), "db-v1:5432");
    lambda.kill_extension();

    let mut failures = 0;
    for _ in 0..3 {
        tokio::time::sleep(PAST_THE_TTL).await;
        // The refresh fails; the last good value answers. Right after, within the backoff,
        // the same.
        for _ in 0..2 {
            let invoked = lambda.invoke(json!({})).await;
            assert_eq!(database(&invoked), "db-v1:5432");
            let now = config(&invoked, "failures");
            assert!(now <= failures + 1, "one refresh per invocation at most");
            failures = now;
        }
    }
    assert!(failures >= 3, "{failures} failed refreshes");
    let warnings = lambda
        .function_log()
        .matches("loading a secret failed")
        .count();
    assert_eq!(
        warnings,
        usize::try_from(failures).expect("small"),
        "one warning per failure"
    );

    lambda.restart_extension().await;
    // Past the longest backoff (it doubles from 1 s up to the TTL).
    tokio::time::sleep(PAST_THE_TTL).await;
    let back = lambda.invoke(json!({})).await;
    assert_eq!(database(&back), "db-v1:5432");
    assert_eq!(config(&back, "failures"), failures, "the refresh succeeded");
    assert!(config(&back, "refreshes") >= 1);
}

/// Lambda Managed Instances: one process serves 8 invocations at once. The 8 cold callers
/// share one fetch; across a refresh, every invocation reads one consistent snapshot, and
/// none fetches for itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_invocations_read_consistent_snapshots_across_a_refresh() {
    let lambda = with_extension(example(), Readiness::Agent)
        .freeze(false)
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "8")
        .start(&jay("db-v1", "key-v1"))
        .await;
    let started = Instant::now();
    let round = lambda
        .invoke_at_once(8, &json!({"api_key": "key-v1"}))
        .await;
    let v1 = round[0].response()["config"]["version_id"].clone();
    for invoked in &round {
        assert_eq!(database(invoked), "db-v1:5432");
        assert_eq!(invoked.response()["config"]["version_id"], v1);
        assert_eq!(invoked.response()["authorized"], true);
    }
    assert_eq!(
        forwarded(&lambda.extension_events()),
        1,
        "one cold load for 8"
    );

    let v2 = put_secret(&lambda, &jay("db-v2", "key-v2")).await;
    // Host, key and version always come from one snapshot, before and after the refresh.
    let mut rounds = 0;
    loop {
        tokio::time::sleep(PAST_THE_TTL).await;
        rounds += 1;
        let round = lambda.invoke_at_once(8, &json!({})).await;
        let new = round
            .iter()
            .filter(|invoked| database(invoked) == "db-v2:5432")
            .count();
        for invoked in &round {
            let version = if database(invoked) == "db-v2:5432" {
                json!(v2)
            } else {
                v1.clone()
            };
            assert_eq!(invoked.response()["config"]["version_id"], version);
            assert_eq!(config(invoked, "forced_refreshes"), 0);
        }
        if new == round.len() {
            break;
        }
        assert!(rounds < 5, "the rotation was never read");
    }
    // A fetch per TTL window at most, never one per invocation.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let most = 1 + (started.elapsed().as_secs_f64() / (TTL.as_secs_f64() * 0.9)) as usize;
    let requests = forwarded(&lambda.extension_events());
    assert!(requests <= most, "{requests} requests: at most {most}");
}

/// A faulty extension: without the SDK, an error saying what went wrong, within the bound; with
/// it, the SDK answers.
async fn faulty_extension(readiness: Readiness, error: &str) {
    // A short request timeout, so that a hanging extension is given up on quickly.
    let sandbox =
        |function| with_extension(function, readiness).env("SECRETS_MANAGER_TIMEOUT_MILLIS", "300");
    let lambda = sandbox(example_without_sdk())
        .start(&jay("db-v1", "key-v1"))
        .await;
    let invoked = lambda.invoke(json!({})).await;
    let err = invoked.result.clone().expect_err("no value");
    assert!(err.contains(error), "{err}");
    eprintln!(
        "{readiness:?}, no sdk: failed in {:.1} ms: {err}",
        ms(invoked.took)
    );

    let lambda = sandbox(example()).start(&jay("db-v1", "key-v1")).await;
    let invoked = lambda.invoke(json!({})).await;
    assert_eq!(database(&invoked), "db-v1:5432");
    assert_eq!(invoked.response()["config"]["source"], "sdk");
    eprintln!("{readiness:?}, sdk: answered in {:.1} ms", ms(invoked.took));
}

/// An extension that answers `400 not ready` for ever: a `NotReady` error after the deadline,
/// or the SDK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_never_ready_gives_an_error_or_the_sdk() {
    faulty_extension(Readiness::NeverReady, "not ready").await;
}

/// An extension that accepts connections and never answers: a `TimedOut` error within the
/// request timeout, or the SDK.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_extension_gives_an_error_or_the_sdk() {
    faulty_extension(Readiness::Hang, "timed out").await;
}

/// No token in the environment: the extension refuses, and the error says which variable to
/// set (not retried, no fallback: the SDK would not fix a missing token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_a_clear_error() {
    let lambda = with_extension(example(), Readiness::Managed)
        .token(false)
        .start(&jay("db-v1", "key-v1"))
        .await;
    let invoked = lambda.invoke(json!({})).await;
    let err = invoked.result.clone().expect_err("no token");
    assert!(err.contains("AWS_SESSION_TOKEN"), "{err}");
    assert_eq!(lambda.upstream_calls("GetSecretValue"), 0);
}

/// A function that only calls `get()`: its refreshes start in the background at a thaw and
/// are cut by the freeze that follows, since every invocation is shorter than the extension's
/// round trip. The cut request carries on over the next thaws instead of timing out (its
/// timeout does not count the freezes), so no refresh fails, and each one completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_cut_by_freezes_resume_instead_of_failing() {
    let lambda = LambdaBuilder::new(env!("CARGO_BIN_EXE_get-only-function"))
        .extension(standin(), Readiness::Managed)
        // A 300 ms round trip against invocations of well under a millisecond, and a request
        // timeout (200 + 500 ms) far shorter than the freezes.
        .standin_delay(Duration::from_millis(300))
        .env("SECRETS_MANAGER_TIMEOUT_MILLIS", "200")
        // The extension alone: no SDK to fall back on when a request fails.
        .env("SECRETS_SOURCE", "extension")
        .start(&jay("db-v1", "key-v1"))
        .await;
    let first = lambda.invoke(json!({})).await;
    assert_eq!(first.response()["database"], "db-v1");
    let mut refreshes = 0;
    for round in 0..3 {
        // Idle past the TTL: the thaw of the next invocation starts a refresh, which the
        // freeze after it cuts; then frozen for longer than the request timeout and the load's
        // deadline (2 s) together.
        tokio::time::sleep(PAST_THE_TTL).await;
        let started = lambda.invoke(json!({})).await;
        assert_eq!(started.response()["failures"], 0);
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let mut thaws = 1;
        loop {
            let invoked = lambda.invoke(json!({})).await;
            thaws += 1;
            assert_eq!(
                invoked.response()["failures"],
                0,
                "round {round}: a cut refresh failed"
            );
            assert_eq!(invoked.response()["source"], "extension");
            let now = invoked.response()["refreshes"].as_u64().expect("refreshes");
            if now > refreshes {
                refreshes = now;
                break;
            }
            assert!(thaws < 5000, "round {round}: the refresh never completed");
        }
        eprintln!("round {round}: the refresh completed over {thaws} thaws");
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
