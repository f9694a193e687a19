import { describe, expect, it } from "vitest";
import { checkScriptHost, expiryText, scriptCode, scriptSteps, secondsLeft, setupRequest } from "./setupscript";

describe("setup script", () => {
  it("sends the host and backup permissions only when given", () => {
    expect(setupRequest("pve", "  ", false)).toEqual({ type: "pve" });
    expect(setupRequest("pve", " pve1.lan ", true)).toEqual({ type: "pve", host: "pve1.lan", backupPerms: true });
    expect(setupRequest("pbs", "", true)).toEqual({ type: "pbs" });
  });

  it("checks an optional host before sending", () => {
    expect(checkScriptHost("")).toBe("");
    expect(checkScriptHost("pve1.example")).toBe("");
    expect(checkScriptHost("https://10.0.0.5:8006")).toBe("");
    expect(checkScriptHost("[fd00::5]:8007")).toBe("");
    expect(checkScriptHost("pve 1")).toMatch(/host name/);
    expect(checkScriptHost("https://pve/x")).toMatch(/host name/);
    expect(checkScriptHost("ftp://pve")).toMatch(/host name/);
    expect(checkScriptHost("pve:70000")).toMatch(/Port/);
    expect(checkScriptHost("pve:0")).toMatch(/Port/);
  });

  it("counts down to the expiry", () => {
    const now = 1_700_000_000_000;
    expect(secondsLeft(1_700_000_300, now)).toBe(300);
    expect(expiryText(1_700_000_300, now)).toBe("expires in 5m 00s");
    expect(expiryText(1_700_000_065, now)).toBe("expires in 1m 05s");
    expect(expiryText(1_700_000_009, now + 500)).toBe("expires in 8s");
    expect(secondsLeft(1_699_999_000, now)).toBe(0);
    expect(expiryText(1_700_000_000, now)).toMatch(/^expired/);
  });

  it("reads the code under either name and explains each type", () => {
    expect(scriptCode({ url: "", command: "", expires: 0, setupCode: "abc" })).toBe("abc");
    expect(scriptCode({ url: "", command: "", expires: 0, setupToken: "def" })).toBe("def");
    expect(scriptCode({ url: "", command: "", expires: 0 })).toBe("");
    expect(scriptSteps("pve").join(" ")).toMatch(/pulse-monitor@pam/);
    expect(scriptSteps("pve", true).join(" ")).toMatch(/backup/);
    expect(scriptSteps("pbs").join(" ")).toMatch(/pulse-monitor@pbs/);
    expect(scriptSteps("pmg").join(" ")).toMatch(/pulse-monitor@pmg.*audit/);
    expect(scriptSteps("pmg").join(" ")).not.toMatch(/API token/);
    expect(setupRequest("pmg", " pmg1.lan ", true)).toEqual({ type: "pmg", host: "pmg1.lan" });
  });
});
