//! The audit log: one JSON line per finding acted on. It holds a masked
//! preview and a keyed fingerprint, never the value.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

/// One audit event.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub time: String,
    pub request_id: &'a str,
    pub route: &'a str,
    pub flow: &'static str,
    pub policy: &'a str,
    pub category: &'a str,
    pub detector: &'a str,
    pub action: &'static str,
    pub mode: &'static str,
    /// Byte offsets in the (decoded) body, or in the URL for `location: url`.
    pub start: u64,
    pub end: u64,
    pub location: &'static str,
    pub preview: &'a str,
    pub fingerprint: &'a str,
}

/// Where events go.
pub struct AuditLog {
    out: Mutex<Box<dyn Write + Send>>,
}

impl AuditLog {
    /// `-` is standard output; anything else a file opened for append.
    pub fn open(path: &str) -> std::io::Result<AuditLog> {
        let out: Box<dyn Write + Send> = if path == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        Ok(AuditLog {
            out: Mutex::new(out),
        })
    }

    pub fn write(&self, e: &Event<'_>) {
        self.write_value(e);
    }

    /// Writes any event (consent, transfer and admin events have their
    /// own fields); callers put no raw value in it.
    pub fn write_value(&self, e: &impl Serialize) {
        let Ok(mut line) = serde_json::to_vec(e) else {
            return;
        };
        line.push(b'\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line, so lines from several tasks never interleave.
        if let Err(err) = out.write_all(&line).and_then(|()| out.flush()) {
            tracing::error!(error = %err, "cannot write the audit log");
        }
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
