/**
 * The step's noise with a worker pool (issue 19): the exact noise Z is drawn while the workers
 * compute and the release uses that vector once. With a `callerComputes` pool and the secure
 * source it is shared — each computing thread draws a disjoint range of the coordinates (the
 * workers from their own secure sources); otherwise the calling thread draws all of it from the
 * step's `rng` after its own chunks (which it also adds into the accumulator then). Real worker
 * threads on wasm:
 * - with a seeded `rng` the noisy gradients of a `callerComputes` pool and of a plain 2-worker pool
 *   are the bytes of the in-process chunked sum privatised in-process (the same stream, the same
 *   samples, each coordinate noised once), and the drawn vector is zeroed after its use;
 * - shared noise with seeded worker sources (the test-only hook): two fresh pools with the same
 *   seeds give the same bytes; another worker seed changes exactly the worker's range;
 * - the split of the coordinates between the calling thread and the worker (balanced by the
 *   threads' timings, fixed here by a test hook): for f = 0, 0.2, 0.5, 0.93 and 1 the calling
 *   thread's seed changes exactly the first ⌊f·d⌋ coordinates and the worker's seed exactly the
 *   others (a partition), each noised once; with the balance switched on (off by default) and a
 *   worker 80 ms slower (test fault) it hands the calling thread all the noise (f > 0.95 after 16
 *   steps), every step noised once —
 *   negative control: a worker range that starts 5 coordinates late (test fault) leaves them
 *   unnoised and fails the count;
 * - counting: every coordinate of a secure-noise step differs from the noiseless step, and the
 *   noise on each half of the coordinates has the step's variance (also for the caller + 2
 *   workers, a batch of one chunk and an empty batch) — negative controls: one half
 *   noised twice (variance ×2) or one range missed (its coordinates unchanged) fail the same checks,
 *   both through the release with a broken vector and with a worker that skips its range or draws
 *   it twice;
 * - an insecure `rng` is refused before any work, as without workers; no noise is drawn ahead for
 *   noise multiplier 0, continuous noise or a `noiseWorker`;
 * - `addGaussianNoiseInPlace` with a presampled vector: a refused (non-finite) sum leaves the input
 *   as it was and zeroes the vector; a vector for another dimension is discarded (zeroed) and the
 *   noise drawn in place from the rng instead (control: using it would change the bytes).
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../src/backend/index.js";
import { DpError } from "../../src/errors.js";
import { SeededRng } from "../../src/random/index.js";
import { addRoundedGiven, setZigguratWasmForTesting, zigguratWasmActive } from "../../src/random/discrete-ziggurat.js";
import { roundHalfUp } from "../../src/math/round.js";
import { addGaussianNoiseInPlace, drawExactNoise, exactNoiseGrid } from "../../src/mechanisms/gaussian-noise.js";
import { batch, CHUNK, CLIP, LOSS, model, raw } from "../helpers/dp-workers.js";
import { createDpWorkerPool, dpGradients, type DpWorkerPool } from "../../src/dpsgd/index.js";
import { computeClippedSum, privatizeParts, type ClippedSumParts } from "../../src/dpsgd/gradients.js";
import { chunkedClippedSum } from "../../src/dpsgd/workers/chunks.js";
import {
  lastStepProfile,
  noiseSplit,
  setNoiseBalance,
  setNoiseSplitForTests,
  sharesNoise,
  startDpWorkerPool,
} from "../../src/dpsgd/workers/pool.js";

const OPTIONS = { chunkSize: CHUNK, startupTimeoutMs: 90_000, stepTimeoutMs: 60_000 };
const SIGMA = 1.1;
const N = 37;

let m: tf.LayersModel;
let caller: DpWorkerPool, plain: DpWorkerPool;
beforeAll(async () => {
  await prepareBackend({ backend: "wasm", announce: false });
  m = model(11);
  [caller, plain] = await Promise.all([
    createDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }),
    createDpWorkerPool({ model: m, workers: 2, ...OPTIONS }),
  ]);
}, 150_000);
afterAll(async () => {
  await Promise.all([caller?.close(), plain?.close()]);
  await prepareBackend({ backend: "cpu", announce: false });
});

const flat = (values: Record<string, Float32Array>, names: string[]): Float32Array => {
  const parts = names.map((n) => values[n]);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const names = (): string[] => m.trainableWeights.map((w) => (w.read() as tf.Variable).name);

/** The in-process reference: the chunked sum, privatised in-process (noise drawn in place). */
function reference(x: tf.Tensor, y: tf.Tensor, o: { noiseMultiplier: number; seed?: number }): Float32Array {
  const parts = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
  const rng = o.seed === undefined ? undefined : new SeededRng(o.seed);
  const grads = privatizeParts(parts, {
    l2NormClip: CLIP,
    noiseMultiplier: o.noiseMultiplier,
    expectedBatchSize: N,
    rng,
    allowInsecureRng: true,
  });
  try {
    return flat(Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, t.dataSync() as Float32Array])), names());
  } finally {
    tf.dispose(grads);
  }
}

