/**
 * What `makePrivate({ accounting: "pld" })` costs against the default RDP account, at the MNIST
 * run's sizes (q = 512/60000, 118 steps per epoch, 40 epochs = 4,720 steps, ε = 3, δ = 1e-5).
 * Usage: npm run bench -- dpsgd-accounting   (env: EPOCHS=40, REPS=3, FIT=1 to also time whole fits)
 *
 * - calibrate: σ from `targetEpsilon` for the planned run (once per makePrivate, at the first fit).
 * - epoch k: ε of the ledger after k epochs (k × 118 steps), which makePrivate computes once per
 *   epoch (then cached until the next step): the per-epoch overhead, median and largest over k.
 * - budget: the check before a fit, `PrivacyBudget.maxCount` — when the planned steps fit (the
 *   calibrated first fit: one evaluation), when part of them do (σ given, 50 epochs planned) and
 *   when none does (a fit after the budget is spent).
 * - FIT=1: whole `fit`s of a 4 → 2 softmax model on 60,000 synthetic examples, targetEpsilon 3
 *   (σ calibrated by the fit), RDP and PLD alternating, FIT_REPS each (default 1), with the time
 *   spent inside the accountants' `getEpsilon` summed during each fit (every PLD evaluation —
 *   calibration, budget, each epoch — ends there; RDP's work is mostly in `compose`, which is
 *   negligible). The whole-fit difference is also printed, though the steps' own variance on a
 *   shared machine is larger than the accounting.
 *
 * Times are wall-clock medians over REPS alternating repetitions (the machine is shared). Prints a
 * table and, as the last line, one JSON object (docs/performance.md).
 */
import * as tf from "@tensorflow/tfjs";
import {
  PldAccountant,
  PrivacyBudget,
  RdpAccountant,
  calibrateNoiseMultiplier,
  gaussianEvent,
  makeAccountant,
  poissonSampledEvent,
  selfComposedEvent,
  type AccountantKind,
} from "../src/accounting/index.js";
import { prepareBackend } from "../src/backend/index.js";
import { makePrivate } from "../src/dpsgd/index.js";
import { type BenchRow as Row, median } from "./report.js";

const EPOCHS = Number(process.env.EPOCHS ?? 40);
const REPS = Number(process.env.REPS ?? 3);
const FIT = process.env.FIT === "1";
const FIT_REPS = Number(process.env.FIT_REPS ?? 1);
const N = 60000;
const B = 512;
const Q = B / N;
const PER_EPOCH = Math.ceil(N / B);
const STEPS = EPOCHS * PER_EPOCH;
const EPS = 3;
const DELTA = 1e-5;
const KINDS: AccountantKind[] = ["rdp", "pld"];

