/**
 * The federated service with real processes on loopback: one server process (node:http,
 * SQLite), Node client processes running the client runtime over fetch.
 */
import Database from "better-sqlite3";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../../../src/federated/protocol/frame.js";
import { epsilonOfEvents } from "../../../src/federated/server/service.js";
import { getStatus, killStarted, lineWith, serverUrl, startProc, waitFor } from "./helpers.js";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "dpkit-flp-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  killStarted();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function checkpoints(db: string): Float32Array[] {
  const conn = new Database(db, { readonly: true });
  const rows = conn.prepare("SELECT round, weights FROM fl_checkpoint ORDER BY round").all() as { round: number; weights: Buffer }[];
  conn.close();
  return rows.map((r) => new Float32Array(r.weights.buffer.slice(r.weights.byteOffset, r.weights.byteOffset + r.weights.byteLength)));
}

function ledger(db: string): { events: unknown[]; roundEvents: unknown[] } {
  const conn = new Database(db, { readonly: true });
  const events = (conn.prepare("SELECT event FROM dpkit_privacy_spend ORDER BY id").all() as { event: string }[]).map(
    (r) => JSON.parse(r.event) as unknown,
  );
  const roundEvents = (
    conn.prepare("SELECT event FROM fl_round WHERE phase = 'completed' ORDER BY round").all() as { event: string }[]
  ).map((r) => JSON.parse(r.event) as unknown);
  conn.close();
  return { events, roundEvents };
}

