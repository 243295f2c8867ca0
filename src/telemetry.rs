//! Log setup: `tracing` to stderr, text or JSON. Secrets never reach the log: config
//! secrets are `SecretString`, and handlers log codes and ids, not credentials.
//!
//! Lines are buffered in memory and written in batches (`BufferedStderr`): every issued
//! token writes an audit line, and one `write` system call per line was a measurable part
//! of a token's cost under load. Warnings and errors are written at once, with everything
//! buffered before them; the rest waits at most `FLUSH_EVERY`. `init` returns a guard that
//! writes what is left when it is dropped (at the end of the command).
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogSettings;

/// Longest a buffered line waits before it is written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A batch this large is written at once, by the thread that filled it.
const FLUSH_AT: usize = 32 * 1024;

/// Installs the global subscriber; a second call (tests) is a no-op. Keep the returned guard
/// until the end of the program: dropping it writes the lines still buffered. With
/// `buffered` false every line is written at once (the operator commands, which may end
/// the process early, write few lines).
pub fn init(settings: &LogSettings, buffered: bool) -> LogGuard {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(&settings.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = BufferedStderr {
        shared: Arc::new(Shared {
            unbuffered: !buffered,
            ..Shared::default()
        }),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .with_writer(writer.clone());
    let installed = if settings.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if installed.is_ok() && buffered {
        writer.spawn_flusher();
    }
    LogGuard(writer)
}

/// Colour codes only for a person at a terminal: a file, a pipe, journald or a container's
/// log driver would store the escape codes; and never with `NO_COLOR` set to a non-empty
/// value (no-color.org).
fn colours(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Writes the buffered log lines when dropped.
#[must_use = "dropping the guard at once would flush nothing later"]
pub struct LogGuard(BufferedStderr);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.shared.flush();
    }
}

/// A `MakeWriter` for stderr that collects lines in memory (see the module comment).
#[derive(Clone, Default)]
pub struct BufferedStderr {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Lines not yet written.
    pending: Mutex<Vec<u8>>,
    /// Held while writing, so that batches reach stderr in the order they were taken.
    output: Mutex<()>,
    /// Write every line at once.
    unbuffered: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst a partial line: keep logging.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn flush(&self) {
        let _order = lock(&self.output);
        let batch = std::mem::take(&mut *lock(&self.pending));
        if !batch.is_empty() {
            // Nowhere to report a failure to write the log.
            let _ = std::io::stderr().lock().write_all(&batch);
        }
    }
}

impl BufferedStderr {
    /// A thread that writes buffered lines every `FLUSH_EVERY`; it ends with the process.
    fn spawn_flusher(&self) {
        let shared = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("log-flush".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while let Some(shared) = shared.upgrade() {
                    shared.flush();
                    drop(shared);
                    std::thread::sleep(FLUSH_EVERY);
                }
            });
        if let Err(e) = spawned {
            eprintln!("warning: no log flusher thread ({e}); log lines wait for the next warning");
        }
    }
}

/// Writes one formatted event (the subscriber writes each in one `write` call).
pub struct LineWriter<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut pending = lock(&self.shared.pending);
            pending.extend_from_slice(line);
            pending.len() >= FLUSH_AT
        };
        if full || self.urgent {
            self.shared.flush();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: self.shared.unbuffered,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            // WARN and ERROR (levels compare by verbosity: ERROR < WARN < INFO).
            urgent: self.shared.unbuffered || *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_at_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(!colours(false, None));
        assert!(!colours(true, Some("1".into())));
        // An empty NO_COLOR does not count (no-color.org).
        assert!(colours(true, Some("".into())));
        assert!(!colours(false, Some("".into())));
    }

    #[test]
    fn lines_wait_until_flushed_and_keep_their_order() {
        let w = BufferedStderr::default();
        w.make_writer().write_all(b"one\n").unwrap();
        w.make_writer().write_all(b"two\n").unwrap();
        assert_eq!(&*lock(&w.shared.pending), b"one\ntwo\n");
        w.shared.flush();
        assert!(lock(&w.shared.pending).is_empty());
    }
}
