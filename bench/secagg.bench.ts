/**
 * Secure aggregation cost: server and client compute time and bytes per client, for
 * n in {10, 50, 100, 200} clients, vectors of 100,000 entries, 0%, 10% and 30% dropouts, with the
 * complete graph of Bonawitz et al. 2017 and the SecAgg+ graph of Bell et al. 2020; then the
 * growth exponent of each cost in n (least squares on log–log), against the paper's quadratic
 * server cost.
 *
 * Usage: npm run bench -- secagg   (env: DIM=100000, BITS=16, NS=10,50,100,200, BUDGET_S=300)
 *
 * - Entries are 16-bit (the modulus 2^16; masks are expanded 2 bytes per entry). 32-bit entries
 *   double every mask-expansion cost.
 * - Dropouts happen after ShareKeys, before the masked input is sent: the expensive case, where
 *   the server reconstructs each dropped client's key and re-expands its masks with every
 *   surviving neighbour. Dropped clients do not compute a masked input.
 * - Times are CPU times of the process (process.cpuUsage, user + system), not wall clock: the
 *   2-core machines these run on are shared, and CPU time is what contention distorts least.
 * - Repetitions: 3 at n = 10, 1 from n = 50 (each run already times every client);
 *   medians are reported. Cases stop when BUDGET_S seconds have passed (the table says which):
 *   the default 300 s covers n <= 100 on an idle 2-core machine; the whole matrix is about 12
 *   CPU-minutes (n = 200 with the complete graph dominates) — run with BUDGET_S=3300 for it.
 * - SecAgg+ degree and threshold come from secAggPlusParameters(n, dropout rate, failure 1e-6);
 *   where that degree reaches n - 1 the row is the complete graph again.
 *
 * Prints a table and, as its last line, one JSON object (docs/performance.md).
 */
