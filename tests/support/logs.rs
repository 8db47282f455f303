//! Capturing log lines in a test, to check what was logged (and what never is).
//!
//! One global subscriber (installed by the first capture) writes each event to the capture of
//! the thread that emits it, if that thread has one, through a dynamic filter. tracing caches
//! each call site's interest, asked once on whichever thread first reaches the call site: with
//! per-thread subscribers (`set_default`) or a plain `filter_fn`, a warning first reached on
//! another test's thread was cached as uninteresting and every later one lost (seen: a test
//! counted 0 of its 6 warnings when its binary's other tests ran beside it).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};

use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// Every line logged on the thread of [`LogCapture::install`], until its guard is dropped.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

thread_local! {
    /// The capture of this thread, if any.
    static CURRENT: RefCell<Option<LogCapture>> = const { RefCell::new(None) };
}

/// Ends a capture when dropped (the thread's previous capture, if any, resumes).
pub struct CaptureGuard {
    previous: Option<LogCapture>,
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

impl LogCapture {
    /// A capture of everything at TRACE level on this thread, until the guard is dropped.
    #[must_use]
    pub fn install() -> (Self, CaptureGuard) {
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            // Threads without a capture skip formatting altogether. A dynamic filter: a plain
            // `filter_fn` is asked once per call site, on whichever thread reaches it first,
            // and its answer is cached for every thread.
            let capturing = tracing_subscriber::filter::dynamic_filter_fn(|_, _| {
                CURRENT
                    .try_with(|current| current.borrow().is_some())
                    .unwrap_or(false)
            });
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(ThreadRoute)
                .with_ansi(false)
                .with_filter(capturing);
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the tests");
        });
        let capture = Self::default();
        let previous = CURRENT.with(|current| current.borrow_mut().replace(capture.clone()));
        (capture, CaptureGuard { previous })
    }

    /// The text captured so far.
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes to the emitting thread's capture, or nowhere.
struct ThreadRoute;

/// The writer of one event: the thread's capture, if any.
enum Route {
    Capture(LogCapture),
    Discard,
}

impl Write for Route {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Route::Capture(capture) => capture.write(buf),
            Route::Discard => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ThreadRoute {
    type Writer = Route;

    fn make_writer(&'a self) -> Route {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
            .map_or(Route::Discard, Route::Capture)
    }
}
