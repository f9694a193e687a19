//! Polling: when to poll each instance (`scheduler`), when to stop trying (`breaker`), and the
//! injected clock they share. The blocking polls themselves run on a small thread pool.

pub mod breaker;
pub mod clock;
pub mod pool;
pub mod scheduler;
