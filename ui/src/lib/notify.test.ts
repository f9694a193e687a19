import { describe, expect, it } from "vitest";
import {
  REDACTED,
  applyProvider,
  appriseFromApi,
  appriseToApi,
  blankWebhook,
  checkUrl,
  emailFromApi,
  emailToApi,
  isEmail,
  parseMaxAttempts,
  queueCards,
  serverErrorField,
  splitList,
  validPort,
  validateApprise,
  validateEmail,
  validateWebhook,
  webhookFromApi,
  webhookToApi,
} from "./notify";

describe("email form", () => {
  const stored = { enabled: true, provider: "", server: "smtp.example.com", port: 465, username: "u", password: "", from: "pulse@example.com", to: ["a@example.com", "b@example.com"], tls: true, startTLS: false };

  it("round-trips the API shape, with recipients one per line and the TLS flags as one mode", () => {
    const f = emailFromApi(stored);
    expect(f.to).toBe("a@example.com\nb@example.com");
    expect(f.tlsMode).toBe("tls");
    expect(f.port).toBe("465");
    expect(f.password).toBe("");
    expect(emailToApi(f)).toEqual({ ...stored, provider: "" });
    expect(emailFromApi({ ...stored, tls: false, startTLS: true }).tlsMode).toBe("starttls");
    expect(emailToApi({ ...f, tlsMode: "none" })).toMatchObject({ tls: false, startTLS: false });
    expect(emailToApi({ ...f, tlsMode: "starttls" })).toMatchObject({ tls: false, startTLS: true });
  });

  it("sends an empty password (keeps the stored one) unless a new one is typed", () => {
    const f = emailFromApi(stored);
    expect(emailToApi(f).password).toBe("");
    expect(emailToApi({ ...f, password: "new secret" }).password).toBe("new secret");
  });

  it("splits recipients on lines, commas and semicolons and drops blanks", () => {
    expect(splitList(" a@x.org, b@x.org;\n\n c@x.org \n")).toEqual(["a@x.org", "b@x.org", "c@x.org"]);
    expect(emailToApi({ ...emailFromApi(stored), to: "" }).to).toEqual([]);
  });

  it("a provider preset fills server, port and TLS mode only", () => {
    const f = { ...emailFromApi(stored), from: "me@x.org" };
    const g = applyProvider(f, { name: "Gmail", smtpHost: "smtp.gmail.com", smtpPort: 587, tls: false, startTLS: true });
    expect(g).toMatchObject({ provider: "Gmail", server: "smtp.gmail.com", port: "587", tlsMode: "starttls", from: "me@x.org", username: "u" });
  });

  it("validates before sending", () => {
    const ok = emailFromApi(stored);
    expect(validateEmail(ok)).toEqual({});
    const e = validateEmail({ ...ok, server: "", from: "nope", port: "70000", to: "a@x.org\nbad address" });
    expect(Object.keys(e).sort()).toEqual(["from", "port", "server", "to"]);
    expect(e.to).toContain("bad address");
    expect(validateEmail({ ...ok, server: "smtp://host" }).server).toMatch(/host name/);
    // Disabled config may be saved incomplete, but a test needs a server and sender.
    const off = { ...ok, enabled: false, server: "", from: "" };
    expect(validateEmail(off)).toEqual({});
    expect(Object.keys(validateEmail(off, true)).sort()).toEqual(["from", "server"]);
    expect(validateEmail({ ...ok, username: "", password: "x" }).username).toBeTruthy();
  });

  it("ports and addresses", () => {
    expect(["1", "25", "65535"].every(validPort)).toBe(true);
    expect(["0", "65536", "", "2.5", "-1", "25a"].some(validPort)).toBe(false);
    expect(isEmail("Pulse <pulse@example.com>")).toBe(true);
    expect(isEmail("a@b")).toBe(true);
    expect(isEmail("a b@c")).toBe(false);
    expect(isEmail("@c")).toBe(false);
  });
});

