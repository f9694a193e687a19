import { describe, expect, it } from "vitest";
import { candidates, changedTopLevel, checkPair, escalationToForm, fromForm, newOverride, overridesToRows, pairError, searchCandidates, toForm, type Errors } from "./alertconfig";

// The shape `pulse serve --demo` returns (trimmed to the keys the form reads, plus extras
// that must survive a save untouched).
const cfg = () => ({
  activationState: "pending_review",
  enabled: true,
  flappingEnabled: true, flappingThreshold: 5, flappingWindowSeconds: 300, flappingCooldownMinutes: 15,
  hysteresisMargin: 5,
  guestDefaults: { cpu: { trigger: 80, clear: 75 }, memory: { trigger: 85, clear: 80 }, disk: { trigger: 90, clear: 85 }, diskRead: { trigger: 0, clear: 0 }, diskWrite: { trigger: 0, clear: 0 }, networkIn: { trigger: 0, clear: 0 }, networkOut: { trigger: 0, clear: 0 }, poweredOffSeverity: "warning" },
  nodeDefaults: { cpu: { trigger: 80, clear: 75 }, memory: { trigger: 85, clear: 80 }, disk: { trigger: 90, clear: 85 }, temperature: { trigger: 80, clear: 75 } },
  storageDefault: { trigger: 85, clear: 80 },
  timeThresholds: { guest: 5, node: 5, pbs: 5, storage: 5 },
  disableAllGuests: false, disableAllGuestsOffline: false, disableAllNodes: false, disableAllNodesOffline: false, disableAllStorage: false, disableAllPBS: false, disableAllPBSOffline: false, disableAllPMG: false, disableAllPMGOffline: false,
  overrides: { "cluster1-101": { cpu: { trigger: 95, clear: 90 }, note: "build box", disableConnectivity: true } } as Record<string, unknown>,
  schedule: { cooldown: 5, maxAlertsHour: 10, escalation: { enabled: false, levels: [{ after: 15, notify: "email" }, { after: 60, notify: "all" }] }, grouping: { enabled: true, window: 30 }, quietHours: { enabled: false, start: "22:00", end: "08:00", timezone: "America/New_York", days: { monday: true, tuesday: true, wednesday: true, thursday: true, friday: true, saturday: false, sunday: false }, suppress: { performance: false, storage: false, offline: false } } },
  customRules: [{ id: "r1" }],
  pmgDefaults: { queueTotalWarning: 500, queueTotalCritical: 1000, deferredQueueWarn: 200, deferredQueueCritical: 500, holdQueueWarn: 100, holdQueueCritical: 300, oldestMessageWarnMins: 30, oldestMessageCritMins: 60, quarantineSpamWarn: 2000, quarantineSpamCritical: 5000, quarantineVirusWarn: 2000, quarantineVirusCritical: 5000, quarantineGrowthWarnPct: 25 },
  pmgThresholds: { queueTotalWarning: 500 },
  backupDefaults: { enabled: false, warningDays: 7, criticalDays: 14 },
  snapshotDefaults: { enabled: false, warningDays: 30, criticalDays: 45 },
});

