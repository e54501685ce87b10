/**
 * The federated service under load, on loopback: one server process (node:http, SQLite) and
 * lightweight clients in this process (the real client runtime and fetch transport; training
 * replaced by a fixed update, so what is measured is the protocol and the server).
 *
 * Cases:
 * - `plain`: CLIENTS lightweight clients (default 1,000; the protocol spoken directly with fetch,
 *   no training) each check in, are assigned, fetch the plan and the checkpoint, and upload a
 *   DIM-parameter update (default 100,000) in one round of K = CLIENTS,
 *   dp none, no secure aggregation. Reports the round's wall time (first check-in to release),
 *   rounds per minute at that K, the server process's CPU per client update, and bytes per
 *   client both ways (framed bodies, as counted by the transport).
 * - `secagg+ n`: SecAgg+ (Bell et al. 2020) over the wire with n clients (SA_NS, default
 *   100,300,1000), SA_DIM-parameter updates (default 1,000), dp client, 10% of the clients
 *   vanishing after ShareKeys (the expensive case: the server reconstructs their keys and
 *   removes their pairwise masks). Reports the server's CPU per round and per client and the
 *   growth exponent of server CPU in n, next to n log n's.
 *
 * Server CPU is the server process's own `process.cpuUsage` (user + system), from /status.
 * Usage: npm run bench -- federated-service  (env: CLIENTS, DIM, SA_NS, SA_DIM)
 * Prints a table and, as its last line, one JSON object (docs/performance.md).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FederatedClient } from "../src/federated/client/runtime.js";
import { decodeFrame, encodeFrame, FRAME_CONTENT_TYPE } from "../src/federated/protocol/frame.js";
import type { ClientMessage, ServerMessage } from "../src/federated/protocol/messages.js";
import type { FederatedTransport } from "../src/federated/protocol/transport.js";
import { HttpTransport } from "../src/federated/transport/http-client.js";
import type { BenchRow } from "./report.js";

const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const DIM = Number(process.env.DIM ?? 100_000);
const SA_NS = (process.env.SA_NS ?? "100,300,1000")
  .split(",")
  .map(Number)
  .filter((n) => n > 0);
const SA_DIM = Number(process.env.SA_DIM ?? 1000);
const CASES = (process.env.CASES ?? "inproc,plain,secagg").split(",");
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), "dpkit-flbench-"));

interface Status {
  rounds: number;
  history: { accepted: number; seconds: number; metrics: Record<string, number> }[];
  serverCpuMs: number;
  bytesReceived: number;
  requests: number;
}

async function startServer(cfg: Record<string, unknown>): Promise<{ url: string; status: Promise<Status>; kill: () => void }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "federated-service-server.ts"), JSON.stringify(cfg)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let buf = "";
  let resolveUrl: (u: string) => void = () => undefined;
  let resolveStatus: (s: Status) => void = () => undefined;
  const url = new Promise<string>((r) => (resolveUrl = r));
  const status = new Promise<Status>((r) => (resolveStatus = r));
  child.stdout.on("data", (c: Buffer) => {
    buf += c.toString();
    for (const line of buf.split("\n")) {
      if (line.startsWith("URL ")) resolveUrl(line.slice(4));
      if (line.startsWith("STATUS ")) resolveStatus(JSON.parse(line.slice(7)) as Status);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 1_800_000);
  child.once("exit", () => clearTimeout(timer));
  return { url: await url, status, kill: () => child.kill("SIGKILL") };
}

/** Makes a transport stop answering once its client has sent a secagg message of `stage`. */
function vanishing(inner: FederatedTransport, stage: string): FederatedTransport {
  let gone = false;
  return {
    async request(m: ClientMessage, token?: string): Promise<ServerMessage> {
      if (gone) throw new Error("vanished");
      const a = await inner.request(m, token);
      if (m.type === "secagg" && m.message.stage === stage) gone = true;
      return a;
    },
  };
}