import { chacha20 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { secAggMinimumThreshold, secAggPlusParameters, simulateSecAgg } from "../src/federated/secagg/index.js";
import { SeededRng } from "../src/random/index.js";
import { type BenchRow as Row, median } from "./report.js";

const DIM = Number(process.env.DIM ?? 100_000);
const BITS = Number(process.env.BITS ?? 16);
const NS = (process.env.NS ?? "10,50,100,200").split(",").map(Number);
const DROPOUTS = [0, 0.1, 0.3];
const BUDGET_S = Number(process.env.BUDGET_S ?? 300);
const started = performance.now();
const elapsed = (): number => (performance.now() - started) / 1000;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function fitExponent(points: { n: number; y: number }[]): number {
  const xs = points.map((p) => Math.log(p.n));
  const ys = points.map((p) => Math.log(Math.max(p.y, 1e-9)));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

const rows: Row[] = [];
const table: string[][] = [];

// Primitive speeds, for reading the rest.
{
  const key = new Uint8Array(32).fill(1);
  const buf = new Uint8Array(DIM * 2);
  const reps: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t = cpuMs();
    chacha20(key, new Uint8Array(12), buf);
    reps.push(cpuMs() - t);
  }
  const mbps = buf.length / 1e6 / (median(reps) / 1000);
  rows.push({ case: "ChaCha20 mask expansion (@noble/ciphers)", metric: "throughput", value: mbps, unit: "MB/s" });
  const sk = x25519.utils.randomSecretKey();
  const pk = x25519.getPublicKey(sk);
  const t = cpuMs();
  for (let i = 0; i < 50; i++) x25519.getSharedSecret(sk, pk);
  rows.push({ case: "X25519 key agreement (@noble/curves)", metric: "CPU time", value: (cpuMs() - t) / 50, unit: "ms" });
  console.log(`ChaCha20: ${mbps.toFixed(0)} MB/s; X25519 agreement: ${rows[1].value.toFixed(2)} ms`);
}

const input = new Uint32Array(DIM);
{
  const rng = new SeededRng(1);
  for (let i = 0; i < DIM; i++) input[i] = rng.nextUint32() & ((1 << BITS) - 1);
}

// Warm-up (JIT), not recorded: one small round of each kind at full dimension.
simulateSecAgg({
  clients: 10,
  threshold: 6,
  dimension: DIM,
  modulusBits: BITS,
  inputs: Array.from({ length: 10 }, () => input),
  dropoutRate: 0.3,
  rng: new SeededRng(7),
});
simulateSecAgg({
  clients: 12,
  threshold: 4,
  degree: 4,
  dimension: DIM,
  modulusBits: BITS,
  inputs: Array.from({ length: 12 }, () => input),
  dropoutRate: 0.1,
  rng: new SeededRng(8),
});

type Graph = "complete" | "secagg+";
const series = new Map<string, { n: number; server: number; client: number; up: number }[]>();
const skipped: string[] = [];

for (const n of NS) {
  const reps = n <= 10 ? 3 : 1;
  for (const graph of ["secagg+", "complete"] as Graph[]) {
    for (const dropout of DROPOUTS) {
      const label = `${graph} n=${n} drop=${Math.round(dropout * 100)}%`;
      if (elapsed() > BUDGET_S) {
        skipped.push(label);
        continue;
      }
      let degree: number | undefined;
      let threshold = secAggMinimumThreshold(n);
      if (graph === "secagg+") {
        const p = secAggPlusParameters({ clients: n, dropoutRate: dropout });
        if (p.degree < n - 1) {
          degree = p.degree;
          threshold = p.threshold;
        }
      }
      const server: number[] = [];
      const client: number[] = [];
      let up = 0;
      let down = 0;
      let exact = true;
      for (let r = 0; r < reps; r++) {
        const sim = simulateSecAgg({
          clients: n,
          threshold,
          dimension: DIM,
          modulusBits: BITS,
          degree,
          inputs: Array.from({ length: n }, () => input),
          dropoutRate: dropout,
          dropStage: "maskedInput",
          rng: new SeededRng(1000 * n + r),
        });
        exact &&= sim.exact;
        server.push(sim.serverCpuMs);
        client.push(sim.clientCpuMsMean);
        up = sim.clientUploadBytes;
        down = sim.clientDownloadBytes;
      }
      const k = degree ?? n - 1;
      const s = median(server);
      const c = median(client);
      rows.push({ case: label, metric: "server CPU time", value: s, unit: "ms" });
      rows.push({ case: label, metric: "client CPU time (mean per client)", value: c, unit: "ms" });
      rows.push({ case: label, metric: "upload per client", value: up, unit: "bytes" });
      rows.push({ case: label, metric: "download per client", value: down, unit: "bytes" });
      rows.push({ case: label, metric: "degree", value: k, unit: "neighbours" });
      table.push([
        label,
        String(k),
        String(threshold),
        String(reps),
        s.toFixed(0),
        c.toFixed(0),
        (up / 1024).toFixed(1),
        (down / 1024).toFixed(1),
        exact ? "yes" : "NO",
      ]);
      const key = `${graph} drop=${Math.round(dropout * 100)}%`;
      if (!series.has(key)) series.set(key, []);
      series.get(key)!.push({ n, server: s, client: c, up });
      console.log(
        `${label}: k=${k} t=${threshold} server ${s.toFixed(0)} ms, client ${c.toFixed(0)} ms, up ${(up / 1024).toFixed(1)} KiB, exact ${exact} (${elapsed().toFixed(0)} s)`,
      );
    }
  }
}

const header = ["case", "k", "t", "reps", "server CPU ms", "client CPU ms", "up KiB", "down KiB", "exact"];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(`\nSecure aggregation, ${DIM} entries mod 2^${BITS}, dropouts after ShareKeys (median of reps)\n`);
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const r of table) console.log(r.map((c, j) => c.padStart(widths[j])).join("  "));

console.log("\nGrowth with n (least-squares exponent of cost ~ n^e), paper: server O(n^2 d) with dropouts, client O(n d)");
for (const [key, pts] of series) {
  if (pts.length < 2) continue;
  const eServer = fitExponent(pts.map((p) => ({ n: p.n, y: p.server })));
  const eClient = fitExponent(pts.map((p) => ({ n: p.n, y: p.client })));
  const eUp = fitExponent(pts.map((p) => ({ n: p.n, y: p.up })));
  const hasDrop = !key.endsWith("drop=0%");
  rows.push({
    case: key,
    metric: "server CPU time exponent in n",
    value: eServer,
    unit: "",
    baseline: hasDrop ? 2 : 1,
    ratio: eServer / (hasDrop ? 2 : 1),
  });
  rows.push({ case: key, metric: "client CPU time exponent in n", value: eClient, unit: "", baseline: 1, ratio: eClient });
  rows.push({ case: key, metric: "upload exponent in n", value: eUp, unit: "" });
  console.log(
    `${key.padEnd(22)} server e = ${eServer.toFixed(2)} (paper ${hasDrop ? 2 : 1})  client e = ${eClient.toFixed(2)} (paper 1)  upload e = ${eUp.toFixed(2)}  [n = ${pts.map((p) => p.n).join(", ")}]`,
  );
}
if (skipped.length) console.log(`\nSkipped after the ${BUDGET_S} s budget: ${skipped.join("; ")}`);
console.log(`total ${elapsed().toFixed(0)} s`);
console.log(JSON.stringify({ bench: "secagg", results: rows }));