describe("alert config form", () => {
  it("round-trips: an untouched form changes nothing but the rebuilt override order", () => {
    const c = cfg();
    const f = toForm(c);
    expect(f["guestDefaults.cpu.trigger"]).toBe("80");
    expect(f["schedule.quietHours.days.saturday"]).toBe(false);
    expect(f["timeThresholds.guest"]).toBe("5");
    const rows = overridesToRows(c, () => "guest");
    const { config, errors } = fromForm(c, f, rows);
    expect(errors).toEqual({});
    const diff = changedTopLevel(c, config);
    expect(Object.keys(diff).filter((k) => k !== "overrides")).toEqual([]);
    expect(config.overrides).toEqual(c.overrides);
    expect(config.customRules).toEqual(c.customRules);
  });

  it("sends only the changed top-level keys, whole, keeping what the form does not show", () => {
    const c = cfg();
    const f = { ...toForm(c), "guestDefaults.cpu.trigger": "70", "guestDefaults.cpu.clear": "60", "schedule.cooldown": "30" };
    const { config, errors } = fromForm(c, f, overridesToRows(c, () => "guest"));
    expect(errors).toEqual({});
    const diff = changedTopLevel(c, config) as Record<string, Record<string, unknown>>;
    expect(diff.guestDefaults.cpu).toEqual({ trigger: 70, clear: 60 });
    expect(diff.guestDefaults.poweredOffSeverity).toBe("warning");
    expect(diff.schedule.cooldown).toBe(30);
    expect(diff.schedule.grouping).toEqual({ enabled: true, window: 30 });
    expect(diff.nodeDefaults).toBeUndefined();
  });

  it("refuses a clear at or above its trigger, out-of-range and non-numbers, naming the field", () => {
    const c = cfg();
    const f = { ...toForm(c), "guestDefaults.cpu.trigger": "70", "guestDefaults.cpu.clear": "90", "guestDefaults.memory.trigger": "101", "nodeDefaults.disk.clear": "abc", "storageDefault.trigger": "-1", "timeThresholds.guest": "-3", "schedule.quietHours.start": "25:00" };
    const { errors } = fromForm(c, f, []);
    expect(errors["guestDefaults.cpu.clear"]).toMatch(/Clear \(90\) must be below trigger \(70\)/);
    expect(errors["guestDefaults.memory.trigger"]).toMatch(/At most 100/);
    expect(errors["nodeDefaults.disk.clear"]).toBe("Not a number.");
    expect(errors["storageDefault.trigger"]).toMatch(/above 0/);
    expect(errors["timeThresholds.guest"]).toMatch(/whole number/);
    expect(errors["schedule.quietHours.start"]).toMatch(/HH:MM/);
    expect(Object.keys(errors)).toHaveLength(6);
  });

  it("PMG and age limits: whole numbers, warning not above critical; only pmgDefaults is sent", () => {
    const c = cfg();
    const ok = fromForm(c, { ...toForm(c), "pmgDefaults.holdQueueWarn": "150", "backupDefaults.enabled": true, "backupDefaults.warningDays": "3" }, []);
    expect(ok.errors).toEqual({});
    const diff = changedTopLevel(c, ok.config) as Record<string, Record<string, unknown>>;
    expect(Object.keys(diff).sort()).toEqual(["backupDefaults", "overrides", "pmgDefaults"]);
    expect(diff.pmgDefaults.holdQueueWarn).toBe(150);
    expect(diff.pmgDefaults.quarantineGrowthWarnPct).toBe(25);
    expect(diff.backupDefaults).toEqual({ enabled: true, warningDays: 3, criticalDays: 14 });
    const bad = fromForm(c, { ...toForm(c), "pmgDefaults.queueTotalWarning": "0", "pmgDefaults.holdQueueWarn": "400", "snapshotDefaults.criticalDays": "1.5" }, []);
    expect(bad.errors["pmgDefaults.queueTotalWarning"]).toMatch(/1 or more/);
    expect(bad.errors["pmgDefaults.holdQueueCritical"]).toMatch(/Critical \(300\) must not be below warning \(400\)/);
    expect(bad.errors["snapshotDefaults.criticalDays"]).toMatch(/whole number/);
    expect(Object.keys(bad.errors)).toHaveLength(3);
  });

  it("escalation levels: minutes rising, notify email/webhook/all, errors on the server's paths", () => {
    const c = cfg();
    const lv = escalationToForm(c);
    expect(lv).toEqual([{ after: "15", notify: "email" }, { after: "60", notify: "all" }]);
    const same = fromForm(c, toForm(c), overridesToRows(c, () => "guest"), lv);
    expect(same.errors).toEqual({});
    expect(changedTopLevel(c, same.config).schedule).toBeUndefined();
    const more = fromForm(c, { ...toForm(c), "schedule.escalation.enabled": true }, [], [...lv, { after: "120", notify: "webhook" }]);
    expect(more.errors).toEqual({});
    expect((changedTopLevel(c, more.config).schedule as { escalation: unknown }).escalation).toEqual({ enabled: true, levels: [{ after: 15, notify: "email" }, { after: 60, notify: "all" }, { after: 120, notify: "webhook" }] });
    const bad = fromForm(c, toForm(c), [], [{ after: "30", notify: "email" }, { after: "20", notify: "sms" }, { after: "x", notify: "all" }]);
    expect(bad.errors["schedule.escalation.levels[1].after"]).toMatch(/later/);
    expect(bad.errors["schedule.escalation.levels[1].notify"]).toMatch(/webhook/);
    expect(bad.errors["schedule.escalation.levels[2].after"]).toMatch(/whole number/);
  });

  it("trigger -1 or 0 switches a metric off; an empty clear means trigger minus the margin", () => {
    const e: Errors = {};
    const m = { key: "cpu", label: "CPU", unit: "%", max: 100 };
    expect(checkPair(m, "-1", "", 5, "p", e)).toEqual({ trigger: -1, clear: 0 });
    expect(checkPair(m, "0", "50", 5, "p", e)).toEqual({ trigger: 0, clear: 0 });
    expect(checkPair(m, "92.5", "", 5, "p", e)).toEqual({ trigger: 92.5, clear: 87.5 });
    expect(checkPair(m, "3", "", 5, "p", e)).toEqual({ trigger: 3, clear: 0 });
    expect(e).toEqual({});
    expect(checkPair(m, "-2", "", 5, "p", e)).toBeUndefined();
    expect(e["p.trigger"]).toMatch(/-1 or 0/);
    expect(checkPair(m, "80", "80", 5, "q", e)).toBeUndefined();
    expect(e["q.clear"]).toMatch(/below/);
    expect(checkPair(m, "", "", 5, "r", e)).toBeUndefined();
    expect(e["r.trigger"]).toBe("Required.");
  });

  it("overrides: empty pairs use the default, -1 disables a metric, disabled silences, extra fields kept", () => {
    const c = cfg();
    const rows = overridesToRows(c, () => "guest");
    expect(rows[0].pairs.cpu).toEqual({ trigger: "95", clear: "90" });
    expect(rows[0].rest).toEqual({ note: "build box", disableConnectivity: true });
    const add = newOverride("cluster1-105", "guest");
    add.disabled = true;
    add.pairs.memory = { trigger: "-1", clear: "" };
    const { config, errors } = fromForm(c, toForm(c), [...rows, add]);
    expect(errors).toEqual({});
    expect((config.overrides as Record<string, unknown>)["cluster1-105"]).toEqual({ disabled: true, memory: { trigger: -1, clear: 0 } });
    const bad = newOverride("n1", "node");
    bad.pairs.cpu = { trigger: "", clear: "40" };
    bad.pairs.disk = { trigger: "50", clear: "60" };
    const r = fromForm(c, toForm(c), [bad]);
    expect(r.errors["overrides.n1.cpu.trigger"]).toMatch(/trigger too/);
    expect(r.errors["overrides.n1.disk.clear"]).toMatch(/below/);
  });

  it("a server error on a pair path shows at the trigger input", () => {
    expect(pairError({ "guestDefaults.cpu": "thresholds must be finite numbers" }, "guestDefaults.cpu", "trigger")).toMatch(/finite/);
    expect(pairError({ "guestDefaults.cpu.clear": "x" }, "guestDefaults.cpu", "clear")).toBe("x");
    expect(pairError({}, "guestDefaults.cpu", "clear")).toBeUndefined();
  });

  it("resource search: guests by instance-vmid, nodes and storage by id; taken ids skipped", () => {
    const all = candidates({
      vms: [{ id: "c1-pve1-100", vmid: 100, name: "db-vm-100", node: "pve1", instance: "c1", type: "qemu" }],
      containers: [{ id: "c1-pve2-200", vmid: 200, name: "web-ct-200", node: "pve2", instance: "c1", type: "lxc" }],
      nodes: [{ id: "c1-pve1", name: "pve1", instance: "c1" }],
      storage: [{ id: "c1-pve1-local", name: "local", node: "pve1" }],
      pbs: [],
    });
    expect(all.map((c) => `${c.kind}:${c.id}`)).toEqual(["guest:c1-100", "guest:c1-200", "node:c1-pve1", "storage:c1-pve1-local"]);
    expect(searchCandidates(all, "web", new Set()).map((c) => c.id)).toEqual(["c1-200"]);
    expect(searchCandidates(all, "pve1", new Set(["c1-100"])).map((c) => c.id)).toEqual(["c1-pve1", "c1-pve1-local"]);
    expect(searchCandidates(all, "CT 200", new Set()).map((c) => c.id)).toEqual(["c1-200"]);
    expect(searchCandidates(all, "  ", new Set())).toEqual([]);
  });
});