async function runClients(
  url: string,
  n: number,
  dim: number,
  vanishAfter?: (i: number) => string | undefined,
): Promise<{ up: number; down: number; ms: number }> {
  const delta = new Float32Array(dim);
  for (let i = 0; i < dim; i++) delta[i] = ((i % 13) - 6) / 1000;
  const transports = Array.from({ length: n }, () => new HttpTransport({ baseUrl: url, timeoutMs: 300_000 }));
  const t0 = performance.now();
  await Promise.all(
    transports.map((t, i) => {
      const stage = vanishAfter?.(i);
      return new FederatedClient({
        transport: stage ? vanishing(t, stage) : t,
        population: "default",
        clientKind: "node",
        trainer: () => ({ delta, numExamples: 1 }),
        maxRounds: 1,
        minPollMs: 50,
        maxRetryAfterMs: 2000,
        timeoutMs: 1_800_000,
        maxConsecutiveFailures: stage ? 1 : 50,
      })
        .run()
        .catch(() => undefined);
    }),
  );
  const ms = performance.now() - t0;
  return { up: transports.reduce((s, t) => s + t.bytesUp, 0) / n, down: transports.reduce((s, t) => s + t.bytesDown, 0) / n, ms };
}

/**
 * A lightweight client speaking the protocol directly (no training, no runtime): check in, poll
 * for the plan, upload a fixed update, poll until the round ends. Returns bytes up and down.
 */
