import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit CLI", () => {
  it("--help lists the commands", () => {
    const r = runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: dpkit");
    expect(r.stdout).toContain("demo");
    expect(r.stdout).toContain("backend");
  });

  it("--version prints the package version", async () => {
    const { default: pkg } = await import("../../package.json", { with: { type: "json" } });
    const r = runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("an unknown command exits 2 with one short line and no stack trace", () => {
    const r = runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown command/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a DpError becomes one line on stderr and exit code 2", () => {
    const r = runCli(["backend", "--force", "gpu"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^dpkit: `backend` must be one of "tensorflow", "wasm", "cpu". Found "gpu"./);
  });

  it("demo (the flagship linkage demo) runs small and prints every table as JSON", () => {
    const r = runCli(["demo", "--users", "1500", "--targets", "20", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.users).toBe(1500);
    for (const k of ["reproduction", "knownCurve", "naive", "ldp", "aggregates"]) expect(out[k].length).toBeGreaterThan(0);
  });

  it("demo refuses a bad --users with one line", () => {
    const r = runCli(["demo", "--users", "-5"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("dpkit: `users` must be an integer >= 1. Found -5.");
  });
});
