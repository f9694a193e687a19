#!/usr/bin/env python3
"""Foundation benchmark: start-to-healthy time, idle RSS, release binary size.

Usage: python3 benches/foundation.py [--runs N] [--idle SECONDS] [--bin PATH]
Builds nothing itself: run `cargo build --release` first (or pass --bin).
Start-to-healthy is measured from process spawn to the first 200 from /api/health,
polling every 0.5 ms over loopback; reported as the median of N runs on fresh data dirs.
"""
import argparse, http.client, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def healthy(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        c.request("GET", "/api/health"); ok = c.getresponse().status == 200; c.close(); return ok
    except OSError:
        return False

def start(binary, data):
    port = free_port()
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthy(port):
        if p.poll() is not None: sys.exit("server exited")
        if time.perf_counter() - t0 > 10: sys.exit("not healthy in 10 s")
        time.sleep(0.0005)
    return p, port, (time.perf_counter() - t0) * 1000

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--bin", default="target/release/pulse")
    a = ap.parse_args()
    size = os.path.getsize(a.bin)
    cold, warm = [], []
    for _ in range(a.runs):
        d = tempfile.mkdtemp()
        p, _, ms = start(a.bin, d); cold.append(ms); p.send_signal(signal.SIGTERM); p.wait()
        p, _, ms = start(a.bin, d); warm.append(ms); p.send_signal(signal.SIGTERM); p.wait()
        shutil.rmtree(d)
    d = tempfile.mkdtemp()
    p, port, _ = start(a.bin, d)
    for _ in range(10): healthy(port)
    time.sleep(a.idle)
    rss = rss_kib(p.pid)
    p.send_signal(signal.SIGTERM); code = p.wait(); shutil.rmtree(d)
    print(f"binary size:                    {size/1e6:.2f} MB ({size} bytes)")
    print(f"start-to-healthy, new data dir:  median {statistics.median(cold):.1f} ms (n={a.runs}, min {min(cold):.1f}, max {max(cold):.1f})")
    print(f"start-to-healthy, existing dir:  median {statistics.median(warm):.1f} ms (n={a.runs}, min {min(warm):.1f}, max {max(warm):.1f})")
    print(f"idle RSS after {a.idle:.0f} s:             {rss/1024:.1f} MiB")
    print(f"exit code after SIGTERM:         {code}")

if __name__ == "__main__":
    main()
