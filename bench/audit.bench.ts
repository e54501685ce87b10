/**
 * Audit throughput. Usage: npm run bench -- audit   (env: REPS=3, TRIALS=200000)
 *
 * - The white-box DP-SGD step audit (`auditDpSgdStep`): trials per second with the secure source
 *   and with a seeded one, against a baseline that runs the same real step functions one trial at
 *   a time (one `poissonSampleIndices` and one `privatizeClippedSum` call per trial) — side by
 *   side in this process, alternating, median of REPS.
 * - The DP-FedAvg round audit (server and distributed noise): rounds per second.
 * - The statistics: `epsilonLowerBound` on 2 × 1e6 scores, `oneRunAudit` on 10,000 canaries.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import { auditDpFedAvgRound, auditDpSgdStep, epsilonLowerBound, oneRunAudit } from "../src/audit/index.js";
import { clipAndSum, poissonSampleIndices, privatizeClippedSum } from "../src/dpsgd/index.js";
import { SeededRng, fillGaussian, secureRng } from "../src/random/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 3);
const TRIALS = Number(process.env.TRIALS ?? 200_000);

function seconds(f: () => void): number {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
}

/** The same audit trials one at a time (no vectorisation): the baseline. */
function perTrial(trials: number): void {
  const n = 16;
  const d = 4;
  const q = 0.25;
  const g = new Float32Array((n + 1) * d);
  g[n * d] = 100;
  for (const withCanary of [true, false]) {
    const rows = withCanary ? n + 1 : n;
    for (let t = 0; t < trials; t++) {
      const idx = poissonSampleIndices({ datasetSize: rows, samplingProbability: q });
      const batch = new Float32Array(idx.length * d);
      for (let k = 0; k < idx.length; k++) batch.set(g.subarray(idx[k] * d, idx[k] * d + d), k * d);
      const { clippedSum } = clipAndSum({ perExampleGradients: batch, dimension: d, l2NormClip: 1 });
      privatizeClippedSum({ clippedSum, l2NormClip: 1, noiseMultiplier: 1.2, expectedBatchSize: q * n });
    }
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const cases: Record<string, () => void> = {
    "per-trial loop (baseline, secure)": () => perTrial(TRIALS),
    "auditDpSgdStep (secure)": () => void auditDpSgdStep({ epsilon: 2, trials: TRIALS }),
    "auditDpSgdStep (seeded)": () => void auditDpSgdStep({ epsilon: 2, trials: TRIALS, rng: new SeededRng(1) }),
  };
  for (const f of Object.values(cases)) f(); // warm-up
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let r = 0; r < REPS; r++) for (const [k, f] of Object.entries(cases)) times[k].push(seconds(f));
  const base = (2 * TRIALS) / median(times["per-trial loop (baseline, secure)"]);
  for (const k of Object.keys(cases)) {
    const rate = (2 * TRIALS) / median(times[k]);
    const row: Row = { case: `DP-SGD step, ${k}`, metric: "rate", value: rate, unit: "trials/s" };
    if (!k.startsWith("per-trial")) {
      row.baseline = base;
      row.ratio = rate / base;
    }
    rows.push(row);
  }
  for (const placement of ["server", "client-distributed"] as const) {
    const trials = placement === "server" ? TRIALS / 4 : TRIALS / 20;
    const t = median(
      Array.from({ length: REPS }, () =>
        seconds(() => void auditDpFedAvgRound({ epsilon: 2, noisePlacement: placement, trials, rng: new SeededRng(2) })),
      ),
    );
    rows.push({ case: `DP-FedAvg round (${placement}, 16 clients)`, metric: "rate", value: (2 * trials) / t, unit: "rounds/s" });
  }
  const a = fillGaussian(new Float64Array(1_000_000), 1, secureRng()).map((v) => v + 0.5);
  const b = fillGaussian(new Float64Array(1_000_000), 1, secureRng());
  const tBound = median(
    Array.from({ length: REPS }, () => seconds(() => void epsilonLowerBound({ scoresIn: a, scoresOut: b, delta: 1e-5 }))),
  );
  rows.push({ case: "epsilonLowerBound, 2 x 1e6 scores (split)", metric: "time", value: tBound * 1000, unit: "ms" });
  const coins = Array.from({ length: 10_000 }, (_, i) => i % 2 === 0);
  const scores = coins.map((c, i) => (c ? 0.3 : 0) + a[i]);
  const tOne = median(Array.from({ length: REPS }, () => seconds(() => void oneRunAudit({ scores, included: coins, delta: 1e-5 }))));
  rows.push({ case: "oneRunAudit, 10,000 canaries, 4 guess sizes", metric: "time", value: tOne * 1000, unit: "ms" });

  console.log(`${"case".padEnd(58)} ${"value".padStart(12)}  unit        ratio`);
  for (const r of rows)
    console.log(
      `${r.case.padEnd(58)} ${r.value.toPrecision(4).padStart(12)}  ${r.unit.padEnd(10)}  ${r.ratio === undefined ? "" : r.ratio.toFixed(2) + "x"}`,
    );
  console.log(JSON.stringify({ bench: "audit", reps: REPS, trials: TRIALS, results: rows }));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
