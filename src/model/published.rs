//! The current state, published: each new `State` is serialized to JSON once, and every
//! reader (`/api/state`, each WebSocket client) shares those bytes. Readers that fall behind
//! simply see the newest value next time; nobody waits for a slow reader.

use super::State;
use bytes::Bytes;
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Debug)]
pub struct Published {
    pub state: Arc<State>,
    /// The frontend-shape JSON of `state`.
    pub json: Bytes,
    /// Increases by one per publish.
    pub seq: u64,
}

#[derive(Clone)]
pub struct StateCell {
    tx: Arc<watch::Sender<Arc<Published>>>,
}

impl Default for StateCell {
    fn default() -> Self {
        Self::new(State::default())
    }
}

impl StateCell {
    pub fn new(initial: State) -> StateCell {
        let first = Arc::new(encode(Arc::new(initial), 0));
        let (tx, _rx) = watch::channel(first);
        StateCell { tx: Arc::new(tx) }
    }

    pub fn current(&self) -> Arc<Published> {
        self.tx.borrow().clone()
    }

    /// Replaces the state; serialization happens here, once.
    pub fn publish(&self, state: State) -> Arc<Published> {
        let seq = self.tx.borrow().seq + 1;
        let p = Arc::new(encode(Arc::new(state), seq));
        self.tx.send_replace(p.clone());
        p
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }
}

fn encode(state: Arc<State>, seq: u64) -> Published {
    // Serializing plain structs of strings and finite numbers cannot fail; NaN/Inf become
    // null in serde_json, never an error. Fall back to an empty object regardless.
    let json = serde_json::to_vec(&*state).unwrap_or_else(|_| b"{}".to_vec());
    Published {
        state,
        json: Bytes::from(json),
        seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_serializes_once_and_notifies() {
        let cell = StateCell::default();
        let mut rx = cell.subscribe();
        assert_eq!(cell.current().seq, 0);
        let s = State {
            last_update: 42,
            ..Default::default()
        };
        cell.publish(s);
        assert!(rx.has_changed().unwrap());
        let p = rx.borrow_and_update().clone();
        assert_eq!(p.seq, 1);
        let v: serde_json::Value = serde_json::from_slice(&p.json).unwrap();
        assert_eq!(v["lastUpdate"], 42);
        assert!(
            Arc::ptr_eq(&p, &cell.current()),
            "readers share one encoding"
        );
    }
}
