//! `GET /simple-stats`: a lightweight page for small screens and scripts — every guest with
//! its status, CPU and memory, rendered on the server from the published state (no
//! JavaScript; the page refreshes itself every 5 s). Every value is HTML-escaped: names come
//! from Proxmox and must not become markup.

use super::AppState;
use crate::model::{Guest, State};
use std::fmt::Write;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::{Reply, Response};

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn mem_pct(g: &Guest) -> f64 {
    match &g.memory {
        Some(m) => m.usage,
        None if g.maxmem > 0 => g.mem as f64 * 100.0 / g.maxmem as f64,
        None => 0.0,
    }
}

pub fn render(s: &State) -> String {
    let mut guests: Vec<&Guest> = s
        .vms
        .iter()
        .chain(s.containers.iter())
        .map(|g| &**g)
        .collect();
    guests.sort_by(|a, b| (&a.instance, &a.node, a.vmid).cmp(&(&b.instance, &b.node, b.vmid)));
    let running = guests.iter().filter(|g| &*g.status == "running").count();
    let mut html = String::from(concat!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"5\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>Pulse - simple stats</title><style>",
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;width:100%}",
        "th,td{padding:.4em .6em;border-bottom:1px solid #ccc;text-align:left}",
        ".running{color:#1a7f37}.stopped{color:#b42318}",
        "</style></head><body>\n"
    ));
    let _ = writeln!(
        html,
        "<p>{} nodes, {} guests ({} running), {} storages</p>",
        s.nodes.len(),
        guests.len(),
        running,
        s.storage.len()
    );
    html.push_str(
        "<table><thead><tr><th>Name</th><th>ID</th><th>Type</th><th>Node</th>\
         <th>Status</th><th>CPU %</th><th>Memory %</th></tr></thead><tbody>\n",
    );
    for g in guests {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td>\
             <td>{:.1}</td><td>{:.1}</td></tr>",
            escape(&g.name),
            g.vmid,
            escape(g.kind),
            escape(&g.node),
            if &*g.status == "running" {
                "running"
            } else {
                "stopped"
            },
            escape(&g.status),
            g.cpu * 100.0,
            mem_pct(g),
        );
    }
    html.push_str("</tbody></table></body></html>\n");
    html
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("simple-stats")
        .and(warp::get())
        .map(move || {
            let p = state.inner.live.current();
            let mut r = render(&p.state).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_names_are_escaped() {
        let s = State {
            vms: vec![std::sync::Arc::new(Guest {
                name: "<script>alert(1)</script>".into(),
                kind: "qemu",
                status: "running".into(),
                vmid: 101,
                ..Default::default()
            })],
            ..Default::default()
        };
        let html = render(&s);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("1 guests (1 running)"));
    }
}
