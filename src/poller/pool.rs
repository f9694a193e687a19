//! A fixed pool of OS threads for blocking work (Proxmox polls). Pollers never run on tokio
//! workers, and the thread count never grows: a slow or hung poll occupies one thread until
//! its own request timeout fires.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce() + Send + 'static>;

pub struct Pool {
    tx: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the poller pool is shut down")]
pub struct PoolClosed;

impl Pool {
    pub fn new(threads: usize, name: &str) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..threads.max(1))
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn(move || {
                        loop {
                            // The lock is held only while waiting for the next job.
                            let job = match rx.lock() {
                                Ok(guard) => guard.recv(),
                                Err(_) => return,
                            };
                            match job {
                                Ok(job) => job(),
                                Err(_) => return, // pool dropped
                            }
                        }
                    })
                    .expect("spawning a poller thread at start-up")
            })
            .collect();
        Pool {
            tx: Some(tx),
            threads,
        }
    }

    pub fn size(&self) -> usize {
        self.threads.len()
    }

    pub fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolClosed> {
        self.tx
            .as_ref()
            .ok_or(PoolClosed)?
            .send(Box::new(job))
            .map_err(|_| PoolClosed)
    }
}

impl Drop for Pool {
    /// Finishes queued jobs, then joins the threads.
    fn drop(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn runs_jobs_concurrently_on_a_fixed_set_of_threads() {
        let pool = Pool::new(4, "test-poller");
        let barrier = Arc::new(Barrier::new(4));
        let (tx, rx) = mpsc::channel();
        for _ in 0..4 {
            let b = barrier.clone();
            let tx = tx.clone();
            // All four must be running at once to pass the barrier.
            pool.submit(move || {
                b.wait();
                tx.send(std::thread::current().name().map(String::from))
                    .unwrap();
            })
            .unwrap();
        }
        let mut names: Vec<_> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap())
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 4);
        for _ in 0..200 {
            let tx = tx.clone();
            pool.submit(move || {
                tx.send(std::thread::current().name().map(String::from))
                    .unwrap()
            })
            .unwrap();
        }
        let mut all: Vec<_> = (0..200).map(|_| rx.recv().unwrap().unwrap()).collect();
        all.sort();
        all.dedup();
        assert!(all.len() <= 4, "no thread growth: {all:?}");
        assert_eq!(pool.size(), 4);
    }

    #[test]
    fn drop_finishes_queued_work() {
        let (tx, rx) = mpsc::channel();
        {
            let pool = Pool::new(1, "p");
            for i in 0..10 {
                let tx = tx.clone();
                pool.submit(move || tx.send(i).unwrap()).unwrap();
            }
        }
        assert_eq!(rx.try_iter().count(), 10);
    }
}
