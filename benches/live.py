#!/usr/bin/env python3
"""Live-monitoring benchmark: a release `pulse serve` polling a simulated fleet.

    cargo build --release
    python3 benches/live.py --clusters 1 --nodes 20 --guests 2000
    python3 benches/live.py --clusters 5 --nodes 10 --guests 1000
    python3 benches/live.py --smoke            # tiny fleet, a few seconds (CI)

Defaults: 5 minutes of warm-up, then a 5-minute window (so RSS is read 10 minutes in).

Measures, with the default 10 s PVE poll interval unless --interval says otherwise:
  * CPU time of the server per poll cycle: utime+stime deltas of /proc/<pid>/stat over the
    measuring window (--minutes after --warmup, no clients connected) divided by the cycles in it (one
    cycle = one poll interval, every instance polled once);
  * RSS (VmRSS) at the end of that window (plus the median and maximum of samples taken
    twice a second through it), and again after the client window;
  * Proxmox requests per minute and per cycle, from the simulator's request accounting
    (`/cluster/resources` per cluster per cycle is reported separately);
  * `/api/state` latency p50/p99 (sequential keep-alive GETs for --latency-seconds) while
    --ws WebSocket clients are connected and reading every update, and the server's CPU per
    cycle during that window (polling + WebSocket fan-out + the probes).
Only 127.0.0.1 is used. Prints one JSON document with the figures.
"""

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def thread_cpu(pid):
    """CPU seconds per thread name (pool threads' numeric suffixes merged: `pve-0`.. → `pve`).
    Threads that ended (the PVE poller's scoped guest-detail workers) are not listed; their
    time is the process total minus the sum, reported as `ended threads`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        name = head.split("(", 1)[1].rstrip("0123456789").rstrip("-")
        fields = tail.split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def http_json(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


class WsClient(threading.Thread):
    """A minimal WebSocket client that reads (and discards) every frame."""

    def __init__(self, port, source):
        super().__init__(daemon=True)
        self.port = port
        self.source = source
        self.bytes = 0
        self.status = None
        self.stop = False

    def run(self):
        s = socket.create_connection(("127.0.0.1", self.port), source_address=(self.source, 0))
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        s.settimeout(1.0)
        head = b""
        while b"\r\n\r\n" not in head and not self.stop:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            head += chunk
        try:
            self.status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            self.status = 0
        self.bytes = len(head)
        while not self.stop and self.status == 101:
            try:
                chunk = s.recv(1 << 16)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.bytes += len(chunk)
        s.close()


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


def by_thread(before, after, total, cycles):
    """Per-cycle CPU ms per thread name over a window, plus the threads that ended in it."""
    out, listed = {}, 0.0
    for name, t in after.items():
        d = t - before.get(name, 0)
        listed += d
        if d > 0:
            out[name] = round(d * 1000 / max(cycles, 1e-9), 1)
    out["ended threads"] = round(max(total - listed, 0) * 1000 / max(cycles, 1e-9), 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--guests", type=int, default=2000)
    ap.add_argument("--minutes", type=float, default=5, help="measuring window")
    ap.add_argument("--warmup", type=float, default=5,
                    help="minutes of polling before the window: the first readings of every "
                    "guest and their first steady refreshes (4-5 min) are start-up work, "
                    "not the steady state")
    ap.add_argument("--interval", type=int, default=10, help="PVE poll interval, seconds")
    ap.add_argument("--ws", type=int, default=50)
    ap.add_argument("--latency-seconds", type=float, default=30)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/pulse"))
    ap.add_argument("--smoke", action="store_true", help="tiny fleet, seconds (CI)")
    a = ap.parse_args()
    if a.smoke:
        a.clusters, a.nodes, a.guests, a.minutes, a.warmup = 1, 2, 10, 0.1, 0
        a.interval, a.ws, a.latency_seconds = 1, 3, 2
        if not os.path.exists(a.bin):
            a.bin = os.path.join(ROOT, "target/debug/pulse")

    data = tempfile.mkdtemp(prefix="pulse-bench-")
    sim = subprocess.Popen(
        [a.bin, "simulate", "--listen", "127.0.0.1:0", "--clusters", str(a.clusters),
         "--nodes", str(a.nodes), "--guests", str(a.guests), "--standalone", "0",
         "--pbs", "0", "--pmg", "0", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    doc = json.loads(sim.stdout.readline())
    admin = doc["admin"]
    port = free_port()
    env = dict(os.environ, PVE_POLLING_INTERVAL=str(a.interval), LOG_LEVEL="warn")
    srv = subprocess.Popen(
        [a.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    clients = []
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        for i in doc["instances"]:
            http_json("POST", base + "/api/config/nodes", {
                "type": "pve", "name": i["name"], "host": i["url"],
                "tokenName": i["tokenId"], "tokenValue": i["tokenValue"],
                "fingerprint": i["fingerprint"]})
        want = a.clusters * a.nodes
        t0 = time.time()
        while True:
            st = http_json("GET", base + "/api/state")
            guests = len(st["vms"]) + len(st["containers"])
            if len(st["nodes"]) == want and guests > 0 and all(st["connectionHealth"].values()):
                break
            if time.time() - t0 > 300:
                sys.exit(f"fleet not up after 300 s: {len(st['nodes'])} nodes")
            time.sleep(1)
        # One slow-cadence cycle (agent data, backups) is done before measuring, and the
        # warm-up has passed.
        time.sleep(max(a.interval * 1.5, a.warmup * 60))

        # Window 1: steady polling, no clients (the poller's own cost).
        http_json("POST", admin + "/accounting/reset")
        cpu0, w0, th0 = cpu_seconds(srv.pid), time.time(), thread_cpu(srv.pid)
        # RSS sampled twice a second through the window: with a decaying allocator the
        # figure depends on where in the cycle it is read, so the median and the maximum
        # are reported beside the reading at the end.
        rss_samples = []
        while time.time() < w0 + a.minutes * 60:
            rss_samples.append(rss_mb(srv.pid))
            time.sleep(0.5)
        rss_samples.sort()
        cpu1, w1, th1 = cpu_seconds(srv.pid), time.time(), thread_cpu(srv.pid)
        acc = http_json("GET", admin + "/accounting")
        rss = rss_mb(srv.pid)
        window = w1 - w0
        cycles = window / a.interval
        total = sum(v.get("total", 0) for v in acc.values()) if isinstance(acc, dict) else 0
        by_path = {}
        for v in acc.values():
            for p, n in v.get("byPath", {}).items():
                by_path[p] = by_path.get(p, 0) + n
        polls = by_path.get("/nodes", 0)

        # Window 2: the WebSocket clients connect and read every update; /api/state latency
        # (sequential keep-alive GETs) and the server's CPU with that load.
        # The server admits 5 WebSocket upgrades per minute per address (spec: rate limits),
        # so each batch of 5 clients connects from its own loopback address (127.0.0.2, .3, …;
        # all of 127/8 is the loopback interface) instead of waiting a minute per batch.
        for i in range(a.ws):
            c = WsClient(port, f"127.0.0.{2 + i // 5}")
            c.start()
            clients.append(c)
        # Every client gets its initialState before the measuring starts.
        time.sleep(max(5, a.interval))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        lat, size = [], 0
        cpu2, w2 = cpu_seconds(srv.pid), time.time()
        end = time.time() + a.latency_seconds
        while time.time() < end:
            t = time.perf_counter()
            conn.request("GET", "/api/state")
            body = conn.getresponse().read()
            lat.append((time.perf_counter() - t) * 1000)
            size = len(body)
        cpu3, w3 = cpu_seconds(srv.pid), time.time()
        rss_ws = rss_mb(srv.pid)
        out = {
            "fleet": {"clusters": a.clusters, "nodesPerCluster": a.nodes,
                      "guestsPerCluster": a.guests, "guests": guests,
                      "pollIntervalS": a.interval},
            "warmupMin": a.warmup,
            "windowS": round(window, 1),
            "cycles": round(cycles, 1),
            "instancePolls": polls,
            "cpuMsPerCycle": round((cpu1 - cpu0) * 1000 / max(cycles, 1e-9), 1),
            "cpuMsPerInstancePoll": round((cpu1 - cpu0) * 1000 / max(polls, 1), 1),
            "cpuPercentOfOneCore": round((cpu1 - cpu0) / window * 100, 2),
            "cpuMsPerCycleByThread": by_thread(th0, th1, cpu1 - cpu0, cycles),
            "rssMB": round(rss, 1),
            "rssMedianMB": round(rss_samples[len(rss_samples) // 2], 1),
            "rssMaxMB": round(rss_samples[-1], 1),
            "rssWithClientsMB": round(rss_ws, 1),
            "cpuMsPerCycleWithClientsAndProbes":
                round((cpu3 - cpu2) * 1000 / max((w3 - w2) / a.interval, 1e-9), 1),
            "proxmoxRequestsPerMinute": round(total / window * 60, 1),
            "proxmoxRequestsPerCycle": round(total / max(cycles, 1e-9), 1),
            "clusterResourcesPerClusterPerCycle":
                round(by_path.get("/cluster/resources", 0) / max(cycles, 1e-9) / a.clusters, 2),
            "topPaths": sorted(by_path.items(), key=lambda kv: -kv[1])[:8],
            "stateBytes": size,
            "stateRequests": len(lat),
            "stateP50ms": round(statistics.median(lat), 2) if lat else None,
            "stateP99ms": round(percentile(lat, 99), 2) if lat else None,
            "wsClients": a.ws,
            "wsConnected": sum(1 for c in clients if c.status == 101),
            "wsBytesPerClient": int(statistics.median([c.bytes for c in clients])) if clients else 0,
        }
        print(json.dumps(out, indent=1))
    finally:
        for c in clients:
            c.stop = True
        srv.terminate()
        sim.terminate()
        srv.wait(30)
        sim.wait(30)


if __name__ == "__main__":
    main()
