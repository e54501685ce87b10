/**
 * `dpkit server` as a process: serves until R rounds are complete, exits 0 printing one JSON
 * object, and started again on the same --db with more rounds it resumes where it stopped.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { killStarted, root, startProc, waitFor } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  killStarted();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function serverRun(db: string, rounds: number): Promise<{ code: number | null; json: Record<string, unknown> }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(root, "scripts/dpkit.ts"),
      "server",
      "--db",
      db,
      "--port",
      "0",
      "--rounds",
      String(rounds),
      "--clients-per-round",
      "2",
      "--min-clients",
      "2",
      "--dp",
      "server",
      "--noise-multiplier",
      "2",
      "--clip",
      "1",
      "--test-size",
      "0",
      "--selection-window",
      "60",
      "--round-timeout",
      "60",
      "--quiet",
      "--json",
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  try {
    const url = await waitFor(
      "dpkit server's URL",
      () => {
        if (child.exitCode !== null) throw new Error(`dpkit server exited ${child.exitCode}: ${err}`);
        return /listening on (http:\/\/\S+)/.exec(err)?.[1];
      },
      90_000,
    );
    const clients = [0, 1].map((i) => startProc("client-process.ts", [url, String(i)], { POPULATION: "mnist" }));
    const code = await Promise.race([
      exited,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`dpkit server did not finish: ${err}`)), 150_000)),
    ]);
    await Promise.all(clients.map((c) => c.exited));
    return { code, json: JSON.parse(out) as Record<string, unknown> };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("dpkit server process", () => {
  it("exits 0 with the JSON after R rounds and resumes on the same --db", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dpkit-flcli-"));
    dirs.push(dir);
    const db = path.join(dir, "server.db");
    const first = await serverRun(db, 1);
    expect(first.code).toBe(0);
    expect(first.json.rounds).toBe(1);
    expect((first.json.history as { accepted: number }[]).map((h) => h.accepted)).toEqual([2]);
    expect(first.json.delta).toBe(1e-5);
    const second = await serverRun(db, 2);
    expect(second.code).toBe(0);
    expect(second.json.rounds).toBe(2);
    const history = second.json.history as { round: number; epsilon: number; clients: { node: number } }[];
    expect(history.map((h) => h.round)).toEqual([0, 1]);
    expect(history[1].epsilon).toBeGreaterThan(history[0].epsilon);
    expect(history[1].clients.node).toBe(2);
    expect(second.json.ledgerEpsilon).toBeCloseTo(second.json.epsilon as number, 9);
    const conn = new Database(db, { readonly: true });
    expect((conn.prepare("SELECT COUNT(*) AS n FROM dpkit_privacy_spend").get() as { n: number }).n).toBe(2);
    expect((conn.prepare("SELECT COUNT(*) AS n FROM fl_checkpoint").get() as { n: number }).n).toBe(3);
    conn.close();
  }, 400_000);
});
