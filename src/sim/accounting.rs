//! Request accounting: how many calls each instance received, per path template and per
//! credential, so poller efficiency can be measured (`GET /accounting` on the admin port).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Accounting {
    inner: Mutex<BTreeMap<String, Counts>>,
}

#[derive(Debug, Default, Clone)]
struct Counts {
    total: u64,
    by_path: BTreeMap<String, u64>,
    by_credential: BTreeMap<String, u64>,
    by_path_and_credential: BTreeMap<(String, String), u64>,
}

/// Reduces a concrete API path to its template: `/nodes/pve1/qemu/105/status/current` ->
/// `/nodes/{node}/qemu/{vmid}/status/current`.
pub fn template(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let pprev = if i > 1 { segs[i - 2] } else { "" };
        let t = match prev {
            "nodes" => "{node}",
            "qemu" | "lxc" => "{vmid}",
            "tasks" => "{upid}",
            "datastore" if pprev == "admin" => "{store}",
            "storage" if !pprev.is_empty() && pprev != "api2" => "{storage}",
            "zfs" => "{name}",
            "agent" => s,
            "queue" if pprev == "postfix" => "{queue}",
            _ => s,
        };
        out.push(t);
    }
    format!("/{}", out.join("/"))
}

impl Accounting {
    pub fn record(&self, instance: &str, path: &str, credential: &str) {
        let tpl = template(path);
        let Ok(mut m) = self.inner.lock() else { return };
        let c = m.entry(instance.to_string()).or_default();
        c.total += 1;
        *c.by_path.entry(tpl.clone()).or_default() += 1;
        *c.by_credential.entry(credential.to_string()).or_default() += 1;
        *c.by_path_and_credential
            .entry((tpl, credential.to_string()))
            .or_default() += 1;
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.clear();
        }
    }

    pub fn snapshot(&self) -> Value {
        let Ok(m) = self.inner.lock() else {
            return json!({});
        };
        let mut out = serde_json::Map::new();
        for (inst, c) in m.iter() {
            let combos: Vec<Value> = c
                .by_path_and_credential
                .iter()
                .map(|((p, cr), n)| json!({"path": p, "credential": cr, "count": n}))
                .collect();
            out.insert(inst.clone(), json!({"total": c.total, "byPath": c.by_path, "byCredential": c.by_credential, "byPathAndCredential": combos}));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            template("/nodes/pve1/qemu/105/status/current"),
            "/nodes/{node}/qemu/{vmid}/status/current"
        );
        assert_eq!(
            template("/nodes/pve1/storage/local/content"),
            "/nodes/{node}/storage/{storage}/content"
        );
        assert_eq!(template("/storage"), "/storage");
        assert_eq!(
            template("/admin/datastore/store1/snapshots"),
            "/admin/datastore/{store}/snapshots"
        );
        assert_eq!(
            template("/nodes/n/tasks/UPID:n:1:2:3:vzdump:100:root@pam:/status"),
            "/nodes/{node}/tasks/{upid}/status"
        );
        assert_eq!(
            template("/nodes/n/qemu/100/agent/get-fsinfo"),
            "/nodes/{node}/qemu/{vmid}/agent/get-fsinfo"
        );
    }

    #[test]
    fn counts_per_path_and_credential() {
        let a = Accounting::default();
        a.record("c1", "/nodes", "token:root@pam!pulse");
        a.record("c1", "/nodes", "token:root@pam!pulse");
        a.record("c1", "/nodes/x/status", "anonymous");
        let s = a.snapshot();
        assert_eq!(s["c1"]["total"], 3);
        assert_eq!(s["c1"]["byPath"]["/nodes"], 2);
        assert_eq!(s["c1"]["byCredential"]["anonymous"], 1);
        a.reset();
        assert_eq!(a.snapshot(), json!({}));
    }
}
