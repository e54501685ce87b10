/**
 * Browser versus Node federated clients: the same rounds of the MNIST demo population (dp
 * client, secure aggregation) with Node client processes and Chromium pages side by side; per
 * kind, the median per-round device time (local training + privatisation and masking), the
 * upload phase and the whole round. Node runs its default tfjs backend (wasm here) and, as the
 * like-for-like baseline, the cpu backend the page uses. Issue 14's aim: a browser client's
 * round within 2x a Node client's.
 *
 * Run: `npm run bench -- federated-client` (or `npx tsx bench/federated-client.bench.ts`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { browserClientRoutes } from "../src/federated/client/browser/assets.js";
import type { FederatedClientRound, FederatedClientSummary } from "../src/federated/client/runtime.js";
import { startMnistFederatedService } from "../src/experiments/federated-service.js";
import { median, type BenchRow } from "./report.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.DPKIT_CHROMIUM ?? "/usr/bin/chromium";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const EXAMPLES = Number(process.env.BENCH_EXAMPLES ?? 300);
const BROWSERS = existsSync(CHROMIUM) ? 2 : 0;
const started: ChildProcess[] = [];

function nodeClient(url: string, partition: string, backend: string): Promise<FederatedClientSummary & { backend: string }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(root, "scripts/dpkit.ts"),
      "client",
      "--server",
      url,
      "--partition",
      partition,
      "--max-examples",
      String(EXAMPLES),
      "--json",
      "--quiet",
      "--timeout",
      "600",
    ],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DPKIT_BACKEND: backend } },
  );
  started.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve, reject) =>
    child.on("close", (code) =>
      code === 0
        ? resolve({ ...(JSON.parse(out) as FederatedClientSummary), backend })
        : reject(new Error(`node client ${partition} exited ${code}: ${err}`)),
    ),
  );
}

const t0 = performance.now();
const dir = mkdtempSync(path.join(tmpdir(), "dpkit-bench-flc-"));
const total = 2 + BROWSERS;
const demo = await startMnistFederatedService({
  db: path.join(dir, "s.db"),
  rounds: ROUNDS,
  clientsPerRound: total,
  minClients: total,
  dp: "client",
  noiseMultiplier: 1,
  l2NormClip: 1,
  secureAggregation: true,
  selectionWindowMs: 120_000,
  roundTimeoutMs: 300_000,
  testExamples: 0,
  ...(await browserClientRoutes()),
});
type Kind = "node (wasm)" | "node (cpu)" | "browser (cpu)";
const perKind = new Map<Kind, FederatedClientRound[]>();
let browser: { close(): Promise<void> } | undefined;
try {
  const nodes = [nodeClient(demo.url, `0/${total}`, "wasm"), nodeClient(demo.url, `1/${total}`, "cpu")];
  const pages: Promise<FederatedClientSummary>[] = [];
  if (BROWSERS > 0) {
    const { chromium } = await import("playwright-core");
    const b = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    browser = b;
    for (let j = 0; j < BROWSERS; j++) {
      const page = await b.newPage();
      await page.goto(`${demo.url}/?partition=${2 + j}/${total}&maxExamples=${EXAMPLES}`);
      pages.push(
        (async () => {
          for (;;) {
            const s = await page.evaluate(() => {
              const c = (globalThis as { dpkitClient?: { state: string; summary?: unknown; error?: string } }).dpkitClient;
              return { state: c?.state, summary: c?.summary, error: c?.error };
            });
            if (s.state === "done" && s.summary) return s.summary as FederatedClientSummary;
            if (s.state === "failed") throw new Error(`browser page failed: ${s.error}`);
            await new Promise((r) => setTimeout(r, 250));
          }
        })(),
      );
    }
  }
  const [n, ...p] = await Promise.all([Promise.all(nodes), ...pages]);
  perKind.set("node (wasm)", n[0].rounds);
  perKind.set("node (cpu)", n[1].rounds);
  perKind.set(
    "browser (cpu)",
    p.flatMap((s) => s.rounds),
  );
} finally {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await browser?.close();
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
}

const rows: BenchRow[] = [];
const table: string[][] = [];
const stat = (rs: FederatedClientRound[], f: (r: FederatedClientRound) => number): number =>
  median(rs.filter((r) => r.outcome === "complete").map(f));
const device = (r: FederatedClientRound): number => r.trainMs + r.privatizeMs;
const baseline = perKind.get("node (cpu)")!;
const wasm = perKind.get("node (wasm)")!;
for (const [kind, rs] of perKind) {
  if (rs.length === 0) continue;
  const d = stat(rs, device);
  table.push([
    kind,
    String(rs.length),
    stat(rs, (r) => r.trainMs).toFixed(0),
    stat(rs, (r) => r.privatizeMs).toFixed(0),
    d.toFixed(0),
    stat(rs, (r) => r.uploadMs).toFixed(0),
    stat(rs, (r) => r.roundMs).toFixed(0),
  ]);
  rows.push({
    case: kind,
    metric: "device ms per round (train + privatise + mask)",
    value: d,
    unit: "ms",
    baseline: stat(baseline, device),
    ratio: d / stat(baseline, device),
  });
  rows.push({ case: kind, metric: "round ms (assignment to completion)", value: stat(rs, (r) => r.roundMs), unit: "ms" });
}
if (perKind.get("browser (cpu)")!.length > 0) {
  const b = perKind.get("browser (cpu)")!;
  rows.push({
    case: "browser vs node (wasm)",
    metric: "device time ratio",
    value: stat(b, device) / stat(wasm, device),
    unit: "x",
    baseline: 2,
  });
}
const header = ["client", "rounds", "train ms", "privatise+mask ms", "device ms", "upload ms", "round ms"];
const widths = header.map((h, j) => Math.max(h.length, ...table.map((r) => r[j].length)));
console.log(
  `\nFederated clients side by side: MNIST mlp, ${EXAMPLES} examples per round, dp client + secure aggregation, ${ROUNDS} rounds, ${total} clients per round (medians over completed rounds)\n`,
);
console.log(header.map((h, j) => h.padStart(widths[j])).join("  "));
for (const r of table) console.log(r.map((c, j) => c.padStart(widths[j])).join("  "));
if (BROWSERS === 0) console.log(`\n(no Chromium at ${CHROMIUM}: browser rows skipped)`);
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
console.log(JSON.stringify({ bench: "federated-client", results: rows }));
