/**
 * Exact DP-SGD noise drawn ahead of time on a worker thread (NoiseWorker, `noiseWorker` option),
 * with real worker threads:
 * - same distribution: a worker given a seeded source through the internal test hook gives, bit
 *   for bit, what the in-process path gives for the same seed (two steps in a row); negative
 *   control: another seed differs;
 * - each vector is used exactly once (zeroed after use; two takes give different vectors) and a
 *   vector for another (grid sigma, dimension) is discarded, never used; a refused input takes
 *   nothing (the pending vector serves the next call);
 * - another rng than the default source uses the in-process path unchanged; an inert worker (no
 *   worker_threads) and a worker that died fall back to in-process drawing; an insecure rng, a
 *   bad value and continuous noise are refused with a DpError naming `noiseWorker`;
 * - makePrivate's fit and dpGradients take their noise from a given worker (one take per step) and
 *   leave it running; `noiseWorker: true` in fit starts one and disposes it when fit returns;
 * - a secure worker's Z has mean 0 and variance gridSigma² (bounds, with a scaled negative control);
 * - no open handles: a process that used (and disposed, or forgot) a worker exits.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it, vi } from "vitest";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { addGaussianNoiseInPlace, exactNoiseGrid, type AddGaussianNoiseInPlaceOptions } from "../../src/mechanisms/gaussian-noise.js";
import { createNoiseWorker, NoiseWorker, startNoiseWorkerForTests } from "../../src/mechanisms/noise-prefetch.js";
import { dpGradients, makePrivate, privatizeClippedSum } from "../../src/dpsgd/index.js";
import { projectRoot } from "../helpers/cli.js";

const D1 = 3000;
const D2 = 2001;
const D = D1 + D2;
const base: AddGaussianNoiseInPlaceOptions = { stddev: 1.1, sensitivity: 1, divisor: 64, name: "clippedSum" };
const { gridSigma } = exactNoiseGrid(1.1, 1, D);

function input(seed: number): Float32Array[] {
  const r = new SeededRng(seed);
  const mk = (n: number) => Float32Array.from({ length: n }, () => (r.nextUint32() / 2 ** 32 - 0.5) * 3);
  return [mk(D1), mk(D2)];
}
const copy = (p: Float32Array[]) => p.map((s) => s.slice());
const bits = (p: Float32Array[]) => p.flatMap((s) => Array.from(new Uint32Array(s.buffer, s.byteOffset, s.length)));

async function until(f: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out waiting for the noise worker");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A worker with a vector for (gridSigma, d) ready (the first take misses and requests it). */
async function primed(nw: NoiseWorker, d = D, gs = gridSigma): Promise<NoiseWorker> {
  expect(nw.take(gs, d)).toBeUndefined();
  await until(() => nw.hasReady(gs, d));
  return nw;
}

const workers: NoiseWorker[] = [];
function seeded(seed: number): NoiseWorker {
  const nw = startNoiseWorkerForTests({ seed });
  workers.push(nw);
  return nw;
}
afterAll(() => {
  for (const w of workers) w.dispose();
});