describe("webhook form", () => {
  const api = { id: "webhook-1", name: "Ops", url: "https://hooks.example.com/x", method: "post", headers: { Authorization: REDACTED, "X-Team": REDACTED }, enabled: true, service: "slack", customFields: { app_token: REDACTED } };

  it("round-trips, keeping masked header values and custom fields for the server to restore", () => {
    const f = webhookFromApi(api);
    expect(f.method).toBe("POST");
    expect(f.headers).toEqual([{ key: "Authorization", value: REDACTED }, { key: "X-Team", value: REDACTED }]);
    const back = webhookToApi(f);
    expect(back).toEqual({ ...api, method: "POST" });
    expect(back.template).toBeUndefined();
  });

  it("drops empty header rows, trims names, sends a template only when given, no id for new hooks", () => {
    const f = { ...blankWebhook(), name: " n ", url: " http://h/ ", headers: [{ key: " X-A ", value: "1" }, { key: "", value: "" }], template: '{"t":"{{.Message}}"}' };
    const w = webhookToApi(f);
    expect(w).toEqual({ name: "n", url: "http://h/", method: "POST", headers: { "X-A": "1" }, enabled: true, service: "generic", template: '{"t":"{{.Message}}"}' });
    expect("id" in w).toBe(false);
  });

  it("checks URL shape, name, service and headers", () => {
    expect(checkUrl("")).toMatch(/required/);
    expect(checkUrl("hooks.example.com")).toMatch(/Not a URL/);
    expect(checkUrl("ftp://x/")).toMatch(/http/);
    expect(checkUrl("https://hooks.example.com/a?b=c")).toBeNull();
    const ok = { ...blankWebhook(), name: "a", url: "https://x.example/" };
    expect(validateWebhook(ok)).toEqual({});
    expect(Object.keys(validateWebhook({ ...ok, name: " ", url: "x", service: "fax" })).sort()).toEqual(["name", "service", "url"]);
    expect(validateWebhook({ ...ok, headers: [{ key: "Bad Name", value: "v" }] }).headers).toMatch(/Invalid header name/);
    expect(validateWebhook({ ...ok, headers: [{ key: "X", value: "a" }, { key: "x", value: "b" }] }).headers).toMatch(/twice/);
    expect(validateWebhook({ ...ok, headers: [{ key: "X", value: "a\r\nInjected: 1" }] }).headers).toMatch(/line breaks/);
    // JSON braces next to template actions are fine (the server checks templates).
    expect(validateWebhook({ ...ok, template: '{"a":{"b":"{{.Message}}"}}' })).toEqual({});
  });

  it("puts the server's refusals next to the right field", () => {
    expect(serverErrorField("Invalid webhook URL: 127.0.0.1 is a private address")).toBe("url");
    expect(serverErrorField("Invalid webhook template: line 1: unclosed action")).toBe("template");
    expect(serverErrorField("Unknown webhook service")).toBe("form");
  });
});

describe("apprise and queue", () => {
  it("apprise round trip and checks", () => {
    const a = { enabled: true, mode: "http", targets: ["tgram://t/1"], cliPath: "apprise", timeoutSeconds: 20, serverUrl: "http://apprise.lan:8000", configKey: "pulse", apiKey: REDACTED, apiKeyHeader: "X-API-KEY", skipTlsVerify: false };
    expect(appriseToApi(appriseFromApi(a))).toEqual(a);
    const f = appriseFromApi(a);
    expect(validateApprise(f)).toEqual({});
    expect(validateApprise({ ...f, serverUrl: "apprise.lan" }).serverUrl).toBeTruthy();
    expect(validateApprise({ ...f, timeoutSeconds: "2" }).timeoutSeconds).toBeTruthy();
    expect(validateApprise({ ...f, mode: "cli", targets: " \n " }).targets).toBeTruthy();
    expect(validateApprise({ ...f, mode: "cli", enabled: false, targets: "" })).toEqual({});
  });

  it("max attempts must be a whole number in 1..20", () => {
    expect(parseMaxAttempts(" 5 ")).toBe(5);
    expect(parseMaxAttempts("20")).toBe(20);
    for (const bad of ["0", "21", "", "3.5", "-1", "x"]) expect(typeof parseMaxAttempts(bad)).toBe("string");
  });

  it("queue cards read the stats, defaulting missing keys to 0", () => {
    const c = queueCards({ queueDepth: 3, pending: 2, dlq: 1, extra: 9 });
    expect(c.find((x) => x.key === "queueDepth")!.value).toBe(3);
    expect(c.find((x) => x.key === "dlq")!.value).toBe(1);
    expect(c.find((x) => x.key === "completed")!.value).toBe(0);
    expect(c.some((x) => x.key === "extra")).toBe(false);
    expect(queueCards(undefined).every((x) => x.value === 0)).toBe(true);
  });
});
