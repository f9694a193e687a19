// Test harness for the browser tests: starts the real `pulse` binary (and simulators) on
// 127.0.0.1 with a temp data dir, and Debian's chromium through playwright-core.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const repo = resolve(new URL("../..", import.meta.url).pathname);
export const bin = process.env.PULSE_BIN ?? join(repo, "target/debug/pulse");
export const shots = join(repo, "ui/test-results/screenshots");
mkdirSync(shots, { recursive: true });

const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

export function freePort() {
  return new Promise((ok, bad) => {
    const s = createServer();
    s.once("error", bad);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export async function waitFor(fn, what, ms = 30000, every = 200) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}`);
}

/** `pulse serve --demo` on a free loopback port with its own data dir. */
export async function startPulse(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "pulse-ui-"));
  const port = await freePort();
  const child = spawn(bin, ["serve", "--demo", "--listen", `127.0.0.1:${port}`, "--data-dir", dir], {
    env: { ...process.env, RUST_LOG: "warn", PULSE_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/api/health`)).ok, `pulse on ${url} (${stderr})`);
  return {
    url,
    dir,
    child,
    bootstrapToken: () => readFileSync(join(dir, ".bootstrap_token"), "utf8").trim(),
    stop() {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `pulse simulate --listen 127.0.0.1:0 …`: resolves with its JSON document. */
export function startSimulator(args) {
  const child = spawn(bin, ["simulate", "--listen", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return new Promise((ok, bad) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => ok({ doc: JSON.parse(l), stop: () => child.kill("SIGTERM") }));
    child.once("exit", (c) => bad(new Error(`simulator exited ${c}`)));
  });
}

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
}
