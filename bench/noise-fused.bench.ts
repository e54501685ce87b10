/**
 * The exact DP-SGD noise on one thread, before and after issue 19's one-pass fused add. Usage:
 * `npm run bench -- noise-fused` (env: FUSED_REPS=201).
 *
 * Side by side in one process, alternating per repetition (medians of wall time):
 * `addGaussianNoiseInPlace` (the DP-SGD noise call: finiteness check, exact grid noise from the
 * discrete ziggurat, rounding to float32) and the ziggurat's `addRounded` stream alone, each with
 * the kernel's two passes (before: `fill` into an f64 window, then `combine`; selected in process
 * with `setZigguratFusedAddForTesting(false)`) and with the one-pass fused `add` (after), for the
 * MNIST MLP's 101,770 parameters (4 parts) and the Embedding text model's 320,034 (3 parts),
 * noise multiplier 1.1, clip 1, expected batch 256. The secure random words alone
 * (`crypto.getRandomValues`, 2.03 words per entry) are timed beside them: no sampler can go below
 * them. Before timing, both paths are run on a seeded source and must give identical bits.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import { addGaussianNoiseInPlace, exactNoiseGrid } from "../src/mechanisms/gaussian-noise.js";
import { DiscreteZiggurat, setZigguratFusedAddForTesting, zigguratWasmActive } from "../src/random/discrete-ziggurat.js";
import { SeededRng, secureRng } from "../src/random/rng.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.FUSED_REPS ?? 201);

/** Runs f with the fused add on (true) or the two passes (false). */
function withFused<T>(fused: boolean, f: () => T): T {
  const was = setZigguratFusedAddForTesting(fused);
  try {
    return f();
  } finally {
    setZigguratFusedAddForTesting(was);
  }
}

function main(): void {
  if (!zigguratWasmActive()) throw new Error("the ziggurat's WebAssembly kernel is not active here");
  const rows: Row[] = [];
  const notes: string[] = [];
  const summary: Record<string, number> = {};
  const models: [string, number[]][] = [
    ["MNIST MLP (784-128-10)", [100_352, 128, 1_280, 10]],
    ["Embedding(20,000, 16) text model", [320_000, 32, 2]],
  ];
  const opts = { stddev: 1.1, sensitivity: 1, divisor: 256, name: "clippedSum" };
  const words = new Uint32Array(16_384);
  for (const [label, shapes] of models) {
    const total = shapes.reduce((a, b) => a + b, 0);
    const base = shapes.map((n, p) => Float32Array.from({ length: n }, (_, i) => Math.sin(i + p) * 0.02));
    const work = base.map((a) => a.slice());
    const reset = (): void => work.forEach((w, i) => w.set(base[i]));
    // Same bits from both paths on a seeded source (the tests check this thoroughly; this is a guard).
    const bits = (fused: boolean): Float32Array[] =>
      withFused(fused, () => {
        reset();
        addGaussianNoiseInPlace(work, { ...opts, rng: new SeededRng(19) });
        return work.map((w) => w.slice());
      });
    const a = bits(false);
    const b = bits(true);
    const same = a.every((x, p) => x.every((v, i) => Object.is(v, b[p][i])));
    if (!same) throw new Error(`${label}: the fused add gave other values than the two passes`);
    const { gridSigma } = exactNoiseGrid(opts.stddev, opts.sensitivity, total);
    const zig = new DiscreteZiggurat(gridSigma);
    const flat = new Float32Array(total);
    const rng = secureRng();
    const cases: Record<string, () => void> = {
      "addGaussianNoiseInPlace, two passes (before)": () => withFused(false, () => addGaussianNoiseInPlace(work, opts)),
      "addGaussianNoiseInPlace, fused (after)": () => withFused(true, () => addGaussianNoiseInPlace(work, opts)),
      "ziggurat addRounded alone, two passes (before)": () =>
        withFused(false, () => zig.stream(rng, total).addRounded(flat, 0, total, 2 ** 30, 2 ** -30, 256)),
      "ziggurat addRounded alone, fused (after)": () =>
        withFused(true, () => zig.stream(rng, total).addRounded(flat, 0, total, 2 ** 30, 2 ** -30, 256)),
      "secure random words alone (2.03 per entry)": () => {
        for (let left = Math.ceil(2.03 * total); left > 0; left -= words.length)
          crypto.getRandomValues(words.subarray(0, Math.min(left, words.length)));
      },
    };
    for (const f of Object.values(cases)) {
      for (let w = 0; w < 20; w++) {
        reset();
        flat.fill(0);
        f();
      }
    }
    const t: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let rep = 0; rep < REPS; rep++) {
      for (const [k, f] of Object.entries(cases)) {
        reset();
        flat.fill(0);
        const t0 = performance.now();
        f();
        t[k].push(performance.now() - t0);
      }
    }
    const pairs: Record<string, string> = {
      "addGaussianNoiseInPlace, fused (after)": "addGaussianNoiseInPlace, two passes (before)",
      "ziggurat addRounded alone, fused (after)": "ziggurat addRounded alone, two passes (before)",
    };
    for (const k of Object.keys(cases)) {
      const row: Row = { case: `${label}, ${total} entries: ${k}`, metric: "time", value: median(t[k]), unit: "ms" };
      const base0 = pairs[k];
      if (base0 !== undefined) {
        row.baseline = median(t[base0]);
        row.ratio = row.value / row.baseline;
      }
      rows.push(row);
    }
    const before = median(t["addGaussianNoiseInPlace, two passes (before)"]);
    const after = median(t["addGaussianNoiseInPlace, fused (after)"]);
    const w = median(t["secure random words alone (2.03 per entry)"]);
    summary[`inPlaceRatio_${total}`] = Number((after / before).toPrecision(3));
    notes.push(
      `${label} (${total} entries, ${REPS} alternating reps, medians): addGaussianNoiseInPlace ${before.toFixed(3)} -> ${after.toFixed(3)} ms (${((1 - after / before) * 100).toFixed(0)}% less time; ${(before / after).toFixed(2)}x); beyond the random words (${w.toFixed(3)} ms): ${(((before - w) * 1e6) / total).toFixed(2)} -> ${(((after - w) * 1e6) / total).toFixed(2)} ns per entry; identical bits on a seeded source: ${same}`,
    );
  }
  const wCase = Math.max(...rows.map((r) => r.case.length));
  console.log(`${"case".padEnd(wCase)}  ${"value".padStart(8)}  unit  ${"after/before".padStart(12)}`);
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(wCase)}  ${r.value.toFixed(3).padStart(8)}  ${r.unit.padEnd(4)}  ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(3)}x`).padStart(12)}`,
    );
  }
  for (const n of notes) console.log(n);
  console.log(
    JSON.stringify({
      bench: "noise-fused",
      reps: REPS,
      ...summary,
      results: rows.map((r) => ({
        ...r,
        value: Number(r.value.toPrecision(4)),
        ...(r.ratio === undefined ? {} : { ratio: Number(r.ratio.toPrecision(3)), baseline: Number(r.baseline!.toPrecision(4)) }),
      })),
    }),
  );
}

main();