/**
 * How a noisy average `v` differs from the noiseless one `v0`: the number of coordinates that
 * changed, and the noise's variance over [from, to) in units of the step's (σC)².
 */
function noiseStats(v: Float32Array, v0: Float32Array, from = 0, to = v.length): { changed: number; variance: number } {
  let changed = 0;
  let sq = 0;
  for (let i = from; i < to; i++) {
    const e = (v[i] - v0[i]) * N; // the noise on the sum
    if (e !== 0) changed++;
    sq += e * e;
  }
  return { changed, variance: sq / (to - from) / (SIGMA * CLIP) ** 2 };
}

/** Noise on every coordinate, once: all changed, each half with variance ≈ 1 (d = 1306: standard error ≈ 0.055 per half). */
function noisedOnce(v: Float32Array, v0: Float32Array): boolean {
  const d = v.length;
  const half = d >> 1;
  const all = noiseStats(v, v0);
  const a = noiseStats(v, v0, 0, half);
  const b = noiseStats(v, v0, half, d);
  return all.changed === d && Math.abs(a.variance - 1) < 0.3 && Math.abs(b.variance - 1) < 0.3;
}

describe("the step's noise drawn by the calling thread while the workers compute", () => {
  it("seeded: the pools' noisy gradients are the in-process chunked sum privatised in-process, bit for bit", () => {
    const { x, y } = batch(N, 501);
    try {
      const want = reference(x, y, { noiseMultiplier: SIGMA, seed: 42 });
      for (const pool of [caller, plain]) {
        const step = dpGradients({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          noiseMultiplier: SIGMA,
          expectedBatchSize: N,
          rng: new SeededRng(42),
          allowInsecureRng: true,
          workers: pool,
        });
        expect(raw(flat(step.gradientValues(), names())).equals(raw(want))).toBe(true);
        // The noise was drawn ahead (the calling thread's time before it waited).
        expect(lastStepProfile(pool)?.ahead).toBeGreaterThan(0);
      }
      // Control: another seed gives other bytes.
      const other = dpGradients({
        model: m,
        loss: LOSS,
        x,
        y,
        l2NormClip: CLIP,
        noiseMultiplier: SIGMA,
        expectedBatchSize: N,
        rng: new SeededRng(43),
        allowInsecureRng: true,
        workers: caller,
      });
      expect(raw(flat(other.gradientValues(), names())).equals(raw(want))).toBe(false);
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("the drawn vector is used once and zeroed; its parts carry it only for exact noise with sigma > 0 and no noiseWorker", () => {
    const { x, y } = batch(N, 502);
    try {
      const parts = computeClippedSum({
        model: m,
        loss: LOSS,
        x,
        y,
        l2NormClip: CLIP,
        workers: caller,
        noiseAhead: { noiseMultiplier: SIGMA },
      });
      const z = parts.presampled?.z as Float64Array;
      expect(z).toBeInstanceOf(Float64Array);
      expect(z.length).toBe(1306);
      expect(z.some((v) => v !== 0)).toBe(true);
      tf.dispose(privatizeParts(parts, { l2NormClip: CLIP, noiseMultiplier: SIGMA, expectedBatchSize: N }));
      expect(z.every((v) => v === 0)).toBe(true);
      for (const noiseAhead of [
        { noiseMultiplier: 0 },
        { noiseMultiplier: SIGMA, noise: "continuous" as const },
        { noiseMultiplier: SIGMA, noiseWorker: true },
        undefined,
      ]) {
        const p = computeClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, workers: caller, noiseAhead });
        expect(p.presampled).toBeUndefined();
      }
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("secure noise: every coordinate noised, exactly once; controls: a half noised twice or a range missed fail the check", () => {
    const { x, y } = batch(N, 503);
    try {
      const v0 = reference(x, y, { noiseMultiplier: 0 });
      for (const pool of [caller, plain]) {
        const step = dpGradients({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          noiseMultiplier: SIGMA,
          expectedBatchSize: N,
          workers: pool,
        });
        const v = flat(step.gradientValues(), names());
        expect(noiseStats(v, v0).changed).toBe(v.length);
        expect(noisedOnce(v, v0)).toBe(true);
      }
      // The controls go through the same path with a broken vector: the pool's drawn Z with its
      // first half noised a second time (another draw added), or with a range left at zero.
      const broken = (mutate: (z: Float64Array, parts: ClippedSumParts) => void): Float32Array => {
        const parts = computeClippedSum({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          workers: caller,
          noiseAhead: { noiseMultiplier: SIGMA },
        });
        mutate(parts.presampled?.z as Float64Array, parts);
        const grads = privatizeParts(parts, { l2NormClip: CLIP, noiseMultiplier: SIGMA, expectedBatchSize: N });
        try {
          return flat(Object.fromEntries(Object.entries(grads).map(([k, t]) => [k, t.dataSync() as Float32Array])), names());
        } finally {
          tf.dispose(grads);
        }
      };
      const twice = broken((z) => {
        const again = drawExactNoise(SIGMA * CLIP, CLIP, z.length).z;
        for (let i = 0; i < z.length >> 1; i++) z[i] += again[i];
      });
      expect(noiseStats(twice, v0).changed).toBe(twice.length);
      expect(noisedOnce(twice, v0)).toBe(false);
      const missed = broken((z) => z.fill(0, 100, 400));
      expect(noiseStats(missed, v0).changed).toBeLessThan(missed.length);
      expect(noisedOnce(missed, v0)).toBe(false);
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("an insecure rng is refused with a pool, before any work, as without one", () => {
    const { x, y } = batch(N, 504);
    try {
      const before = lastStepProfile(caller);
      const call = () =>
        dpGradients({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          noiseMultiplier: SIGMA,
          expectedBatchSize: N,
          rng: new SeededRng(1),
          workers: caller,
        });
      expect(call).toThrow(DpError);
      expect(call).toThrow(/secure/);
      expect(lastStepProfile(caller)).toBe(before); // no step ran
      // Noise multiplier 0 draws nothing and needs no secure source, as without workers.
      expect(() =>
        dpGradients({
          model: m,
          loss: LOSS,
          x,
          y,
          l2NormClip: CLIP,
          noiseMultiplier: 0,
          expectedBatchSize: N,
          rng: new SeededRng(1),
          allowInsecureRng: true,
          workers: caller,
        }),
      ).not.toThrow();
    } finally {
      tf.dispose([x, y]);
    }
  });
});

describe("the noise shared between the calling thread and a worker", () => {
  const seeded = (noiseSeed: number, fault?: "noise-skip" | "noise-twice") =>
    startDpWorkerPool(
      { model: m, workers: 1, callerComputes: true, ...OPTIONS },
      fault ? { 0: fault } : {},
      fault ? undefined : { 0: noiseSeed },
    );
  let a: DpWorkerPool, b: DpWorkerPool, c: DpWorkerPool, skip: DpWorkerPool, twice: DpWorkerPool;
  beforeAll(async () => {
    [a, b, c, skip, twice] = await Promise.all([seeded(5), seeded(5), seeded(6), seeded(0, "noise-skip"), seeded(0, "noise-twice")]);
  }, 150_000);
  afterAll(async () => {
    await Promise.all([a, b, c, skip, twice].map((p) => p?.close()));
  });
  const step = (pool: DpWorkerPool, x: tf.Tensor, y: tf.Tensor, rng?: SeededRng): Float32Array =>
    flat(
      dpGradients({
        model: m,
        loss: LOSS,
        x,
        y,
        l2NormClip: CLIP,
        noiseMultiplier: SIGMA,
        expectedBatchSize: N,
        rng,
        allowInsecureRng: rng !== undefined,
        workers: pool,
      }).gradientValues(),
      names(),
    );

  it("is used with the secure source on callerComputes pools only; the worker draws its range", () => {
    expect(sharesNoise(caller, undefined)).toBe(true);
    expect(sharesNoise(caller, new SeededRng(1))).toBe(false); // an insecure rng: the calling thread draws all of it
    expect(sharesNoise(plain, undefined)).toBe(false); // the calling thread idles there: it draws all of it
    expect(sharesNoise(a, new SeededRng(1))).toBe(true); // test-seeded workers
    const { x, y } = batch(N, 505);
    try {
      step(caller, x, y);
      expect(lastStepProfile(caller)?.workers[0].noise).toBeGreaterThan(0);
      step(caller, x, y, new SeededRng(2));
      expect(lastStepProfile(caller)?.workers[0].noise).toBeUndefined();
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("seeded workers: the same seeds give the same bytes; another worker seed changes exactly the worker's range", () => {
    const { x, y } = batch(N, 506);
    try {
      const va = step(a, x, y, new SeededRng(42));
      const vb = step(b, x, y, new SeededRng(42));
      const vc = step(c, x, y, new SeededRng(42));
      expect(raw(va).equals(raw(vb))).toBe(true);
      // 5 chunks of 8: the calling thread computes 3, so its range is the first ⌊1306·3/5⌋ = 783 coordinates.
      const split = Math.floor((va.length * 3) / 5);
      expect(raw(va.subarray(0, split)).equals(raw(vc.subarray(0, split)))).toBe(true);
      for (let i = split; i < va.length; i++) expect(va[i]).not.toBe(vc[i]);
      // Every coordinate noised once, in both ranges.
      expect(noisedOnce(va, reference(x, y, { noiseMultiplier: 0 }))).toBe(true);
    } finally {
      tf.dispose([x, y]);
    }
  });

  it("any split: the calling thread's seed changes exactly its ⌊f·d⌋ coordinates, the worker's seed exactly the rest; each noised once", () => {
    const { x, y } = batch(N, 508);
    try {
      const v0 = reference(x, y, { noiseMultiplier: 0 });
      for (const f of [0, 0.2, 0.5, 0.93, 1]) {
        // a and b: the same worker seed, in step (each has run as many steps); c: another worker seed.
        for (const p of [a, b, c]) setNoiseSplitForTests(p, f);
        const va = step(a, x, y, new SeededRng(42));
        const vb = step(b, x, y, new SeededRng(43));
        const vc = step(c, x, y, new SeededRng(42));
        const d = va.length;
        const split = Math.floor(d * f);
        const byCaller = Array.from(va, (v, i) => v !== vb[i]);
        const byWorker = Array.from(va, (v, i) => v !== vc[i]);
        // A partition of the coordinates: [0, split) drawn by the calling thread only, [split, d) by the worker only.
        expect(byCaller).toEqual(Array.from({ length: d }, (_, i) => i < split));
        expect(byWorker).toEqual(Array.from({ length: d }, (_, i) => i >= split));
        expect(noisedOnce(va, v0)).toBe(true);
      }
    } finally {
      for (const p of [a, b, c]) setNoiseSplitForTests(p, undefined);
      tf.dispose([x, y]);
    }
  });

  it("balanced (opt-in), the split follows the threads' speed: with a worker 80 ms slower the calling thread takes over the noise; each step noised once", async () => {
    const slow = await startDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }, { 0: "slow" });
    const { x, y } = batch(N, 509);
    try {
      // Off by default: the split stays at the calling thread's share of the chunks.
      step(slow, x, y);
      expect(noiseSplit(slow)).toBeUndefined();
      setNoiseBalance(slow, true);
      const v0 = reference(x, y, { noiseMultiplier: 0 });
      const start = 3 / 5; // the calling thread's share of the chunks
      for (let k = 0; k < 16; k++) {
        expect(noisedOnce(step(slow, x, y), v0)).toBe(true);
        const f = noiseSplit(slow) as number;
        expect(f).toBeGreaterThanOrEqual(0);
        expect(f).toBeLessThanOrEqual(1);
      }
      // A quarter of the way per step towards 1: after 16 steps 1 − (2/5)·(3/4)^16 ≈ 0.996.
      expect(noiseSplit(slow)).toBeGreaterThan(0.95);
      expect(noiseSplit(slow)).toBeGreaterThan(start);
      // Seeded worker sources keep the proportional split (deterministic bytes).
      step(a, x, y, new SeededRng(1));
      expect(noiseSplit(a)).toBeUndefined();
    } finally {
      tf.dispose([x, y]);
      await slow.close();
    }
  }, 60_000);

  it("negative control: a worker range that starts 5 coordinates late leaves them unnoised", async () => {
    const gap = await startDpWorkerPool({ model: m, workers: 1, callerComputes: true, ...OPTIONS }, { 0: "split-gap" });
    const { x, y } = batch(N, 510);
    try {
      setNoiseSplitForTests(gap, 0.5);
      const v0 = reference(x, y, { noiseMultiplier: 0 });
      const v = step(gap, x, y);
      // (an unnoised coordinate is still rounded to the noise's grid, so it may differ from v0 by that rounding)
      expect(noiseStats(v, v0).changed).toBeLessThan(v.length);
      const at = Math.floor(v.length / 2);
      expect(noiseStats(v, v0, at, at + 5).variance).toBeLessThan(1e-3); // no noise there
      expect(noisedOnce(v, v0)).toBe(false);
      // The same pool with the fault's range moved onto the calling thread's: the check passes.
      setNoiseSplitForTests(gap, 1);
      expect(noisedOnce(step(gap, x, y), v0)).toBe(true);
    } finally {
      tf.dispose([x, y]);
      await gap.close();
    }
  }, 60_000);

  it("the caller + 2 workers, a batch of one chunk and an empty batch: every coordinate noised once", async () => {
    const three = await createDpWorkerPool({ model: m, workers: 2, callerComputes: true, ...OPTIONS });
    try {
      for (const [n, pool] of [
        [N, three],
        [17, three],
        [5, caller],
        [0, caller],
      ] as const) {
        const { x, y } = n === 0 ? { x: tf.zeros([0, 6, 6, 1]), y: tf.zeros([0]) } : batch(n, 600 + n);
        try {
          const parts = chunkedClippedSum({ model: m, loss: LOSS, x, y, l2NormClip: CLIP, chunkSize: CHUNK });
          const v0 = flat(Object.fromEntries(parts.names.map((k, i) => [k, parts.sums[i].map((v) => v / N)])), names());
          const v = step(pool, x, y);
          expect(noisedOnce(v, v0)).toBe(true);
          // The workers that computed chunks drew their ranges.
          for (const w of lastStepProfile(pool)?.workers ?? []) expect(w.noise).toBeGreaterThan(0);
        } finally {
          tf.dispose([x, y]);
        }
      }
    } finally {
      await three.close();
    }
  }, 60_000);

  it("negative controls: a worker that skips its range, or draws it twice, fails the count", () => {
    const { x, y } = batch(N, 507);
    try {
      const v0 = reference(x, y, { noiseMultiplier: 0 });
      expect(noisedOnce(step(caller, x, y), v0)).toBe(true);
      const skipped = step(skip, x, y);
      expect(noiseStats(skipped, v0).changed).toBeLessThan(skipped.length);
      expect(noisedOnce(skipped, v0)).toBe(false);
      const doubled = step(twice, x, y);
      expect(noiseStats(doubled, v0).changed).toBe(doubled.length);
      expect(noisedOnce(doubled, v0)).toBe(false);
    } finally {
      tf.dispose([x, y]);
    }
  });
});

describe("addRoundedGiven (the presampled add on the ziggurat kernel's combine pass)", () => {
  it("the WebAssembly pass and the JS loop give the same bytes, the divisor a power of two or not; control: one Z off by one differs", () => {
    expect(zigguratWasmActive()).toBe(true);
    const r = new SeededRng(21);
    const n = 20_000; // more than two of the kernel's windows
    const s0 = Float32Array.from({ length: n }, (_, i) =>
      i < 8 ? [0, -0, 0.5, -0.5, 1.5, -2.5, 2 ** -30, 3e30][i] : (r.nextUint32() / 2 ** 32 - 0.5) * 2 ** ((r.nextUint32() % 40) - 20),
    );
    const z = Float64Array.from({ length: n + 7 }, () => (r.nextUint32() % 2 ** 21) - 2 ** 20);
    const { granularity: g } = exactNoiseGrid(1.1, 1, n);
    for (const b of [256, 37, 1]) {
      const wasm = s0.slice();
      addRoundedGiven(wasm, z, 7, 1 / g, g, b);
      setZigguratWasmForTesting(null);
      const js = s0.slice();
      try {
        expect(zigguratWasmActive()).toBe(false);
        addRoundedGiven(js, z, 7, 1 / g, g, b);
      } finally {
        setZigguratWasmForTesting(undefined);
      }
      expect(raw(wasm).equals(raw(js))).toBe(true);
      // The formula, entry by entry.
      for (let j = 0; j < n; j += 997) expect(js[j]).toBe(Math.fround(((roundHalfUp(s0[j] / g) + z[7 + j]) * g) / b));
      const off = z.slice();
      off[7] += 1; // entry 0 (s = 0): its value is Z·g/b, so one grid step shows
      const other = s0.slice();
      addRoundedGiven(other, off, 7, 1 / g, g, b);
      expect(raw(other).equals(raw(wasm))).toBe(false);
    }
  });
});

describe("addGaussianNoiseInPlace with a presampled vector", () => {
  const opts = (rng: SeededRng) => ({ stddev: 2, sensitivity: 1, divisor: 3, name: "clippedSum", rng });

  it("a refused sum is left as it was and the vector zeroed", () => {
    const pre = drawExactNoise(2, 1, 5, new SeededRng(3));
    const v = Float32Array.of(1, 2, NaN, 4, 5);
    const copy = v.slice();
    expect(() => addGaussianNoiseInPlace([v], { ...opts(new SeededRng(4)), presampled: pre })).toThrow(DpError);
    expect(raw(v).equals(raw(copy))).toBe(true);
    expect(pre.z.every((z) => z === 0)).toBe(true);
  });

  it("the same stream as drawing in place; a vector for another dimension is discarded and the noise drawn from the rng", () => {
    const base = Float32Array.from({ length: 9 }, (_, i) => i * 0.25 - 1);
    const inPlace = base.slice();
    addGaussianNoiseInPlace([inPlace.subarray(0, 4), inPlace.subarray(4)], opts(new SeededRng(9)));
    // Drawn ahead from the same seed: the same bytes.
    const ahead = base.slice();
    addGaussianNoiseInPlace([ahead.subarray(0, 4), ahead.subarray(4)], {
      ...opts(new SeededRng(0)),
      presampled: drawExactNoise(2, 1, 9, new SeededRng(9)),
    });
    expect(raw(ahead).equals(raw(inPlace))).toBe(true);
    // For 10 entries (another grid sigma, another length): zeroed, not used; the rng draws instead.
    const wrong = drawExactNoise(2, 1, 10, new SeededRng(77));
    const fallback = base.slice();
    addGaussianNoiseInPlace([fallback], { ...opts(new SeededRng(9)), presampled: wrong });
    expect(wrong.z.every((z) => z === 0)).toBe(true);
    expect(raw(fallback).equals(raw(inPlace))).toBe(true);
    expect(exactNoiseGrid(2, 1, 10).gridSigma).not.toBe(exactNoiseGrid(2, 1, 9).gridSigma);
    // Control: had it been used (its first 9 values), the bytes would differ.
    const used = base.slice();
    const first9 = drawExactNoise(2, 1, 10, new SeededRng(77)).z.subarray(0, 9);
    addGaussianNoiseInPlace([used], {
      ...opts(new SeededRng(0)),
      presampled: { gridSigma: exactNoiseGrid(2, 1, 9).gridSigma, z: first9.slice() },
    });
    expect(raw(used).equals(raw(inPlace))).toBe(false);
  });
});
