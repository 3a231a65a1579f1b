//! The threads that serve connections: one single-threaded tokio runtime
//! each, as many as the CPUs by default (the config's `workers`).
//!
//! A connection stays on the worker it was given, with every task it
//! spawns (HTTP/2 streams, the upstream connections of that worker's own
//! pool), and its socket is registered with that worker's reactor. So a
//! request and the upstream connection it rides wake one thread only: on
//! the work-stealing runtime before, the client's connection and the
//! upstream's were often polled on different threads, one waking the
//! other. The load benchmark serves 8–11 % more pages per second, and 29 %
//! more small JSON answers, this way (README, Measured speed).
//!
//! Each new connection goes to the worker serving the fewest.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result};

thread_local! {
    /// This thread's worker number; 0 on every other thread.
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The worker the current thread is (0 off the workers): which of a
/// generation's upstream clients to use.
pub fn current() -> usize {
    INDEX.with(Cell::get)
}

/// The worker threads. Dropping this stops them, and with them every
/// connection still open on them.
pub struct Workers {
    workers: Vec<Worker>,
    /// Where the search for the least busy worker starts next, so that
    /// ties go round.
    next: AtomicUsize,
}

struct Worker {
    handle: tokio::runtime::Handle,
    /// Connections open on this worker.
    open: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Counts a connection open from its spawn until its task ends or is
/// dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Workers {
    /// Starts `n` workers (at least one); `0` means one per CPU.
    pub fn start(n: usize) -> Result<Workers> {
        let n = match n {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a worker runtime")?;
            let handle = rt.handle().clone();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("zaslon-worker-{i}"))
                .spawn(move || {
                    INDEX.with(|c| c.set(i));
                    let _ = rt.block_on(stopped);
                    // Dropping the runtime drops the connections left.
                    drop(rt);
                })
                .context("cannot start a worker thread")?;
            workers.push(Worker {
                handle,
                open: Arc::new(AtomicUsize::new(0)),
                stop: Some(stop),
            });
        }
        Ok(Workers {
            workers,
            next: AtomicUsize::new(0),
        })
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Whether there are none (never: `start` makes at least one).
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Runs a connection on the worker with the fewest open, and returns
    /// that worker's number.
    pub fn spawn<F>(&self, connection: F) -> usize
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let i = (start..n)
            .chain(0..start)
            .min_by_key(|&i| self.workers[i].open.load(Ordering::Relaxed))
            .unwrap_or(0);
        let w = &self.workers[i];
        w.open.fetch_add(1, Ordering::Relaxed);
        let open = Open(w.open.clone());
        w.handle.spawn(async move {
            let _open = open;
            connection.await;
        });
        i
    }

    /// Connections open on each worker.
    pub fn open(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.open.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.workers {
            if let Some(stop) = w.stop.take() {
                let _ = stop.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn connections_go_to_the_least_busy_worker_and_stay_on_its_thread() {
        let w = Workers::start(2).unwrap();
        assert_eq!(w.len(), 2);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut releases = Vec::new();
        let mut picked = Vec::new();
        for _ in 0..4 {
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            releases.push(release);
            let tx = tx.clone();
            picked.push(w.spawn(async move {
                let before = (std::thread::current().id(), current());
                tokio::task::yield_now().await;
                let _ = released.await;
                let after = (std::thread::current().id(), current());
                let _ = tx.send((before, after));
            }));
        }
        // Two each: every new one went to the worker with fewer open.
        assert_eq!(w.open(), vec![2, 2]);
        let mut sorted = picked.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 0, 1, 1]);
        // A worker with fewer open gets the next, whatever the turn.
        drop(releases.remove(picked.iter().position(|&p| p == 1).unwrap()));
        assert!(wait_until(|| w.open() == vec![2, 1]));
        assert_eq!(w.spawn(std::future::pending()), 1);
        for r in releases {
            let _ = r.send(());
        }
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (before, after) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(before, after, "a connection moved between threads");
            assert_ne!(before.0, std::thread::current().id());
            seen.push(before);
        }
        seen.sort_by_key(|s| s.1);
        seen.dedup();
        assert_eq!(seen.len(), 2, "two workers, two threads: {seen:?}");
        assert_eq!(seen[0].1, 0);
        assert_eq!(seen[1].1, 1);
        assert_ne!(seen[0].0, seen[1].0);
    }

    #[test]
    fn dropping_the_workers_ends_their_connections() {
        let w = Workers::start(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The sender lives in the task: it is dropped when the task is.
        w.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        assert_eq!(w.open(), vec![1]);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        drop(w);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn zero_means_one_per_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(Workers::start(0).unwrap().len(), cpus);
        assert_eq!(current(), 0);
    }
}