async function lightweightClient(url: string, update: Float32Array): Promise<{ up: number; down: number }> {
  let up = 0;
  let down = 0;
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const send = async (m: ClientMessage, token?: string): Promise<ServerMessage> => {
    const body = encodeFrame(m);
    up += body.length;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await fetch(`${url}/v1/${m.type}`, {
          method: "POST",
          headers: { "content-type": FRAME_CONTENT_TYPE, ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: body as unknown as BodyInit,
          signal: AbortSignal.timeout(600_000),
        });
        const bytes = new Uint8Array(await r.arrayBuffer());
        down += bytes.length;
        return decodeFrame(bytes) as ServerMessage;
      } catch (e) {
        if (attempt >= 20) throw e;
        await sleep(200 * (attempt + 1));
      }
    }
  };
  let token = "";
  let round = 0;
  for (;;) {
    const a = await send({ type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
    if (a.type === "assigned") {
      token = a.token;
      round = a.round;
      break;
    }
    if (a.type !== "retry") throw new Error(`check-in: ${JSON.stringify(a).slice(0, 200)}`);
    await sleep(a.retryAfterMs);
  }
  for (;;) {
    const m = await send({ type: "poll", round }, token);
    if (m.type === "plan") break;
    if (m.type !== "wait") throw new Error(`poll: ${JSON.stringify(m).slice(0, 200)}`);
    await sleep(m.retryAfterMs);
  }
  const ack = await send({ type: "report", round, numExamples: 1, update }, token);
  if (ack.type !== "ack") throw new Error(`report: ${JSON.stringify(ack).slice(0, 200)}`);
  let wait = ack.retryAfterMs;
  for (;;) {
    await sleep(wait);
    const m = await send({ type: "poll", round }, token);
    if (m.type !== "wait") break;
    wait = m.retryAfterMs;
  }
  return { up, down };
}

const rows: BenchRow[] = [];
const table: string[][] = [];

// inproc: the service's own cost per client (no HTTP): check-in, plan, report of a DIM update, in this process
if (CASES.includes("inproc")) {
  const { FederatedService } = await import("../src/federated/server/service.js");
  const K = Number(process.env.INPROC_CLIENTS ?? 300);
  const service = await FederatedService.open({
    db: path.join(dir, "inproc.db"),
    model: { name: "bench", dimension: DIM },
    initialWeights: new Float32Array(DIM),
    training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
    rounds: 1,
    clientsPerRound: K,
    minClients: K,
    dp: "none",
    roundTimeoutMs: 600_000,
    selectionWindowMs: 600_000,
  });
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const report = encodeFrame({ type: "report", round: 0, numExamples: 1, update: new Float32Array(DIM).fill(0.01) });
  const tokens: string[] = [];
  let c0 = cpu();
  for (let i = 0; i < K; i++)
    tokens.push(
      (
        service.handle("checkIn", { type: "checkIn", protocol: 1, population: "default", clientKind: "node" }, undefined) as {
          token: string;
        }
      ).token,
    );
  const checkIn = (cpu() - c0) / K;
  c0 = cpu();
  for (const t of tokens) encodeFrame(service.handle("poll", { type: "poll", round: 0 }, t));
  const plan = (cpu() - c0) / K;
  c0 = cpu();
  for (const t of tokens) service.handle("report", decodeFrame(report), t);
  const rep = (cpu() - c0) / K;
  service.close();
  const c = `in-process service, K=${K}, d=${DIM}`;
  rows.push(
    { case: c, metric: "check-in CPU per client", value: checkIn, unit: "ms" },
    { case: c, metric: "plan (encoded) CPU per client", value: plan, unit: "ms" },
    { case: c, metric: "report (decode, validate, sum; last one releases) CPU per client", value: rep, unit: "ms" },
  );
  console.log(`inproc: check-in ${checkIn.toFixed(3)} ms, plan ${plan.toFixed(3)} ms, report ${rep.toFixed(3)} ms per client`);
  table.push([c, String(K), "", (checkIn + plan + rep).toFixed(2), "", ""]);
}

// plain: 1,000 clients, one round, dp none
if (CASES.includes("plain")) {
  // The round closes when every client has reported; M = 90% only guards against a stuck client on a loaded machine.
  const server = await startServer({
    db: path.join(dir, "plain.db"),
    dimension: DIM,
    rounds: 1,
    clientsPerRound: CLIENTS,
    minClients: Math.ceil(0.9 * CLIENTS),
    roundTimeoutMs: 1_200_000,
    selectionWindowMs: 120_000,
  });
  const update = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) update[i] = ((i % 13) - 6) / 1000;
  const t0 = performance.now();
  const bytes = await Promise.all(Array.from({ length: CLIENTS }, () => lightweightClient(server.url, update)));
  const c = {
    ms: performance.now() - t0,
    up: bytes.reduce((a, b) => a + b.up, 0) / CLIENTS,
    down: bytes.reduce((a, b) => a + b.down, 0) / CLIENTS,
  };
  const s = await server.status;
  if (s.rounds !== 1) throw new Error(`the plain round did not complete: ${JSON.stringify(s).slice(0, 300)}`);
  const perClientCpu = s.serverCpuMs / CLIENTS;
  // the round as the server saw it: from opening the selection to the release
  const roundS = s.history[0]?.seconds ?? c.ms / 1000;
  rows.push(
    { case: `plain ${CLIENTS} clients x ${DIM}`, metric: "round", value: roundS, unit: "s" },
    { case: `plain ${CLIENTS} clients x ${DIM}`, metric: "rounds per minute", value: 60 / roundS, unit: "1/min" },
    { case: `plain ${CLIENTS} clients x ${DIM}`, metric: "server CPU per client update", value: perClientCpu, unit: "ms" },
    { case: `plain ${CLIENTS} clients x ${DIM}`, metric: "bytes up per client", value: c.up, unit: "B" },
    { case: `plain ${CLIENTS} clients x ${DIM}`, metric: "bytes down per client", value: c.down, unit: "B" },
  );
  console.log(`plain: ${JSON.stringify(rows.slice(-5))}`);
  table.push([
    `plain K=${CLIENTS}, d=${DIM}`,
    String(s.history[0]?.accepted ?? 0),
    roundS.toFixed(1),
    perClientCpu.toFixed(2),
    (c.up / 1e6).toFixed(3),
    (c.down / 1e6).toFixed(3),
  ]);
}