/** Whether `haystack` contains the bytes of `needle`. */
function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  const first = needle[0];
  outer: for (let i = haystack.indexOf(first); i !== -1 && i <= haystack.length - needle.length; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const D = 64;

describe("federated service: processes on loopback", () => {
  it("5 Node client processes x 3 rounds, distributed noise + secure aggregation: aggregate = sum of the clients' clipped, noised uploads (mod quantisation); no unmasked update in the server's log or database", async () => {
    const dir = tempDir();
    const db = path.join(dir, "server.db");
    const logFile = path.join(dir, "server.log");
    const dump = path.join(dir, "dump");
    mkdirSync(dump);
    const server = startProc("server-process.ts", [
      JSON.stringify({
        db,
        logFile,
        dimension: D,
        dp: "client",
        noiseMultiplier: 0.5,
        l2NormClip: 1,
        secureAggregation: true,
        rounds: 3,
        clientsPerRound: 5,
        minClients: 3,
        roundTimeoutMs: 60_000,
        selectionWindowMs: 60_000,
        secAggStageTimeoutMs: 30_000,
      }),
    ]);
    const url = await serverUrl(server);
    const clients = [0, 1, 2, 3, 4].map((i) => startProc("client-process.ts", [url, String(i)], { DUMP_DIR: dump }));
    const codes = await Promise.race([
      Promise.all(clients.map((c) => c.exited)),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("clients did not finish in 120 s")), 120_000)),
    ]);
    expect(codes).toEqual([0, 0, 0, 0, 0]);
    expect(await server.exited).toBe(0);
    const status = JSON.parse(lineWith(server, "STATUS ")!) as {
      rounds: number;
      history: { accepted: number; epsilon: number }[];
      epsilon: number;
      ledgerEpsilon: number;
    };
    expect(status.rounds).toBe(3);
    expect(status.history.map((h) => h.accepted)).toEqual([5, 5, 5]);

    const cps = checkpoints(db);
    expect(cps).toHaveLength(4);
    const files = readdirSync(dump);
    expect(files.length).toBe(15);
    const upload = (i: number, r: number): Float32Array => {
      const b = readFileSync(path.join(dump, `c${i}-r${r}.f32`));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const K = 5;
    // quantiser step: clipRange C + 6 zC/sqrt(M) over 5 clients in 32 bits -> scale >= 2^26; error per coordinate <= 5/scale, plus float32 rounding of the weights
    const tol = 1e-5;
    for (let r = 0; r < 3; r++) {
      let worst = 0;
      let worstWithoutOne = 0;
      for (let k = 0; k < D; k++) {
        const released = (cps[r + 1][k] - cps[r][k]) * K;
        let sum = 0;
        for (let i = 0; i < 5; i++) sum += upload(i, r)[k];
        worst = Math.max(worst, Math.abs(released - sum));
        worstWithoutOne = Math.max(worstWithoutOne, Math.abs(released - (sum - upload(0, r)[k])));
      }
      expect(worst).toBeLessThan(tol * K);
      // negative control: leaving one client's upload out is caught
      expect(worstWithoutOne).toBeGreaterThan(100 * tol * K);
      // uploads are clipped + noised: noise std 0.5/sqrt(3) per coordinate, so not the raw delta
    }

    // The server's log and database never hold an unmasked (privatised) update: search for 16-byte runs of every upload.
    const serverBytes = [db, `${db}-wal`, logFile].filter((f) => existsSync(f)).map((f) => new Uint8Array(readFileSync(f)));
    let searched = 0;
    for (let i = 0; i < 5; i++) {
      for (let r = 0; r < 3; r++) {
        const u = upload(i, r);
        for (const off of [0, 16, 40]) {
          const needle = new Uint8Array(u.buffer, off * 4, 16);
          for (const hay of serverBytes) expect(containsBytes(hay, needle)).toBe(false);
          searched++;
        }
      }
    }
    expect(searched).toBe(45);
    // negative control: the search finds a run where it is present (the client's own dump file)
    expect(containsBytes(new Uint8Array(readFileSync(path.join(dump, "c0-r0.f32"))), new Uint8Array(upload(0, 0).buffer, 16 * 4, 16))).toBe(
      true,
    );
    expect(readFileSync(logFile, "utf8")).toMatch(/secagg:unmasking/);

    // ε after every round from the accountant, and the ledger agrees
    const { events, roundEvents } = ledger(db);
    expect(events).toEqual(roundEvents);
    expect(status.epsilon).toBeCloseTo(epsilonOfEvents(roundEvents as never, 1e-5), 9);
    expect(status.ledgerEpsilon).toBeCloseTo(status.epsilon, 9);
    expect(status.history[0].epsilon).toBeLessThan(status.history[2].epsilon);
  }, 180_000);

  it("kill -9 of the server mid-round and a restart on the same file: rounds continue, the interrupted round costs nothing, the ledger equals the accountant, nothing counted twice", async () => {
    const dir = tempDir();
    const db = path.join(dir, "server.db");
    const logFile = path.join(dir, "server.log");
    const cfg = {
      db,
      logFile,
      dimension: D,
      dp: "client",
      noiseMultiplier: 1,
      l2NormClip: 1,
      secureAggregation: true,
      rounds: 3,
      clientsPerRound: 3,
      minClients: 3,
      roundTimeoutMs: 20_000,
      selectionWindowMs: 2_000,
      secAggStageTimeoutMs: 5_000,
    };
    const first = startProc("server-process.ts", [JSON.stringify(cfg)]);
    const url = await serverUrl(first);
    const port = Number(new URL(url).port);
    const clients = [0, 1, 2].map((i) => startProc("client-process.ts", [url, String(i)], { TRAIN_MS: "1500" }));
    // wait until round 1 is under way (round 0 completed, clients training for round 1)
    await waitFor(
      "round 1 in progress",
      async () => {
        const s = await getStatus(url);
        return s && (s.rounds as number) === 1 && String(s.phase).startsWith("secagg:advertiseKeys") ? s : undefined;
      },
      90_000,
      20,
    );
    first.child.kill("SIGKILL");
    await first.exited;
    const afterKill = ledger(db);
    expect(afterKill.roundEvents).toHaveLength(1);
    expect(afterKill.events).toHaveLength(1);
    const second = startProc("server-process.ts", [JSON.stringify({ ...cfg, port })]);
    await serverUrl(second);
    const codes = await Promise.race([
      Promise.all(clients.map((c) => c.exited)),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("clients did not finish in 150 s")), 150_000)),
    ]);
    expect(codes).toEqual([0, 0, 0]);
    expect(await second.exited).toBe(0);
    const status = JSON.parse(lineWith(second, "STATUS ")!) as {
      rounds: number;
      abandoned: { round: number; reason: string }[];
      epsilon: number;
      ledgerEpsilon: number;
      history: { round: number }[];
    };
    expect(status.rounds).toBe(3);
    expect(status.history.map((h) => h.round)).toEqual([0, 1, 2]);
    expect(status.abandoned).toEqual([{ round: 1, reason: expect.stringMatching(/restarted/) as unknown as string }]);
    const { events, roundEvents } = ledger(db);
    expect(events).toHaveLength(3);
    expect(events).toEqual(roundEvents);
    const accountant = epsilonOfEvents(roundEvents as never, 1e-5);
    expect(status.ledgerEpsilon).toBeCloseTo(accountant, 9);
    expect(status.epsilon).toBeCloseTo(accountant, 9);
    // negative control: counting the interrupted round too would give a larger epsilon
    expect(epsilonOfEvents([...(roundEvents as never[]), roundEvents[0] as never], 1e-5)).toBeGreaterThan(accountant + 0.01);
    expect(checkpoints(db)).toHaveLength(4);
  }, 240_000);

  it("vanishing, late, garbage, oversized and replaying clients: refused with a reason, the round completes or is abandoned cleanly, the server stays up", async () => {
    const dir = tempDir();
    const db = path.join(dir, "server.db");
    const logFile = path.join(dir, "server.log");
    const server = startProc("server-process.ts", [
      JSON.stringify({
        db,
        logFile,
        dimension: D,
        dp: "server",
        noiseMultiplier: 1,
        l2NormClip: 1,
        rounds: 2,
        clientsPerRound: 4,
        minClients: 2,
        roundTimeoutMs: 2_500,
        selectionWindowMs: 400,
        maxBodyBytes: 16 * 1024,
      }),
    ]);
    const url = await serverUrl(server);
    const post = async (
      type: string,
      body: unknown,
      token?: string,
      raw?: Uint8Array,
      contentType = FRAME_CONTENT_TYPE,
    ): Promise<{ status: number; message: Record<string, unknown> }> => {
      const r = await fetch(`${url}/v1/${type}`, {
        method: "POST",
        headers: { "content-type": contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: (raw ?? encodeFrame(body)) as unknown as BodyInit,
        signal: AbortSignal.timeout(10_000),
      });
      const bytes = new Uint8Array(await r.arrayBuffer());
      return {
        status: r.status,
        message: (r.headers.get("content-type") ?? "").startsWith(FRAME_CONTENT_TYPE)
          ? (decodeFrame(bytes) as Record<string, unknown>)
          : { text: new TextDecoder().decode(bytes) },
      };
    };
    const checkIn = async (): Promise<string> => {
      const r = await post("checkIn", { type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
      expect(r.message.type).toBe("assigned");
      return r.message.token as string;
    };
    const update = (v: number, n = D): Float32Array => new Float32Array(n).fill(v);

    // garbage at the boundary: each refused with a reason
    expect((await post("checkIn", null, undefined, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]))).status).toBe(400);
    expect((await post("checkIn", null, undefined, new TextEncoder().encode("{}"), "application/json")).status).toBe(415);
    const big = await post("report", { type: "report", round: 0, numExamples: 1, update: update(0, 8192) });
    expect(big.status).toBe(413);
    expect((await post("nope", { type: "poll", round: 0 })).status).toBe(404);
    expect((await post("poll", { type: "poll", round: 0 })).status).toBe(401);
    expect((await post("poll", { type: "poll", round: 0 }, "0".repeat(64))).status).toBe(401);
    expect((await post("checkIn", { type: "checkIn", protocol: 1, population: "default", clientKind: "toaster" })).message).toMatchObject({
      code: "bad_request",
      reason: expect.stringMatching(/clientKind/),
    });

    // attempt 1: a reports, replays; b uploads NaN; c vanishes after check-in; d uploads the wrong length -> 1 valid report < M = 2: abandoned
    const [a, b, c, d] = [await checkIn(), await checkIn(), await checkIn(), await checkIn()];
    expect(c).toBeTruthy();
    for (const t of [a, b, d])
      await waitFor(
        "plan",
        async () => ((await post("poll", { type: "poll", round: 0 }, t)).message.type === "plan" ? true : undefined),
        10_000,
      );
    expect((await post("report", { type: "report", round: 0, numExamples: 5, update: update(0.1) }, a)).message.type).toBe("ack");
    expect(await post("report", { type: "report", round: 0, numExamples: 5, update: update(0.1) }, a)).toMatchObject({ status: 409 });
    const nan = update(0.1);
    nan[7] = Number.NaN;
    expect((await post("report", { type: "report", round: 0, numExamples: 5, update: nan }, b)).message).toMatchObject({
      code: "bad_request",
      reason: expect.stringMatching(/update\[7\]/),
    });
    expect((await post("report", { type: "report", round: 0, numExamples: 5, update: update(0.1, D - 1) }, d)).message).toMatchObject({
      code: "bad_request",
      reason: expect.stringMatching(/entries/),
    });
    expect((await post("report", { type: "report", round: 0, numExamples: 5, update: update(0.1) }, d)).status).toBe(410);
    // a token replayed for another round is refused
    expect((await post("poll", { type: "poll", round: 5 }, a)).status).toBe(409);
    const abandoned = await waitFor(
      "the attempt abandoned",
      async () => {
        const s = await getStatus(url);
        return s && (s.abandoned as unknown[]).length === 1 ? s : undefined;
      },
      20_000,
    );
    expect((abandoned.abandoned as { reason: string }[])[0].reason).toMatch(/only 1 report/);
    expect(abandoned.rounds).toBe(0);
    expect(ledger(db).events).toHaveLength(0);
    // the abandoned attempt's token learns it was abandoned
    expect((await post("poll", { type: "poll", round: 0 }, a)).message).toMatchObject({ type: "abandoned" });

    // attempt 2: three check in, one vanishes after fetching the plan (configuration); two report -> completes at the deadline
    const [e, f, g] = [await checkIn(), await checkIn(), await checkIn()];
    for (const t of [e, f, g])
      await waitFor(
        "plan",
        async () => ((await post("poll", { type: "poll", round: 0 }, t)).message.type === "plan" ? true : undefined),
        10_000,
      );
    for (const t of [e, f])
      expect((await post("report", { type: "report", round: 0, numExamples: 5, update: update(0.2) }, t)).message.type).toBe("ack");
    const done = await waitFor(
      "round 0 completed",
      async () => {
        const s = await getStatus(url);
        return s && (s.rounds as number) === 1 ? s : undefined;
      },
      20_000,
    );
    expect((done.history as { accepted: number }[])[0].accepted).toBe(2);
    expect(ledger(db).events).toHaveLength(1);
    expect(done.ledgerEpsilon).toBeCloseTo(done.epsilon as number, 9);
    expect(readFileSync(logFile, "utf8")).toMatch(/slot 3 \(node\) dropped: no report before the deadline/);
    expect(server.child.exitCode).toBeNull();
  }, 120_000);

  it("kill -9 in the selection phase and again in the reporting phase (trusted-server noise): each interrupted attempt is abandoned, costs nothing, and the population finishes", async () => {
    const dir = tempDir();
    const db = path.join(dir, "server.db");
    const logFile = path.join(dir, "server.log");
    const cfg = {
      db,
      logFile,
      dimension: D,
      dp: "server",
      noiseMultiplier: 1,
      l2NormClip: 1,
      rounds: 3,
      clientsPerRound: 3,
      minClients: 3,
      roundTimeoutMs: 60_000,
      selectionWindowMs: 60_000,
    };
    const assignments = (): number => {
      const conn = new Database(db, { readonly: true });
      const n = (conn.prepare("SELECT COUNT(*) AS n FROM fl_assignment").get() as { n: number }).n;
      conn.close();
      return n;
    };
    const first = startProc("server-process.ts", [JSON.stringify(cfg)]);
    const url = await serverUrl(first);
    const port = Number(new URL(url).port);
    // selection: two of the three clients have checked in, the round waits for the third
    const early = [0, 1].map((i) => startProc("client-process.ts", [url, String(i)], { TRAIN_MS: "1500" }));
    await waitFor("two check-ins", () => (assignments() === 2 ? true : undefined), 90_000, 50);
    expect((await getStatus(url))!.phase).toBe("selection");
    first.child.kill("SIGKILL");
    await first.exited;
    const second = startProc("server-process.ts", [JSON.stringify({ ...cfg, port })]);
    await serverUrl(second);
    const late = startProc("client-process.ts", [url, "2"], { TRAIN_MS: "1500" });
    // reporting: round 1 configured, the clients are training
    await waitFor(
      "round 1 reporting",
      async () => {
        const s = await getStatus(url);
        return s && (s.rounds as number) === 1 && s.phase === "reporting" ? s : undefined;
      },
      90_000,
      20,
    );
    second.child.kill("SIGKILL");
    await second.exited;
    expect(ledger(db).events).toHaveLength(1);
    const third = startProc("server-process.ts", [JSON.stringify({ ...cfg, port })]);
    await serverUrl(third);
    const codes = await Promise.race([
      Promise.all([...early, late].map((c) => c.exited)),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("clients did not finish in 150 s")), 150_000)),
    ]);
    expect(codes).toEqual([0, 0, 0]);
    expect(await third.exited).toBe(0);
    const status = JSON.parse(lineWith(third, "STATUS ")!) as {
      rounds: number;
      abandoned: { round: number; reason: string }[];
      epsilon: number;
      ledgerEpsilon: number;
    };
    expect(status.rounds).toBe(3);
    expect(status.abandoned.map((a) => a.round)).toEqual([0, 1]);
    expect(status.abandoned.every((a) => /restarted/.test(a.reason))).toBe(true);
    const { events, roundEvents } = ledger(db);
    expect(events).toHaveLength(3);
    expect(events).toEqual(roundEvents);
    expect(status.ledgerEpsilon).toBeCloseTo(epsilonOfEvents(roundEvents as never, 1e-5), 9);
    expect(status.epsilon).toBeCloseTo(status.ledgerEpsilon, 9);
  }, 300_000);
});
