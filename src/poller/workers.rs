//! Helper threads for the pollers' per-guest calls, shared by every poller and kept for the
//! life of the process.
//!
//! Until session 10 every PVE poll started 4 scoped threads and ended them before
//! returning: at 5 clusters that was 20 thread starts and exits per 10 s cycle, and each exit
//! flushed the thread's allocator cache and handed its pages back (3 % of a poll cycle's CPU
//! in `perf`), only for the next cycle's threads to fault them in again. Kept per poller,
//! 15 idle threads held 3.5 MB of touched stacks and caches; shared, there are `HELPERS`.
//!
//! Helpers only add speed, they are never needed: the poll's own thread works through its
//! batch too, and waits only for items a helper has *started*. A helper busy with another
//! instance's slow call (an agent that takes its full timeout) therefore never holds a poll
//! up; the batch it reaches later is already empty. No call outlives the poll that asked
//! for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};

/// Threads shared by all pollers (the poll's own thread makes a fourth).
pub const HELPERS: usize = 3;

/// Work handed to the threads: `run` takes items until none are left.
pub trait Batch: Send + Sync + 'static {
    fn run(&self);
}

pub struct Workers {
    /// Thread name prefix (shown in `top -H`, `perf`).
    name: &'static str,
    threads: Mutex<Vec<Sender<Arc<dyn Batch>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The process's helpers for per-guest calls.
pub fn shared() -> &'static Workers {
    static SHARED: LazyLock<Workers> = LazyLock::new(|| Workers::new("guest-calls"));
    &SHARED
}

impl Workers {
    pub const fn new(name: &'static str) -> Self {
        Workers {
            name,
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Offers `items` to `helpers` of these threads (started when fewer exist), works
    /// through them on the calling thread too, and returns when every item is done.
    pub fn run<C: Send + Sync + 'static, T: Send + Sync + 'static, R: Send + 'static>(
        &self,
        items: &Arc<Items<C, T, R>>,
        helpers: usize,
    ) {
        {
            let mut threads = lock(&self.threads);
            for i in 0..helpers {
                let batch: Arc<dyn Batch> = items.clone();
                let batch = match threads.get(i) {
                    Some(tx) => match tx.send(batch) {
                        Ok(()) => continue,
                        Err(e) => e.0,
                    },
                    None => batch,
                };
                // Not started yet, or gone (it panicked): a new thread takes the slot. If
                // none can be started, the calling thread does the work.
                if let Some(tx) = self.spawn(i)
                    && tx.send(batch).is_ok()
                {
                    if i < threads.len() {
                        threads[i] = tx;
                    } else {
                        threads.push(tx);
                    }
                }
            }
        }
        items.run();
        items.wait();
    }

    fn spawn(&self, i: usize) -> Option<Sender<Arc<dyn Batch>>> {
        let (tx, rx) = channel::<Arc<dyn Batch>>();
        std::thread::Builder::new()
            .name(format!("{}-{i}", self.name))
            .spawn(move || {
                while let Ok(batch) = rx.recv() {
                    batch.run();
                }
            })
            .ok()?;
        Some(tx)
    }

    /// Threads started so far.
    pub fn started(&self) -> usize {
        lock(&self.threads).len()
    }
}

/// Items taken in turn by whichever thread is free, each worked on with the batch's shared
/// context `C` (one for the batch, not a copy per item); results by item position.
pub struct Items<C, T, R> {
    ctx: C,
    items: Vec<T>,
    next: AtomicUsize,
    work: fn(&C, &T) -> R,
    /// Results, and how many items are finished (with or without a result).
    out: Mutex<(Vec<(usize, R)>, usize)>,
    all_done: Condvar,
}

/// Counts an item finished however its work ends, a panic included, so the poll waiting for
/// the batch is never left hanging.
struct Finish<'a, C, T, R> {
    items: &'a Items<C, T, R>,
    result: Option<(usize, R)>,
}