describe("NoiseWorker with a seeded source (test hook)", () => {
  it("gives the in-process path's bytes for the same seed, step after step; another seed differs", async () => {
    const nw = await primed(seeded(7));
    const ref = new SeededRng(7);
    const a = copy(input(1));
    addGaussianNoiseInPlace(a, { ...base, noiseWorker: nw });
    const ra = copy(input(1));
    addGaussianNoiseInPlace(ra, { ...base, rng: ref });
    expect(nw.stats.used).toBe(1);
    expect(bits(a)).toEqual(bits(ra));
    // The next vector was requested right after the take: the second step continues the stream.
    await until(() => nw.hasReady(gridSigma, D));
    const b = copy(input(2));
    addGaussianNoiseInPlace(b, { ...base, noiseWorker: nw });
    const rb = copy(input(2));
    addGaussianNoiseInPlace(rb, { ...base, rng: ref });
    expect(nw.stats.used).toBe(2);
    expect(bits(b)).toEqual(bits(rb));
    // Negative control: the in-process path with another seed gives other bytes.
    const c = copy(input(1));
    addGaussianNoiseInPlace(c, { ...base, rng: new SeededRng(8) });
    expect(bits(c)).not.toEqual(bits(a));
  }, 90_000);

  it("uses each vector once: zeroed after use, two takes give different vectors", async () => {
    const nw = await primed(seeded(11));
    const taken: Float64Array[] = [];
    const take = nw.take.bind(nw);
    nw.take = (gs: number, d: number) => {
      const z = take(gs, d);
      if (z) taken.push(z);
      return z;
    };
    addGaussianNoiseInPlace(copy(input(1)), { ...base, noiseWorker: nw });
    await until(() => nw.hasReady(gridSigma, D));
    addGaussianNoiseInPlace(copy(input(1)), { ...base, noiseWorker: nw });
    nw.take = take;
    expect(taken).toHaveLength(2);
    expect(taken[0]).not.toBe(taken[1]);
    for (const z of taken) expect(z.every((v) => v === 0)).toBe(true); // zeroed after its one use
    // Taken directly, two vectors differ (not the same buffer or contents).
    await until(() => nw.hasReady(gridSigma, D));
    const z1 = nw.take(gridSigma, D) as Float64Array;
    await until(() => nw.hasReady(gridSigma, D));
    const z2 = nw.take(gridSigma, D) as Float64Array;
    expect(z1).not.toBe(z2);
    expect(z1.buffer).not.toBe(z2.buffer);
    expect(Array.from(z1)).not.toEqual(Array.from(z2));
  }, 90_000);

  it("discards a vector for another (grid sigma, dimension) and never uses it", async () => {
    const nw = await primed(seeded(13));
    const other = exactNoiseGrid(1.1, 1, D - 1);
    expect(nw.take(other.gridSigma, D - 1)).toBeUndefined(); // the pending vector is for D, not D - 1
    expect(nw.stats.discarded).toBe(1);
    expect(nw.stats.used).toBe(0);
    // Another sigma, same dimension: also discarded once it is ready.
    await until(() => nw.hasReady(other.gridSigma, D - 1));
    expect(nw.take(2 * gridSigma, D)).toBeUndefined();
    expect(nw.stats.discarded).toBe(2);
    // Through the hook: a mismatched call draws in-process and uses nothing.
    await until(() => nw.hasReady(2 * gridSigma, D));
    const p = copy(input(3));
    addGaussianNoiseInPlace(p, { ...base, noiseWorker: nw });
    expect(nw.stats.used).toBe(0);
    expect(nw.stats.discarded).toBe(3);
  }, 90_000);

  it("a refused input takes nothing: the pending vector serves the next call", async () => {
    const nw = await primed(seeded(17));
    const bad = copy(input(1));
    bad[1][5] = NaN;
    const before = bits(bad);
    expect(() => addGaussianNoiseInPlace(bad, { ...base, noiseWorker: nw })).toThrow(DpError);
    expect(bits(bad)).toEqual(before);
    expect(nw.stats).toEqual({ used: 0, discarded: 0, missed: 1 });
    const a = copy(input(1));
    addGaussianNoiseInPlace(a, { ...base, noiseWorker: nw });
    const ra = copy(input(1));
    addGaussianNoiseInPlace(ra, { ...base, rng: new SeededRng(17) });
    expect(bits(a)).toEqual(bits(ra));
  }, 90_000);

  it("another rng than the default source uses the in-process path, unchanged", async () => {
    const nw = await primed(seeded(19));
    const a = copy(input(1));
    addGaussianNoiseInPlace(a, { ...base, rng: new SeededRng(3), noiseWorker: nw });
    const ra = copy(input(1));
    addGaussianNoiseInPlace(ra, { ...base, rng: new SeededRng(3) });
    expect(bits(a)).toEqual(bits(ra));
    expect(nw.stats.used).toBe(0);
    expect(nw.hasReady(gridSigma, D)).toBe(true); // still pending
  }, 90_000);
});

