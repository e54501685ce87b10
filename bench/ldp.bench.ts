/**
 * Local-DP benchmarks: RAPPOR encoding throughput, sum-bits, and decoding time for 1,000,000
 * reports, 64 cohorts and 1,000 candidates; randomized-response throughput; and, side by side,
 * the PRR's HMAC-SHA256 through @noble/hashes (what dpkit uses, browser-portable) against
 * node:crypto. Prints a table and, as the last line, one JSON object.
 */
import { createHmac } from "node:crypto";
import { SeededRng, secureRng } from "../src/random/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  createRapporEncoder,
  decodeRappor,
  hashRapporCandidates,
  kRandomizedResponse,
  optimizedUnaryEncoding,
  rapporPrrMasks,
  rapporSimulationCounts,
  simulateRapporCounts,
  sumRapporBits,
} from "../src/ldp/index.js";
import { median } from "./report.js";

interface Result {
  case: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}
const results: Result[] = [];
const time = (fn: () => void): number => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

const params = DEFAULT_RAPPOR_PARAMS;
const candidates = Array.from({ length: 1000 }, (_, j) => `https://example.com/page/${j}`);

// 1. Encoding throughput: one client (secure IRR randomness, memoised PRR) and fresh clients.
{
  const client = createRapporEncoder({ params });
  const n = 20_000;
  const reps: number[] = [];
  for (let r = 0; r < 3; r++)
    reps.push(
      time(() => {
        for (let i = 0; i < n; i++) client.encode(candidates[i % 1000]);
      }),
    );
  results.push({
    case: "rappor encode, one client (k=16, h=2, secure IRR)",
    metric: "throughput",
    value: n / (median(reps) / 1000),
    unit: "reports/s",
  });
  const m = 5_000;
  const reps2: number[] = [];
  for (let r = 0; r < 3; r++)
    reps2.push(
      time(() => {
        for (let i = 0; i < m; i++) createRapporEncoder({ params }).encode(candidates[i % 1000]);
      }),
    );
  results.push({
    case: "rappor encode, new client per report (secret + cohort + MD5 + HMAC)",
    metric: "throughput",
    value: m / (median(reps2) / 1000),
    unit: "reports/s",
  });
}

// 2. PRR HMAC: @noble/hashes against node:crypto, alternating, 5 repetitions, median.
{
  const secret = new Uint8Array(32);
  secureRng().fillBytes(secret);
  const n = 20_000;
  const noble: number[] = [];
  const node: number[] = [];
  const msg = new Uint8Array(4);
  for (let r = 0; r < 5; r++) {
    noble.push(
      time(() => {
        for (let i = 0; i < n; i++) rapporPrrMasks(secret, i & 0xffff, 0.5, 16);
      }),
    );
    node.push(
      time(() => {
        for (let i = 0; i < n; i++) {
          msg[2] = (i >>> 8) & 0xff;
          msg[3] = i & 0xff;
          createHmac("sha256", secret).update(msg).digest();
        }
      }),
    );
  }
  const us = (ms: number): number => (1000 * ms) / n;
  results.push({
    case: "PRR masks (HMAC-SHA256), @noble/hashes",
    metric: "time per PRR",
    value: us(median(noble)),
    unit: "us",
    baseline: us(median(node)),
    ratio: median(noble) / median(node),
  });
}

// 3. Collector: sum-bits over 1,000,000 reports; simulate and decode 1,000,000 reports, 64 cohorts, 1,000 candidates.
{
  const rng = new SeededRng(1);
  const N = 1_000_000;
  const reports = Array.from({ length: N }, () => ({ cohort: rng.nextUint32() % 64, irr: rng.nextUint32() & 0xffff }));
  results.push({
    case: "sum-bits, 1,000,000 reports",
    metric: "time",
    value: median([0, 1, 2].map(() => time(() => sumRapporBits(reports, params)))),
    unit: "ms",
  });
  const map = hashRapporCandidates(candidates, params);
  results.push({
    case: "hash-candidates, 1,000 candidates x 64 cohorts",
    metric: "time",
    value: time(() => hashRapporCandidates(candidates, params)),
    unit: "ms",
  });
  const truth = rapporSimulationCounts({ numCandidates: 1000, numReports: N, distribution: "zipf" });
  let counts = simulateRapporCounts({ params, map, trueCounts: truth, rng });
  results.push({
    case: "simulate bit counts, 1,000,000 reports",
    metric: "time",
    value: time(() => (counts = simulateRapporCounts({ params, map, trueCounts: truth, rng }))),
    unit: "ms",
  });
  const lasso: number[] = [];
  const nnls: number[] = [];
  let detected = 0;
  for (let r = 0; r < 3; r++) {
    lasso.push(time(() => (detected = decodeRappor({ params, counts, map }).detected.length)));
    nnls.push(time(() => decodeRappor({ params, counts, map, lassoPenalty: 0 })));
  }
  results.push({
    case: "decode 1,000,000 reports, 64 cohorts, 1,000 candidates (LASSO vs NNLS selection)",
    metric: "time",
    value: median(lasso),
    unit: "ms",
    baseline: median(nnls),
    ratio: median(lasso) / median(nnls),
  });
  results.push({ case: "  candidates detected (Zipf population)", metric: "count", value: detected, unit: "candidates" });
}

// 4. Randomized response and OUE throughput (secure source).
{
  const rr = kRandomizedResponse({ epsilon: 1, k: 10 });
  const n = 1_000_000;
  results.push({
    case: "k-RR randomize (k=10, secure)",
    metric: "throughput",
    value:
      n /
      (median(
        [0, 1, 2].map(() =>
          time(() => {
            for (let i = 0; i < n; i++) rr.randomize(i % 10);
          }),
        ),
      ) /
        1000),
    unit: "reports/s",
  });
  const oue = optimizedUnaryEncoding({ epsilon: 1, domainSize: 100 });
  const m = 20_000;
  results.push({
    case: "OUE randomize (d=100, secure)",
    metric: "throughput",
    value:
      m /
      (median(
        [0, 1, 2].map(() =>
          time(() => {
            for (let i = 0; i < m; i++) oue.randomize(i % 100);
          }),
        ),
      ) /
        1000),
    unit: "reports/s",
  });
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
console.log("case".padEnd(88) + "value".padStart(14) + "  unit        baseline   ratio");
for (const r of results) {
  console.log(
    r.case.padEnd(88) +
      fmt(r.value).padStart(14) +
      "  " +
      r.unit.padEnd(10) +
      (r.baseline === undefined ? "" : fmt(r.baseline).padStart(10) + fmt(r.ratio!).padStart(8)),
  );
}
console.log(JSON.stringify({ bench: "ldp", results }));