impl<C, T, R> Drop for Finish<'_, C, T, R> {
    fn drop(&mut self) {
        let mut out = lock(&self.items.out);
        out.0.extend(self.result.take());
        out.1 += 1;
        if out.1 == self.items.items.len() {
            self.items.all_done.notify_all();
        }
    }
}

impl<C, T, R> Items<C, T, R> {
    pub fn new(ctx: C, items: Vec<T>, work: fn(&C, &T) -> R) -> Self {
        Items {
            ctx,
            out: Mutex::new((Vec::with_capacity(items.len()), 0)),
            items,
            next: AtomicUsize::new(0),
            work,
            all_done: Condvar::new(),
        }
    }

    fn wait(&self) {
        let mut out = lock(&self.out);
        while out.1 < self.items.len() {
            out = self.all_done.wait(out).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The results with the index of the item each came from, in no particular order (all
    /// of them once `Workers::run` returned).
    pub fn take_results(&self) -> Vec<(usize, R)> {
        std::mem::take(&mut lock(&self.out).0)
    }
}

impl<C: Send + Sync + 'static, T: Send + Sync + 'static, R: Send + 'static> Batch
    for Items<C, T, R>
{
    fn run(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = self.items.get(i) else { break };
            let mut done = Finish {
                items: self,
                result: None,
            };
            done.result = Some((i, (self.work)(&self.ctx, item)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn square(_: &(), x: &u64) -> u64 {
        std::thread::sleep(Duration::from_millis(1));
        x * x
    }

    fn run(w: &Workers, n: u64, helpers: usize) -> Vec<u64> {
        let items = Arc::new(Items::new((), (0..n).collect(), square));
        w.run(&items, helpers);
        let mut out = items.take_results();
        out.sort_unstable();
        assert_eq!(out.len() as u64, n);
        out.into_iter()
            .map(|(i, r)| {
                assert_eq!(r, (i as u64) * (i as u64));
                r
            })
            .collect()
    }

    #[test]
    fn every_item_is_done_once_and_threads_are_kept() {
        let w = Workers::new("t");
        assert_eq!(run(&w, 50, 3).len(), 50);
        assert_eq!(w.started(), 3);
        assert_eq!(run(&w, 7, 3).len(), 7);
        assert_eq!(w.started(), 3, "the same threads serve the next batch");
        assert_eq!(run(&w, 0, 2).len(), 0);
        assert_eq!(run(&w, 20, 0).len(), 20, "the caller alone");
    }

    fn slow(_: &(), x: &u64) -> u64 {
        std::thread::sleep(Duration::from_millis(*x));
        *x
    }

    #[test]
    fn a_helper_busy_elsewhere_does_not_hold_a_batch_up() {
        let w = Arc::new(Workers::new("b"));
        // One helper takes the single 800 ms item of the first batch...
        let first = Arc::new(Items::new((), vec![800u64], slow));
        let w1 = w.clone();
        let f1 = first.clone();
        let t = std::thread::spawn(move || w1.run(&f1, 1));
        std::thread::sleep(Duration::from_millis(100));
        // ...so the second batch, offered to that busy helper, is done by its caller alone.
        let started = Instant::now();
        let second = Arc::new(Items::new((), vec![1u64; 20], slow));
        w.run(&second, 1);
        assert_eq!(second.take_results().len(), 20);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "waited {:?} for a helper busy with another batch",
            started.elapsed()
        );
        t.join().unwrap();
        assert_eq!(first.take_results(), vec![(0, 800)]);
    }

    fn explode(_: &(), x: &u64) -> u64 {
        if *x == 3 {
            panic!("item 3");
        }
        *x
    }

    #[test]
    fn a_thread_that_panics_does_not_hang_the_batch_and_is_replaced() {
        let w = Workers::new("p");
        let items = Arc::new(Items::new((), vec![1u64, 2, 3, 4], explode));
        // Item 3 panics on whichever thread takes it (the caller's panic is caught here);
        // either way the call returns instead of waiting for it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&items, 2)));
        assert!(items.take_results().len() <= 3);
        assert_eq!(run(&w, 30, 2).len(), 30);
    }
}
