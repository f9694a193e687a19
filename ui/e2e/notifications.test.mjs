// Browser test of Settings → Notifications against the real `pulse serve --demo` binary, with
// a minimal SMTP sink and an HTTP webhook receiver that this test starts on 127.0.0.1.
// Loopback webhooks are refused by the server's URL guard unless allowed, so the server is
// started with PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS=127.0.0.1/32 (the documented setting).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { launchBrowser, shot, startPulse, waitFor } from "./harness.mjs";

const PASSWORD = "correct horse battery";

/** Just enough SMTP for lettre: greeting, EHLO, MAIL, RCPT, DATA, QUIT. A recipient
 * starting with "reject" gets a 554, so the UI's error path sees a real SMTP refusal. */
function startSmtpSink() {
  const mails = [];
  const server = createTcpServer((sock) => {
    let buf = "";
    let inData = false;
    let mail = { from: "", to: [], data: "" };
    const say = (l) => sock.write(l + "\r\n");
    say("220 sink.test ESMTP");
    sock.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      for (;;) {
        if (inData) {
          const end = buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          mail.data = buf.slice(0, end);
          buf = buf.slice(end + 5);
          inData = false;
          mails.push(mail);
          mail = { from: "", to: [], data: "" };
          say("250 2.0.0 queued");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === "EHLO" || cmd === "HELO") say("250 sink.test");
        else if (cmd === "MAIL") (mail.from = line), say("250 2.1.0 ok");
        else if (cmd === "RCPT") {
          if (/<reject/i.test(line)) say("554 5.7.1 Relay access denied for this recipient");
          else mail.to.push(line), say("250 2.1.5 ok");
        } else if (cmd === "DATA") (inData = true), say("354 end with <CRLF>.<CRLF>");
        else if (cmd === "RSET" || cmd === "NOOP") say("250 ok");
        else if (cmd === "QUIT") say("221 bye"), sock.end();
        else say("502 5.5.2 not implemented");
      }
    });
    sock.on("error", () => {});
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ port: server.address().port, mails, close: () => server.close() })));
}

/** Records every request; paths under /fail answer 500. */
function startReceiver() {
  const hits = [];
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      hits.push({ path: req.url, headers: req.headers, body });
      if (req.url.startsWith("/fail")) {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end("receiver is down for maintenance");
      } else {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end('{"ok":true}');
      }
    });
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok({ url: `http://127.0.0.1:${server.address().port}`, hits, close: () => server.close() })));
}

