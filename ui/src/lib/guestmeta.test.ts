import { describe, expect, it } from "vitest";
import { MAX_NOTES, MAX_URL, fromServer, isHttpUrl, metaBody, metaPath, validateGuestMeta } from "./guestmeta";

describe("guest metadata", () => {
  it("accepts only absolute http(s) URLs", () => {
    for (const ok of ["https://pve.example:8006/#v1:0:=qemu%2F100", "http://10.0.0.5/"]) expect(isHttpUrl(ok)).toBe(true);
    for (const bad of ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "ftp://h/", "/relative", "https://", "https://emby.", "https://a b/", "vbscript:x"])
      expect(isHttpUrl(bad), bad).toBe(false);
  });

  it("validates the form before sending", () => {
    expect(validateGuestMeta({ consoleUrl: "", notes: "" })).toEqual({});
    expect(validateGuestMeta({ consoleUrl: " https://h/ ", notes: "n" })).toEqual({});
    expect(validateGuestMeta({ consoleUrl: "javascript:alert(1)", notes: "" }).consoleUrl).toMatch(/http/);
    expect(validateGuestMeta({ consoleUrl: "https://h/" + "a".repeat(MAX_URL), notes: "" }).consoleUrl).toMatch(/2048/);
    expect(validateGuestMeta({ consoleUrl: "", notes: "é".repeat(MAX_NOTES / 2 + 1) }).notes).toMatch(/KiB/);
  });

  it("reads either field family and builds the request", () => {
    expect(fromServer("a", { customUrl: "https://x/", description: "d", tags: ["t", 3] })).toEqual({ id: "a", consoleUrl: "https://x/", notes: "d", tags: ["t"] });
    expect(fromServer("a", { consoleUrl: "https://y/", notes: "n" }).consoleUrl).toBe("https://y/");
    expect(fromServer("a", null)).toEqual({ id: "a", consoleUrl: "", notes: "", tags: [] });
    expect(metaBody({ consoleUrl: "  https://x/ ", notes: "" })).toEqual({ consoleUrl: "https://x/", notes: "" });
    expect(metaPath("c1-pve/1 00")).toBe("/api/guests/metadata/c1-pve%2F1%2000");
  });
});
