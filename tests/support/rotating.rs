//! An extension stand-in that answers each request with a version of its choosing, for tests
//! that rotate a secret thousands of times (moto is too slow for that). It runs on the caller's
//! runtime, so a current-thread test keeps every allocation on its own thread.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use secrets_runtime::{Provider, Source};
use tokio::net::TcpListener;

/// Serves `GetSecretValue` on a free loopback port: request `n` (from 0) is answered with
/// `answer(n)`, a `(version id, secret string)`. Returns the port.
pub async fn rotating_extension(
    answer: impl Fn(u64) -> (String, String) + Send + Sync + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let answer = Arc::new(answer);
    let served = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (answer, served) = (Arc::clone(&answer), Arc::clone(&served));
            let service = service_fn(move |_request| {
                let (version, value) = answer(served.fetch_add(1, Ordering::Relaxed));
                let body = serde_json::json!({
                    "Name": "rotating",
                    "VersionId": version,
                    "SecretString": value,
                })
                .to_string();
                async move { Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body)))) }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

/// A provider that reads through the extension stand-in on `port`.
#[must_use]
pub fn extension_provider(port: u16) -> Arc<Provider> {
    Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(port)
            .extension_token("rotation-test")
            .build(),
    )
}
