//! One poller's helper threads for its per-guest calls, kept between cycles.
//!
//! Until session 10 every PVE poll started its helpers as scoped threads and ended them
//! before returning: at 5 clusters that was 20 thread starts and exits per 10 s cycle, and
//! each exit flushed the thread's allocator cache and handed its pages back (3 % of a poll
//! cycle's CPU in `perf`), only for the next cycle's threads to fault them in again. These
//! threads live as long as their poller (an instance removed ends its threads) and start on
//! first need, so a small instance never has any.
//!
//! A batch is shared by reference count; the poll's own thread works on it too and returns
//! only when every item is done, so no call outlives the poll that asked for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Work handed to the threads: `run` takes items until none are left.
pub trait Batch: Send + Sync + 'static {
    fn run(&self);
}

pub struct Workers {
    /// Thread name prefix (shown in `top -H`, `perf`).
    name: String,
    threads: Mutex<Vec<Sender<Ticket>>>,
}

/// A batch with the count of threads still working on it.
struct Shared {
    batch: Arc<dyn Batch>,
    busy: Mutex<usize>,
    idle: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One thread's share of a batch. Dropping it counts that thread off, however its part
/// ends: done, panicked, or never received (a thread gone before it was taken), so the poll
/// waiting for the batch is never left hanging.
struct Ticket(Arc<Shared>);

impl Ticket {
    fn new(shared: &Arc<Shared>) -> Self {
        *lock(&shared.busy) += 1;
        Ticket(shared.clone())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut busy = lock(&self.0.busy);
        *busy -= 1;
        if *busy == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Workers {
    pub fn new(name: &str) -> Self {
        Workers {
            name: name.to_owned(),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Runs `batch` on the calling thread and on `helpers` of these threads (started when
    /// fewer exist), and returns when all of them are done with it.
    pub fn run(&self, batch: Arc<dyn Batch>, helpers: usize) {
        let shared = Arc::new(Shared {
            batch,
            busy: Mutex::new(0),
            idle: Condvar::new(),
        });
        {
            let mut threads = lock(&self.threads);
            for i in 0..helpers {
                let ticket = Ticket::new(&shared);
                let ticket = match threads.get(i) {
                    Some(tx) => match tx.send(ticket) {
                        Ok(()) => continue,
                        Err(e) => e.0,
                    },
                    None => ticket,
                };
                // Not started yet, or gone (it panicked): a new thread takes the slot. If
                // none can be started, the ticket is dropped and the others do the work.
                if let Some(tx) = self.spawn(i)
                    && tx.send(ticket).is_ok()
                {
                    if i < threads.len() {
                        threads[i] = tx;
                    } else {
                        threads.push(tx);
                    }
                }
            }
        }
        {
            let _mine = Ticket::new(&shared);
            shared.batch.run();
        }
        let mut busy = lock(&shared.busy);
        while *busy > 0 {
            busy = shared.idle.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn spawn(&self, i: usize) -> Option<Sender<Ticket>> {
        let (tx, rx) = channel::<Ticket>();
        std::thread::Builder::new()
            .name(format!("{}-{i}", self.name))
            .spawn(move || {
                // Ends when the poller (and with it the sender) is dropped.
                while let Ok(ticket) = rx.recv() {
                    ticket.0.batch.run();
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

/// Items taken in turn by whichever thread is free; results by item position.
pub struct Items<T, R> {
    items: Vec<T>,
    next: AtomicUsize,
    work: fn(&T) -> R,
    out: Mutex<Vec<(usize, R)>>,
}

impl<T, R> Items<T, R> {
    pub fn new(items: Vec<T>, work: fn(&T) -> R) -> Self {
        Items {
            out: Mutex::new(Vec::with_capacity(items.len())),
            items,
            next: AtomicUsize::new(0),
            work,
        }
    }

    /// The results so far with the index of the item each came from, in no particular
    /// order (all of them once `Workers::run` returned; a helper may still hold the batch
    /// for a moment after, which is why this does not need it alone).
    pub fn take_results(&self) -> Vec<(usize, R)> {
        std::mem::take(&mut *lock(&self.out))
    }
}

impl<T: Send + Sync + 'static, R: Send + 'static> Batch for Items<T, R> {
    fn run(&self) {
        let mut mine = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = self.items.get(i) else { break };
            mine.push((i, (self.work)(item)));
        }
        lock(&self.out).append(&mut mine);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: &u64) -> u64 {
        std::thread::sleep(std::time::Duration::from_millis(1));
        x * x
    }

    fn run(w: &Workers, n: u64, helpers: usize) -> Vec<u64> {
        let items = Arc::new(Items::new((0..n).collect(), square));
        w.run(items.clone(), helpers);
        let mut out = items.take_results();
        out.sort_unstable();
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

    fn explode(x: &u64) -> u64 {
        if *x == 3 {
            panic!("item 3");
        }
        *x
    }

    #[test]
    fn a_thread_that_panics_does_not_hang_the_batch_and_is_replaced() {
        let w = Workers::new("p");
        // Item 3 panics on whichever thread takes it; the batch still returns.
        let items = Arc::new(Items::new(vec![1u64, 2, 3, 4], explode));
        let caller =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(items.clone(), 2)));
        // Either the caller panicked on item 3 or a helper did; both end, nothing hangs.
        let _ = caller;
        let ok = run(&w, 30, 2);
        assert_eq!(ok.len(), 30);
    }
}
