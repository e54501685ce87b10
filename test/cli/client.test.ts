import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

// `dpkit client` and `dpkit fl-demo` refuse bad input with one line on stderr and exit code 2,
// before any work; an unreachable server ends in a bounded time. (Full runs against a server:
// test/browser/fl-browser.test.ts and test/federated/service.)
const dir = mkdtempSync(path.join(tmpdir(), "dpkit-cli-client-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectRefusal(args: string[], pattern: RegExp): void {
  const r = runCli(args, {}, 60_000);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  expect(r.stdout).toBe("");
}

describe("dpkit client", () => {
  it("refuses bad arguments before doing anything", () => {
    expectRefusal(["client", "--partition", "0/4"], /--server/);
    expectRefusal(["client", "--server", "http://127.0.0.1:1", "--partition", "4/4"], /partition/);
    expectRefusal(["client", "--server", "http://127.0.0.1:1", "--partition", "x"], /partition/);
    expectRefusal(["client", "--server", "ftp://nowhere", "--partition", "0/4"], /baseUrl/);
    const store = path.join(dir, "missing-folder", "s.db");
    expectRefusal(["client", "--server", "http://127.0.0.1:1", "--partition", "0/4", "--store", store], /--store/);
    expect(existsSync(path.dirname(store))).toBe(false);
  }, 240_000);

  it("gives up on an unreachable server within its --timeout, with one line and exit 2", () => {
    const t0 = Date.now();
    const r = runCli(["client", "--server", "http://127.0.0.1:9", "--partition", "0/100", "--timeout", "3", "--quiet"], {}, 90_000);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/gave up after 3000 ms|Cannot reach/);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 120_000);
});

describe("dpkit fl-demo", () => {
  it("runs a secure-aggregation round with two Node client processes and prints one JSON object", () => {
    const r = runCli(
      ["fl-demo", "--node-clients", "2", "--browser-clients", "0", "--rounds", "1", "--max-examples", "50", "--quiet", "--json"],
      {},
      240_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      server: { rounds: number; secureAggregation: boolean; history: { accepted: number; clients: { node: number } }[] };
      clients: { kind: string; summary: { rounds: { outcome: string; clipped: boolean }[] } | null }[];
    };
    expect(out.server.rounds).toBe(1);
    expect(out.server.secureAggregation).toBe(true);
    expect(out.server.history[0]).toMatchObject({ accepted: 2, clients: { node: 2 } });
    expect(out.clients.map((c) => c.summary?.rounds[0].outcome)).toEqual(["complete", "complete"]);
  }, 300_000);

  it("refuses a demo that cannot run secure aggregation", () => {
    expectRefusal(["fl-demo", "--node-clients", "1", "--browser-clients", "0"], /at least 2 clients/);
    expectRefusal(["fl-demo", "--rounds", "0"], /--rounds/);
  }, 120_000);
});
