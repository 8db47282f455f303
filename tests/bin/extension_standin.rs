//! A stand-in for the Lambda Parameters and Secrets extension, for the Lambda lifecycle tests.
//!
//! It registers through the Extensions API of `AWS_LAMBDA_RUNTIME_API` (for INVOKE and
//! SHUTDOWN events), then serves the extension's HTTP API on
//! `127.0.0.1:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` by forwarding each request to the
//! Secrets Manager Agent on `127.0.0.1:$STANDIN_UPSTREAM_PORT` (which reads moto). Its
//! readiness follows `STANDIN_MODE`:
//!
//! - `managed`: the AWS layer as documented: it listens at once, but answers
//!   `400 not ready to serve traffic, please wait` until its first INVOKE event;
//! - `agent`: the agent packaged as an extension: it starts listening `STANDIN_READY_AFTER_MS`
//!   after registering (default 50), INIT or not, and answers from then on;
//!
//! In every mode it polls for its first event only once it listens: that poll tells Lambda
//! that the extension's INIT is done, and the INVOKE phase waits for it.
//! - `never-ready`: `400 not ready` for ever;
//! - `hang`: accepts connections and never answers.
//!
//! `STANDIN_DELAY_MS` delays each forwarded request (a round trip longer than an
//! invocation). `STANDIN_REGISTER=0` skips registration (a restarted extension process).
//! Each event goes to stdout as one line (`registered`, `listening`, `invoke`,
//! `arrived <phase>` and `request <phase> <outcome>` for each request), which the tests read.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Managed,
    Agent,
    NeverReady,
    Hang,
}

struct State {
    mode: Mode,
    upstream_port: u16,
    delay: Duration,
    /// An INVOKE event has arrived: the INIT phase is over.
    invoked: AtomicBool,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// One line on stdout per event, flushed at once (the process may be frozen or killed next).
fn event(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn millis(name: &str, default: u64) -> Duration {
    Duration::from_millis(var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mode = match var("STANDIN_MODE").as_deref() {
        Some("managed") | None => Mode::Managed,
        Some("agent") => Mode::Agent,
        Some("never-ready") => Mode::NeverReady,
        Some("hang") => Mode::Hang,
        Some(other) => panic!("STANDIN_MODE `{other}` is not managed, agent, never-ready or hang"),
    };
    let port: u16 = var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
        .expect("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is set")
        .parse()
        .expect("a port");
    let state = Arc::new(State {
        mode,
        upstream_port: var("STANDIN_UPSTREAM_PORT")
            .expect("STANDIN_UPSTREAM_PORT is set")
            .parse()
            .expect("a port"),
        delay: millis("STANDIN_DELAY_MS", 0),
        invoked: AtomicBool::new(false),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let api = var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API is set");
    let lambda: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let id = if var("STANDIN_REGISTER").as_deref() == Some("0") {
        // A restarted extension process: the sandbox is past its INIT.
        state.invoked.store(true, Ordering::SeqCst);
        None
    } else {
        let id = register(&lambda, &api).await;
        event("registered");
        Some(id)
    };

    // Lambda's INVOKE phase starts once every extension has polled for its first event, so
    // the extension listens first: at once (managed: answering "not ready"), or after its
    // start-up time (agent).
    if state.mode == Mode::Agent {
        tokio::time::sleep(millis("STANDIN_READY_AFTER_MS", 50)).await;
    }
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|err| panic!("binding 127.0.0.1:{port}: {err}"));
    event("listening");
    let events = async {
        let Some(id) = id else {
            return std::future::pending().await;
        };
        loop {
            match next_event(&lambda, &api, &id).await.as_str() {
                "INVOKE" => {
                    state.invoked.store(true, Ordering::SeqCst);
                    event("invoke");
                }
                "SHUTDOWN" => {
                    event("shutdown");
                    return;
                }
                other => event(&format!("event {other}")),
            }
        }
    };
    tokio::select! {
        () = serve(listener, Arc::clone(&state)) => {}
        () = events => {}
    }
}

/// Registers for INVOKE and SHUTDOWN; returns the extension id.
async fn register(lambda: &Client<HttpConnector, Full<Bytes>>, api: &str) -> String {
    let request = Request::post(format!("http://{api}/2020-01-01/extension/register"))
        .header("Lambda-Extension-Name", "secrets-extension-standin")
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from_static(
            br#"{"events":["INVOKE","SHUTDOWN"]}"#,
        )))
        .expect("a request");
    let response = lambda.request(request).await.expect("registering");
    assert!(
        response.status().is_success(),
        "registering: {}",
        response.status()
    );
    response
        .headers()
        .get("Lambda-Extension-Identifier")
        .and_then(|v| v.to_str().ok())
        .expect("an extension id")
        .to_owned()
}

/// Waits for the next lifecycle event; returns its type.
async fn next_event(lambda: &Client<HttpConnector, Full<Bytes>>, api: &str, id: &str) -> String {
    let request = Request::get(format!("http://{api}/2020-01-01/extension/event/next"))
        .header("Lambda-Extension-Identifier", id)
        .body(Full::new(Bytes::new()))
        .expect("a request");
    let response = lambda.request(request).await.expect("polling /event/next");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("an event")
        .to_bytes();
    let event: Value = serde_json::from_slice(&body).expect("an event in JSON");
    event["eventType"].as_str().unwrap_or("?").to_owned()
}

async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { answer(&state, request).await }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    state: &State,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let phase = if state.invoked.load(Ordering::SeqCst) {
        "invoke"
    } else {
        "init"
    };
    event(&format!("arrived {phase}"));
    let ready = match state.mode {
        Mode::Managed => phase == "invoke",
        Mode::Agent => true,
        Mode::NeverReady => false,
        Mode::Hang => {
            event(&format!("request {phase} hang"));
            return std::future::pending().await;
        }
    };
    if !ready {
        event(&format!("request {phase} not-ready"));
        return Ok(respond(
            StatusCode::BAD_REQUEST,
            "not ready to serve traffic, please wait",
        ));
    }
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let (parts, _) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = Request::get(format!("http://127.0.0.1:{}{path}", state.upstream_port));
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let response = match state
        .client
        .request(upstream.body(Full::new(Bytes::new())).expect("a request"))
        .await
    {
        Ok(response) => response,
        Err(err) => {
            event(&format!("request {phase} upstream-failed"));
            return Ok(respond(
                StatusCode::BAD_GATEWAY,
                &format!("upstream: {err}"),
            ));
        }
    };
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    event(&format!("request {phase} {}", status.as_u16()));
    let mut answer = Response::new(Full::new(body));
    *answer.status_mut() = status;
    Ok(answer)
}

fn respond(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}