// SecAgg+ scaling, 10% vanish after ShareKeys
const sa: { n: number; cpu: number }[] = [];
for (const n of CASES.includes("secagg") ? SA_NS : []) {
  const server = await startServer({
    db: path.join(dir, `sa${n}.db`),
    dimension: SA_DIM,
    rounds: 1,
    clientsPerRound: n,
    minClients: Math.ceil(0.5 * n),
    dp: "client",
    noiseMultiplier: 1,
    l2NormClip: 1,
    secureAggregation: true,
    secAggGraph: "secagg+",
    roundTimeoutMs: 1_200_000,
    selectionWindowMs: 120_000,
    secAggStageTimeoutMs: Number(process.env.SA_STAGE_S ?? 60) * 1000,
  });
  const c = await runClients(server.url, n, SA_DIM, (i) => (i % 10 === 9 ? "shareKeys" : undefined));
  const s = await server.status;
  console.log(
    `secagg+ n=${n}: rounds ${s.rounds}, accepted ${s.history[0]?.accepted ?? 0}, server CPU ${s.serverCpuMs} ms${s.rounds === 1 ? "" : ` (abandoned: ${JSON.stringify((s as unknown as { abandoned: unknown }).abandoned)})`}`,
  );
  if (s.rounds !== 1) continue;
  const protocolMs = s.history[0].metrics.secAggServerCpuMs;
  sa.push({ n, cpu: protocolMs });
  rows.push(
    {
      case: `secagg+ n=${n} d=${SA_DIM} 10% dropouts`,
      metric: "secure-aggregation server CPU per round (state machine)",
      value: protocolMs,
      unit: "ms",
    },
    {
      case: `secagg+ n=${n} d=${SA_DIM} 10% dropouts`,
      metric: "secure-aggregation server CPU per client",
      value: protocolMs / n,
      unit: "ms",
    },
    {
      case: `secagg+ n=${n} d=${SA_DIM} 10% dropouts`,
      metric: "server process CPU per round (incl. HTTP and polls while waiting for the dropped clients' deadline)",
      value: s.serverCpuMs,
      unit: "ms",
    },
    { case: `secagg+ n=${n} d=${SA_DIM} 10% dropouts`, metric: "bytes up per client", value: c.up, unit: "B" },
  );
  table.push([
    `secagg+ n=${n}, d=${SA_DIM}, 10% drop`,
    String(s.history[0]?.accepted ?? 0),
    (s.history[0]?.seconds ?? c.ms / 1000).toFixed(1),
    (protocolMs / n).toFixed(2),
    (c.up / 1e6).toFixed(3),
    (c.down / 1e6).toFixed(3),
  ]);
}
if (sa.length >= 2) {
  const xs = sa.map((p) => Math.log(p.n));
  const ys = sa.map((p) => Math.log(p.cpu));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  const exponent = num / den;
  // the exponent n log n has over the same range of n
  const nlogn =
    (Math.log(sa[sa.length - 1].n * Math.log(sa[sa.length - 1].n)) - Math.log(sa[0].n * Math.log(sa[0].n))) /
    (Math.log(sa[sa.length - 1].n) - Math.log(sa[0].n));
  rows.push({
    case: "secagg+ scaling",
    metric: "server CPU growth exponent in n",
    value: exponent,
    unit: "",
    baseline: nlogn,
    ratio: exponent / nlogn,
  });
  table.push(["secagg+ growth exponent (n log n)", "", exponent.toFixed(2), `(${nlogn.toFixed(2)})`, "", ""]);
}

const head = ["case", "accepted", "round s", "server CPU ms/client", "MB up/client", "MB down/client"];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
console.log([head, ...table].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n"));
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ bench: "federated-service", results: rows }));