describe("fallback and refusals", () => {
  it("an inert worker (no worker_threads) draws in-process", () => {
    const nw = startNoiseWorkerForTests({ unavailable: true });
    expect(nw.available).toBe(false);
    const p = copy(input(1));
    const q = copy(input(1));
    addGaussianNoiseInPlace(p, { ...base, noiseWorker: nw });
    expect(bits(p)).not.toEqual(bits(q));
    expect(p.every((s) => s.every(Number.isFinite))).toBe(true);
    nw.dispose();
  });

  it("a worker that dies falls back to in-process drawing (its pending vector is dropped)", async () => {
    const nw = await primed(seeded(29));
    await (nw as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await until(() => !nw.available);
    expect(nw.take(gridSigma, D)).toBeUndefined();
    const p = copy(input(1));
    addGaussianNoiseInPlace(p, { ...base, noiseWorker: nw });
    const q = copy(input(1));
    addGaussianNoiseInPlace(q, { ...base, rng: new SeededRng(29) });
    expect(bits(p)).not.toEqual(bits(q)); // not the seeded worker's vector: drawn here, from the secure source
    expect(nw.stats.used).toBe(0);
  }, 90_000);

  it("refuses an insecure rng, a bad value and continuous noise, naming noiseWorker", async () => {
    const o = { clippedSum: new Float32Array(4), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 8 };
    const named = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DpError);
        expect((e as DpError).argument).toBe("noiseWorker");
        return;
      }
      throw new Error("not refused");
    };
    named(() => privatizeClippedSum({ ...o, rng: new SeededRng(1), allowInsecureRng: true, noiseWorker: true }));
    named(() => privatizeClippedSum({ ...o, noiseWorker: "yes" as unknown as boolean }));
    named(() => privatizeClippedSum({ ...o, noise: "continuous", noiseWorker: true }));
    // Without the option, the seeded run is unchanged.
    expect(privatizeClippedSum({ ...o, rng: new SeededRng(1), allowInsecureRng: true })).toHaveLength(4);
    await prepareBackend({ backend: "cpu", announce: false });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: "softmax" })] });
    named(() =>
      makePrivate(model, {
        l2NormClip: 1,
        noiseMultiplier: 1,
        targetDelta: 1e-5,
        rng: new SeededRng(1),
        allowInsecureRng: true,
        noiseWorker: true,
      }),
    );
    named(() =>
      dpGradients({
        model,
        loss: "sparseCategoricalCrossentropy",
        x: tf.zeros([2, 2]),
        y: tf.tensor1d([0, 1], "int32"),
        l2NormClip: 1,
        noiseMultiplier: 1,
        expectedBatchSize: 2,
        rng: new SeededRng(1),
        allowInsecureRng: true,
        noiseWorker: true,
      }),
    );
    model.dispose();
  });
});