describe("Settings → Notifications", { concurrency: false, timeout: 300000 }, () => {
  let pulse, browser, page, smtp, rx;

  before(async () => {
    smtp = await startSmtpSink();
    rx = await startReceiver();
    pulse = await startPulse({ PULSE_WEBHOOK_ALLOWED_PRIVATE_CIDRS: "127.0.0.1/32", PULSE_NOTIFY_RETRY_BASE_MS: "50" });
    const setup = await fetch(`${pulse.url}/api/security/quick-setup`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Setup-Token": pulse.bootstrapToken() },
      body: JSON.stringify({ username: "admin", password: PASSWORD }),
    });
    assert.equal(setup.status, 200, await setup.text());
    browser = await launchBrowser();
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    page.on("pageerror", (e) => console.error("page error:", e.message));
    page.on("dialog", (d) => d.accept());
    await page.goto(pulse.url + "/login");
    await page.fill("input[name=username]", "admin");
    await page.fill("input[name=password]", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForURL(pulse.url + "/");
  });
  after(async () => {
    await browser?.close();
    pulse?.stop();
    smtp?.close();
    rx?.close();
  });

  const get = async (path) => (await page.request.get(pulse.url + path)).json();

  it("email: preset, validation, save, and a test email that reaches the SMTP sink", async () => {
    await page.click("a[href='/settings/notifications']");
    await page.locator("[data-testid=email-form]").waitFor();
    // A preset fills server, port and encryption.
    // The presets load beside the config: wait for them (11 presets + "Custom server").
    await waitFor(async () => (await page.locator("select[name=provider] option").count()) >= 12, "the provider presets");
    const names = await page.locator("select[name=provider] option").allTextContents();
    assert.ok(names.length >= 11, `providers: ${names}`);
    await page.selectOption("select[name=provider]", { label: names.find((n) => n.startsWith("Gmail")) });
    assert.equal(await page.inputValue("input[name=server]"), "smtp.gmail.com");
    assert.equal(await page.inputValue("input[name=port]"), "587");
    assert.equal(await page.inputValue("select[name=tlsMode]"), "starttls");
    // Client-side checks run before anything is sent.
    await page.check("input[name=enabled]");
    await page.fill("input[name=port]", "99999");
    await page.fill("input[name=from]", "not-an-address");
    await page.click("[data-testid=email-save]");
    await page.getByText("A port between 1 and 65535.").waitFor();
    await page.getByText("Not an email address.").waitFor();
    // The local sink, plain SMTP, two recipients, a password.
    await page.selectOption("select[name=provider]", "");
    await page.fill("input[name=server]", "127.0.0.1");
    await page.fill("input[name=port]", String(smtp.port));
    await page.selectOption("select[name=tlsMode]", "none");
    await page.fill("input[name=from]", "pulse@example.com");
    await page.fill("textarea[name=to]", "ops@example.com\noncall@example.com");
    await page.click("[data-testid=email-save]");
    await page.locator("[data-testid=email-result][data-ok=true]").waitFor();
    const saved = await get("/api/notifications/email");
    assert.deepEqual(saved.to, ["ops@example.com", "oncall@example.com"]);
    assert.equal(saved.port, smtp.port);
    assert.equal(saved.server, "127.0.0.1");
    assert.equal(saved.tls || saved.startTLS, false);
    assert.equal(saved.enabled, true);

    await page.click("[data-testid=email-test]");
    await page.locator("[data-testid=email-result][data-ok=true]").waitFor();
    await waitFor(() => smtp.mails.length === 1, "the test email at the SMTP sink");
    assert.match(smtp.mails[0].from, /pulse@example\.com/);
    assert.equal(smtp.mails[0].to.length, 2);
    assert.match(smtp.mails[0].data, /Email Configuration Test/);
    await shot(page, "settings-notifications-email");

    // A failing SMTP answer is an error in words, not "sent".
    await page.fill("textarea[name=to]", "reject@example.com");
    await page.click("[data-testid=email-test]");
    const err = await page.locator("[data-testid=email-result][data-ok=false]").textContent();
    assert.match(err, /Relay access denied/);
    assert.equal(smtp.mails.length, 1);
  });

  it("webhooks: refused target in words, add a loopback webhook, Test delivers to the receiver", async () => {
    await page.click("[data-testid=tab-webhooks]");
    await page.click("[data-testid=add-webhook]");
    // Client-side URL check.
    await page.fill("[data-testid=webhook-form] input[name=name]", "Local receiver");
    await page.fill("[data-testid=webhook-form] input[name=url]", "receiver.local/hook");
    await page.click("[data-testid=webhook-save]");
    await page.getByText("Not a URL").waitFor();
    // The server refuses the cloud metadata address (never contacted): its words by the field.
    await page.fill("[data-testid=webhook-form] input[name=url]", "http://169.254.169.254/latest/meta-data");
    await page.click("[data-testid=webhook-save]");
    const refusal = await page.locator("[data-testid=webhook-url-error]").textContent();
    assert.match(refusal, /^Invalid webhook URL: .+/);
    assert.equal((await get("/api/notifications/webhooks")).length, 0);
    await shot(page, "settings-notifications-webhook-refused");
    // A broken template is refused with the template error by the template field.
    await page.fill("[data-testid=webhook-form] input[name=url]", `${rx.url}/hook`);
    await page.fill("[data-testid=webhook-form] textarea[name=template]", '{"text":"{{.Message"}');
    await page.click("[data-testid=webhook-save]");
    assert.match(await page.locator("[data-testid=webhook-template-error]").textContent(), /^Invalid webhook template: .+/);
    await page.fill("[data-testid=webhook-form] textarea[name=template]", "");
    // A custom header, then save.
    await page.click("[data-testid=add-header]");
    await page.fill("input[name=header-key-0]", "X-Pulse-Test");
    await page.fill("input[name=header-value-0]", "s3cret");
    await page.click("[data-testid=webhook-save]");
    await page.locator("[data-testid=webhooks] tr[data-name='Local receiver']").waitFor();
    const hooks = await get("/api/notifications/webhooks");
    assert.equal(hooks.length, 1);
    assert.equal(hooks[0].service, "generic");
    assert.equal(hooks[0].headers["X-Pulse-Test"], "***REDACTED***");

    const before = rx.hits.length;
    await page.click("[data-testid=webhooks] tr[data-name='Local receiver'] [data-testid=webhook-test]");
    const ok = await page.locator("tr[data-name='Local receiver'] [data-testid=webhook-test-result] [data-ok=true]").textContent();
    assert.match(ok, /HTTP 200/);
    assert.equal(rx.hits.length, before + 1);
    const hit = rx.hits.at(-1);
    assert.equal(hit.path, "/hook");
    // The stored (masked in the UI) header value was used.
    assert.equal(hit.headers["x-pulse-test"], "s3cret");
    const payload = JSON.parse(hit.body);
    assert.ok(JSON.stringify(payload).length > 20, hit.body);
    await shot(page, "settings-notifications-webhooks");
  });

  it("webhooks: a failing endpoint's answer is shown; edit and delete", async () => {
    await page.click("[data-testid=add-webhook]");
    await page.fill("[data-testid=webhook-form] input[name=name]", "Flaky");
    await page.fill("[data-testid=webhook-form] input[name=url]", `${rx.url}/fail`);
    await page.selectOption("[data-testid=webhook-form] select[name=service]", "slack");
    await page.click("[data-testid=webhook-form-test]");
    const err = await page.locator("[data-testid=webhook-form-result][data-ok=false]").textContent();
    assert.match(err, /500/);
    assert.match(err, /receiver is down for maintenance/);
    await page.click("[data-testid=webhook-save]");
    await page.locator("[data-testid=webhooks] tr[data-name='Flaky']").waitFor();
    // Edit: rename, keep the rest.
    await page.click("tr[data-name='Flaky'] button:has-text('Edit')");
    await page.fill("[data-testid=webhook-form] input[name=name]", "Flaky endpoint");
    await page.click("[data-testid=webhook-save]");
    await page.locator("[data-testid=webhooks] tr[data-name='Flaky endpoint']").waitFor();
    const hooks = await get("/api/notifications/webhooks");
    const flaky = hooks.find((h) => h.name === "Flaky endpoint");
    assert.equal(flaky.service, "slack");
    assert.equal(flaky.url, `${rx.url}/fail`);
    // Local receiver's secret header survived the other webhook's edit.
    assert.ok(hooks.find((h) => h.name === "Local receiver"));
  });

  it("apprise: API mode against the local receiver, saved and tested", async () => {
    await page.click("[data-testid=tab-apprise]");
    await page.locator("[data-testid=apprise-form]").waitFor();
    await page.check("[data-testid=apprise-form] input[name=enabled]");
    await page.selectOption("[data-testid=apprise-form] select[name=mode]", "http");
    await page.fill("[data-testid=apprise-form] input[name=serverUrl]", "apprise.lan");
    await page.click("[data-testid=apprise-form] button[type=submit]");
    await page.getByText("Not a URL").waitFor();
    await page.fill("[data-testid=apprise-form] input[name=serverUrl]", `${rx.url}/apprise`);
    await page.fill("[data-testid=apprise-form] input[name=configKey]", "pulse");
    await page.click("[data-testid=apprise-form] button[type=submit]");
    await page.locator("[data-testid=apprise-result][data-ok=true]").waitFor();
    const saved = await get("/api/notifications/apprise");
    assert.equal(saved.mode, "http");
    assert.equal(saved.enabled, true);
    const before = rx.hits.length;
    await page.click("[data-testid=apprise-form] button:has-text('Send test')");
    await page.locator("[data-testid=apprise-result][data-ok=true]").waitFor();
    assert.equal(rx.hits.length, before + 1);
    assert.equal(rx.hits.at(-1).path, "/apprise/notify/pulse");
    assert.ok(JSON.parse(rx.hits.at(-1).body).title);
  });

  it("queue: a notification that fails for good is in the DLQ view; retry and delete work", async () => {
    const hooks = await get("/api/notifications/webhooks");
    const flaky = hooks.find((h) => h.name === "Flaky endpoint");
    // Through the durable queue: 3 attempts (50 ms backoff base in this test), then the DLQ.
    const q = await page.request.post(`${pulse.url}/api/notifications/test`, {
      data: { method: "webhook", webhookId: flaky.id, queue: true },
      headers: { "X-CSRF-Token": (await page.context().cookies()).find((c) => c.name === "pulse_csrf")?.value ?? "" },
    });
    assert.equal(q.status(), 200, await q.text());
    await waitFor(async () => (await get("/api/notifications/dlq")).length === 1, "the item in the DLQ", 30000, 300);

    await page.click("[data-testid=tab-queue]");
    await page.locator("[data-testid=dlq] tbody tr").waitFor();
    assert.equal(await page.textContent("[data-testid=queue-dlq] b"), "1");
    assert.match(await page.textContent("[data-testid=dlq] tbody tr"), /500/);
    assert.ok((await page.locator("[data-testid=history] tbody tr").count()) >= 3);
    await shot(page, "settings-notifications-queue");

    // Retry: the item leaves the DLQ and is attempted again (and fails again into it).
    const hitsBefore = rx.hits.filter((h) => h.path === "/fail").length;
    await page.click("[data-testid=dlq] tbody tr button:has-text('Retry')");
    await waitFor(() => rx.hits.filter((h) => h.path === "/fail").length > hitsBefore, "the retried delivery at the receiver");
    await waitFor(async () => (await get("/api/notifications/dlq")).length === 1, "the item back in the DLQ", 30000, 300);
    await page.click("[data-testid=queue-refresh]");
    await page.locator("[data-testid=dlq] tbody tr").waitFor();
    await page.click("[data-testid=dlq] tbody tr button:has-text('Delete')");
    await page.locator("[data-testid=dlq-empty]").waitFor();
    assert.equal((await get("/api/notifications/dlq")).length, 0);

    // Delivery settings: checked before sending, then saved.
    await page.fill("[data-testid=delivery-form] input[name=maxAttempts]", "0");
    await page.click("[data-testid=delivery-form] button[type=submit]");
    assert.match(await page.locator("[data-testid=delivery-result][data-ok=false]").textContent(), /Between 1 and 20/);
    await page.fill("[data-testid=delivery-form] input[name=maxAttempts]", "5");
    await page.check("[data-testid=delivery-form] input[name=notifyOnResolved]");
    await page.click("[data-testid=delivery-form] button[type=submit]");
    await page.locator("[data-testid=delivery-result][data-ok=true]").waitFor();
    assert.deepEqual((await get("/api/notifications/")).settings, { notifyOnResolved: true, maxAttempts: 5 });

    // Delete a webhook from the list.
    await page.click("[data-testid=tab-webhooks]");
    await page.click("tr[data-name='Flaky endpoint'] button:has-text('Delete')");
    await waitFor(async () => (await get("/api/notifications/webhooks")).length === 1, "one webhook left");
    await page.locator("[data-testid=webhooks] tr[data-name='Flaky endpoint']").waitFor({ state: "detached" });

    // Phone width: the page stays usable.
    const phone = await page.context().newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(pulse.url + "/settings/notifications");
    await phone.locator("[data-testid=email-form]").waitFor();
    await shot(phone, "settings-notifications-phone");
    await phone.close();
  });
});