function seconds<T>(f: () => T): { s: number; value: T } {
  const t0 = performance.now();
  const value = f();
  return { s: (performance.now() - t0) / 1000, value };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const out = (kase: string, metric: string, value: number, unit: string, baseline?: number): void => {
    rows.push({ case: kase, metric, value, unit, ...(baseline === undefined ? {} : { baseline, ratio: value / baseline }) });
  };
  const line = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padStart(i === 0 ? 34 : 14)).join("  ");
  console.log(
    `MNIST run sizes: q = ${B}/${N}, ${PER_EPOCH} steps per epoch, ${EPOCHS} epochs = ${STEPS} steps, epsilon ${EPS}, delta ${DELTA}`,
  );
  console.log(line(["case", "rdp", "pld", "pld / rdp"]));

  // Calibration (what the first fit does once).
  const sigma: Record<string, number> = {};
  const cal: Record<string, number[]> = { rdp: [], pld: [] };
  for (let r = 0; r < REPS; r++)
    for (const k of KINDS) {
      const t = seconds(() =>
        calibrateNoiseMultiplier({ targetEpsilon: EPS, targetDelta: DELTA, samplingProbability: Q, steps: STEPS, accountant: k }),
      );
      cal[k].push(t.s);
      sigma[k] = t.value;
    }
  console.log(line(["calibrated sigma", sigma.rdp.toFixed(6), sigma.pld.toFixed(6), (sigma.pld / sigma.rdp).toFixed(4)]));
  console.log(
    line(["calibrate (s)", median(cal.rdp).toFixed(4), median(cal.pld).toFixed(4), (median(cal.pld) / median(cal.rdp)).toFixed(0)]),
  );
  for (const k of KINDS) {
    out(`calibrate ${k}`, "noise_multiplier", sigma[k], "");
    out(`calibrate ${k}`, "wall_time", median(cal[k]), "s");
  }

  // ε of each σ after the planned steps, by each accountant.
  const step = (s: number) => poissonSampledEvent(Q, gaussianEvent(s));
  const epsBy = (k: AccountantKind, s: number, n: number): number => makeAccountant(k).compose(step(s), n).getEpsilon(DELTA);
  for (const sk of KINDS) {
    const e = { rdp: epsBy("rdp", sigma[sk], STEPS), pld: epsBy("pld", sigma[sk], STEPS) };
    console.log(line([`epsilon at the ${sk} sigma`, e.rdp.toFixed(4), e.pld.toFixed(4), (e.pld / e.rdp).toFixed(4)]));
    for (const k of KINDS) out(`epsilon by ${k} at the ${sk}-calibrated sigma`, "epsilon", e[k], "");
  }

  // The per-epoch ε (one evaluation per epoch, of the ledger as makePrivate holds it: one merged event).
  const perEpoch: Record<string, number[]> = { rdp: [], pld: [] };
  for (let e = 1; e <= EPOCHS; e++)
    for (const k of KINDS) {
      const ledger = selfComposedEvent(step(sigma.pld), e * PER_EPOCH);
      perEpoch[k].push(seconds(() => makeAccountant(k).compose(ledger).getEpsilon(DELTA)).s);
    }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const [mr, mp] = [median(perEpoch.rdp), median(perEpoch.pld)];
  console.log(line(["epoch epsilon, median (s)", mr.toFixed(5), mp.toFixed(4), (mp / mr).toFixed(0)]));
  console.log(line(["epoch epsilon, largest (s)", Math.max(...perEpoch.rdp).toFixed(5), Math.max(...perEpoch.pld).toFixed(4), ""]));
  console.log(line([`epoch epsilon, all ${EPOCHS} epochs (s)`, sum(perEpoch.rdp).toFixed(4), sum(perEpoch.pld).toFixed(3), ""]));
  for (const k of KINDS) {
    out(`epoch epsilon ${k}`, "wall_time_median", median(perEpoch[k]), "s");
    out(`epoch epsilon ${k}`, "wall_time_max", Math.max(...perEpoch[k]), "s");
    out(`epoch epsilon ${k}`, "wall_time_total", sum(perEpoch[k]), "s");
  }

  // The budget check before a fit (PrivacyBudget.maxCount, as makePrivate calls it).
  const budget = (k: AccountantKind, spent: number) =>
    new PrivacyBudget({ epsilon: EPS, delta: DELTA, accountant: k, spent: spent ? [selfComposedEvent(step(sigma.pld), spent)] : [] });
  // The last case spends what each accountant allowed in the one before it: then not one more step fits.
  const fitsAll: Record<string, number> = { rdp: 0, pld: 0 };
  const budgetCases: [string, (k: AccountantKind) => number, number][] = [
    ["budget: all planned fit", () => 0, STEPS],
    ["budget: part fits (50/40 planned)", () => 0, Math.round(1.25 * STEPS)],
    ["budget: none fits (all spent)", (k) => fitsAll[k], PER_EPOCH],
  ];
  for (const [name, spent, planned] of budgetCases) {
    const t: Record<string, number[]> = { rdp: [], pld: [] };
    const allowed: Record<string, number> = {};
    for (let r = 0; r < REPS; r++)
      for (const k of KINDS) {
        const b = budget(k, spent(k));
        const x = seconds(() => b.maxCount(step(sigma.pld), planned));
        t[k].push(x.s);
        allowed[k] = x.value;
      }
    console.log(line([`${name} (s)`, median(t.rdp).toFixed(5), median(t.pld).toFixed(4), (median(t.pld) / median(t.rdp)).toFixed(0)]));
    console.log(line([`  steps allowed of ${planned}`, allowed.rdp, allowed.pld, ""]));
    if (planned > STEPS) Object.assign(fitsAll, allowed);
    for (const k of KINDS) {
      out(`${name} ${k}`, "wall_time", median(t[k]), "s");
      out(`${name} ${k}`, "steps_allowed", allowed[k], "steps");
    }
  }

  if (FIT) {
    await prepareBackend({ backend: "cpu", announce: false });
    const x = tf.randomNormal([N, 4]); // not privacy noise: synthetic inputs for a timing
    const y = tf.tensor1d(Array.from({ length: N }, (_, i) => i % 2));
    // Time inside getEpsilon, summed (the accountants' own methods, wrapped for this measurement only).
    const inside = { s: 0, calls: 0 };
    for (const proto of [PldAccountant.prototype, RdpAccountant.prototype]) {
      const original = proto.getEpsilon;
      proto.getEpsilon = function (this: typeof proto, d: number): number {
        const t0 = performance.now();
        try {
          return original.call(this, d);
        } finally {
          inside.s += (performance.now() - t0) / 1000;
          inside.calls++;
        }
      };
    }
    const fits: Record<string, number[]> = { rdp: [], pld: [] };
    const acct: Record<string, number[]> = { rdp: [], pld: [] };
    const calls: Record<string, number> = {};
    const eps: Record<string, number> = {};
    // Rep -1 is a warm-up (JIT, tfjs kernels): 2 epochs of each kind at σ = 1, not recorded.
    for (let r = -1; r < FIT_REPS; r++)
      for (const k of KINDS) {
        const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: "softmax" })] });
        const priv = makePrivate(model, {
          l2NormClip: 1,
          ...(r < 0 ? { noiseMultiplier: 1 } : { targetEpsilon: EPS }),
          targetDelta: DELTA,
          batchSize: B,
          accounting: k,
          optimizer: tf.train.sgd(0.1),
          loss: "sparseCategoricalCrossentropy",
        });
        Object.assign(inside, { s: 0, calls: 0 });
        const t0 = performance.now();
        const h = await priv.fit(x, y, { epochs: r < 0 ? 2 : EPOCHS, verbose: 0, yieldEvery: "never" });
        model.dispose();
        if (r < 0) continue;
        fits[k].push((performance.now() - t0) / 1000);
        acct[k].push(inside.s);
        calls[k] = inside.calls;
        eps[k] = h.epsilon;
      }
    const [fr, fp] = [median(fits.rdp), median(fits.pld)];
    console.log(line([`whole fit, ${STEPS} steps (s)`, fr.toFixed(2), fp.toFixed(2), (fp / fr).toFixed(3)]));
    console.log(line(["  pld - rdp per fit (s)", "", (fp - fr).toFixed(2), ""]));
    const [ar, ap] = [median(acct.rdp), median(acct.pld)];
    console.log(line(["  inside getEpsilon per fit (s)", ar.toFixed(4), ap.toFixed(3), ""]));
    console.log(line(["  getEpsilon calls per fit", calls.rdp, calls.pld, ""]));
    console.log(line(["  accounting share of the fit", `${((100 * ar) / fr).toFixed(2)}%`, `${((100 * ap) / fp).toFixed(1)}%`, ""]));
    console.log(line(["  epsilon reported", eps.rdp.toFixed(4), eps.pld.toFixed(4), ""]));
    out("fit rdp", "wall_time", fr, "s");
    out("fit pld", "wall_time", fp, "s", fr);
    out("fit rdp", "accounting_time", ar, "s");
    out("fit pld", "accounting_time", ap, "s", ar);
    tf.dispose([x, y]);
  }
  console.log(JSON.stringify({ bench: "dpsgd-accounting", epochs: EPOCHS, reps: REPS, fitReps: FIT ? FIT_REPS : 0, rows }));
}

await main();