describe("through makePrivate and dpGradients", () => {
  it("fit takes its noise from a given worker (and leaves it running); `true` trains too", async () => {
    await prepareBackend({ backend: "cpu", announce: false });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: "softmax" })] });
    const x = tf.randomUniform([64, 4]);
    const y = tf.tensor1d(
      Array.from({ length: 64 }, (_, i) => i % 2),
      "float32",
    );
    const nw = await primed(seeded(23), 10, exactNoiseGrid(1.1, 1, 10).gridSigma); // 4·2 + 2 weights: the first step's vector is ready
    const opts = {
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      targetDelta: 1e-5,
      samplingProbability: 0.25,
      loss: "sparseCategoricalCrossentropy",
      optimizer: tf.train.sgd(0.1),
    } as const;
    const h = await makePrivate(model, { ...opts, noiseWorker: nw }).fit(x, y, { epochs: 3 });
    expect(h.history.loss.every((l) => Number.isFinite(l as number))).toBe(true);
    expect(nw.stats.used + nw.stats.missed).toBeGreaterThanOrEqual(12); // one take per step
    expect(nw.stats.used).toBeGreaterThan(0);
    expect(nw.available).toBe(true);
    const dispose = vi.spyOn(NoiseWorker.prototype, "dispose");
    const h2 = await makePrivate(model, { ...opts, noiseWorker: true }).fit(x, y, { epochs: 1 });
    expect(h2.history.loss.every((l) => Number.isFinite(l as number))).toBe(true);
    expect(dispose).toHaveBeenCalled(); // the worker `true` started is stopped when fit returns
    expect((dispose.mock.contexts[0] as NoiseWorker).available).toBe(false);
    dispose.mockRestore();
    expect(nw.available).toBe(true); // a given worker is the caller's to dispose
    // A custom loop step with a given worker.
    const before = nw.stats.used + nw.stats.missed;
    dpGradients({
      model,
      loss: "sparseCategoricalCrossentropy",
      x,
      y,
      l2NormClip: 1,
      noiseMultiplier: 1.1,
      expectedBatchSize: 64,
      noiseWorker: nw,
    });
    expect(nw.stats.used + nw.stats.missed).toBe(before + 1);
    tf.dispose([x, y]);
    model.dispose();
  }, 120_000);
});

describe("with the secure source", () => {
  it("Z has mean 0 and variance gridSigma^2 (bounds); a scaled vector fails them", async () => {
    const nw = createNoiseWorker();
    workers.push(nw);
    expect(nw.available).toBe(true);
    const d = 40_000;
    const gs = exactNoiseGrid(1.1, 1, d).gridSigma;
    await primed(nw, d, gs);
    const z = nw.take(gs, d) as Float64Array;
    const check = (v: Float64Array) => {
      let m = 0;
      let s2 = 0;
      for (const x of v) {
        m += x;
        s2 += x * x;
      }
      m /= d;
      const ratio = s2 / d / (gs * gs);
      return Math.abs(m) < (5 * gs) / Math.sqrt(d) && Math.abs(ratio - 1) < 5 * Math.sqrt(2 / d);
    };
    expect(z.every((x) => Number.isInteger(x))).toBe(true);
    expect(check(z)).toBe(true);
    expect(check(z.map((x) => x * 1.05))).toBe(false); // negative control: 5% too wide
    nw.dispose();
    expect(nw.available).toBe(false);
    expect(nw.take(gs, d)).toBeUndefined();
  }, 90_000);

  it("a process that disposed, or forgot, its worker exits", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dpkit-noise-worker-"));
    try {
      for (const dispose of [true, false]) {
        const script = path.join(dir, `run-${dispose}.mts`);
        const src = (p: string) => JSON.stringify(path.join(projectRoot, p));
        writeFileSync(
          script,
          [
            `const { createNoiseWorker } = await import(${src("src/mechanisms/index.ts")});`,
            `const { privatizeClippedSum } = await import(${src("src/dpsgd/privatize.ts")});`,
            `const nw = createNoiseWorker();`,
            `const o = { clippedSum: new Float32Array(1000), l2NormClip: 1, noiseMultiplier: 1, expectedBatchSize: 8, noiseWorker: nw };`,
            `privatizeClippedSum(o);`,
            `for (let i = 0; i < 300 && nw.stats.used === 0; i++) { await new Promise((r) => setTimeout(r, 20)); privatizeClippedSum(o); }`,
            `console.log("used", nw.stats.used);`,
            dispose ? `nw.dispose();` : ``,
          ].join("\n"),
        );
        const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: projectRoot, timeout: 90_000, encoding: "utf8" });
        expect(r.error).toBeUndefined();
        expect(r.stdout).toMatch(/used [1-9]/);
        expect(r.status).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 200_000);
});
