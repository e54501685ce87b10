/**
 * The LSTM recurrence on the host backends (cpu, wasm) as one differentiable op.
 *
 * tfjs-layers runs a recurrence step by step as ~25 small kernels per time step (slices, the
 * recurrent product, three gate activations, the cell update, the mask's carry-over), and its
 * gradient as as many again: for an LSTM(32) over 32 steps at batch 256 about 2,200 kernels
 * forward and 2,300 backward, each costing more in dispatch than in arithmetic. This op keeps
 * the recurrent product `h_{t-1} U` a backend matrix product (one kernel per step) and does
 * each step's elementwise work (gates, cell, mask) in one loop over typed arrays; its gradient
 * (back-propagation through time, written out) likewise costs one product `dz_t Uᵀ` per step.
 * The same float32 operations as tfjs's (`hardSigmoid` is `clip(0.5 + 0.2·x, 0, 1)` in float32,
 * its gradient 0.2 where the unclipped value lies in [0, 1]), so values agree with tfjs-layers'
 * LSTM to float32 rounding; the rule tests compare with batch-of-one autodiff through it.
 *
 * Only the gradient with respect to the input projections `zx` is formed (the engine never asks
 * tfjs for weight gradients): the recurrent kernel enters as a constant. The op also records
 * `h_{t-1}` for every step, which the recurrent rule needs for the recurrent kernel's per-example
 * gradient (instead of running the recurrence a second time).
 *
 * Used for LSTM cells with `activation: "tanh"` and `recurrentActivation` `"hardSigmoid"` (the
 * tfjs default) or `"sigmoid"` (the Keras default); other activations, and other backends, run
 * the generic tensor recurrence in recurrent.ts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { hostView, onHostBackend } from "../host-view.js";

interface Named {
  getClassName(): string;
}

interface LstmCellLike {
  units: number;
  recurrentKernel: tf.LayerVariable;
  activation: Named;
  recurrentActivation: Named;
}

interface LstmLike {
  cell: LstmCellLike;
  returnSequences: boolean;
  goBackwards: boolean;
}

/** What a host recurrence records for the rule: `h_{t-1}` per example and original time step. */
interface HostRecord {
  /** The layer input the projections came from (the engine passes the same tensor to the rule). */
  input: tf.Tensor;
  n: number;
  steps: number;
  /** `[N, T, U]`, row-major: `h_{t-1}` of example i at original time t. */
  hPrev: Float32Array;
  /** GRU only: `r_t ⊙ h_{t-1}` (the candidate gate's recurrent input), `[N, T, U]` like `hPrev`. */
  resetH?: Float32Array;
}

/** The states a host recurrence recorded (see {@link takeRecordedStates}). @internal */
export interface RecordedStates {
  hPrev: Float32Array;
  resetH?: Float32Array;
}

/** The input each layer's projections were last computed from (set by the rule's `linear`). */
const pendingInput = new WeakMap<tf.layers.Layer, tf.Tensor>();
/** The latest host recurrence of each layer, consumed once by the rule. */
const records = new WeakMap<tf.layers.Layer, HostRecord>();

/** Notes that `layer`'s input projections are being computed from `input` (the engine's forward pass). @internal */
export function noteRecurrentInput(layer: tf.layers.Layer, input: tf.Tensor): void {
  pendingInput.set(layer, input);
}

/** Drops any record of `layer` (a forward pass that did not record). @internal */
export function forgetRecurrence(layer: tf.layers.Layer): void {
  records.delete(layer);
}

/**
 * `h_{t-1}` (`[N, T, U]`, and for a GRU `r_t ⊙ h_{t-1}`) recorded by the latest forward pass of
 * `layer` if that pass ran on `input` with `n` examples and `steps` steps; consumed (a second call
 * returns undefined).
 * @internal
 */
export function takeRecordedStates(layer: tf.layers.Layer, input: tf.Tensor, n: number, steps: number): RecordedStates | undefined {
  const r = records.get(layer);
  records.delete(layer);
  if (!r || r.input !== input || r.n !== n || r.steps !== steps || input.isDisposed) return undefined;
  return r.resetH ? { hPrev: r.hPrev, resetH: r.resetH } : { hPrev: r.hPrev };
}

/**
 * Stores what a host recurrence of `layer` recorded, against the input its projections were
 * computed from (noted by the rule's `linear`; with none noted, any older record is dropped).
 * @internal
 */
export function recordRecurrence(layer: tf.layers.Layer, n: number, steps: number, hPrev: Float32Array, resetH?: Float32Array): void {
  const input = pendingInput.get(layer);
  pendingInput.delete(layer);
  if (input) records.set(layer, resetH ? { input, n, steps, hPrev, resetH } : { input, n, steps, hPrev });
  else records.delete(layer);
}

type GateKind = "hardSigmoid" | "sigmoid";

/**
 * Work arrays of each layer's host recurrence, kept between steps and grown when a batch is
 * larger (every entry a step uses is written before that step reads it).
 */
const scratchArrays = new WeakMap<tf.layers.Layer, Map<string, Float32Array>>();

/** A work array of `layer`'s host recurrence (contents left from an earlier step: write before reading). @internal */
export function scratch(layer: tf.layers.Layer, name: string, size: number): Float32Array {
  let m = scratchArrays.get(layer);
  if (!m) {
    m = new Map();
    scratchArrays.set(layer, m);
  }
  let b = m.get(name);
  if (!b || b.length < size) {
    // a little headroom: Poisson-sampled batches vary in size from step to step
    b = new Float32Array(Math.ceil(size * 1.25));
    m.set(name, b);
  }
  return b.subarray(0, size);
}

/** Whether the host op covers this LSTM layer on the active backend. @internal */
export function lstmHostEligible(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== "LSTM" || !onHostBackend()) return false;
  const cell = (layer as unknown as LstmLike).cell;
  const act = cell.activation?.getClassName?.();
  const ract = cell.recurrentActivation?.getClassName?.();
  return act === "tanh" && (ract === "hardSigmoid" || ract === "sigmoid");
}

const F = Math.fround;
const POINT2 = F(0.2);

/** tfjs's `hardSigmoid` in float32: `clip(0.5 + 0.2·x, 0, 1)`. @internal */
export function hardSigmoid32(x: number): number {
  const v = F(0.5 + F(POINT2 * x));
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/**
 * The LSTM recurrence over the input projections `zx` (`[N, T, 4U]`, gates i, f, c, o as in
 * tfjs-layers), initial state zero, masked steps carrying output and state over, `goBackwards`
 * reversing the processing order; returns the last output or (returnSequences) every output in
 * processing order, as tfjs-layers does. Records `h_{t-1}` for the rule. @internal
 */
export function lstmHostRecurrence(layer: tf.layers.Layer, zx: tf.Tensor, mask: tf.Tensor | null | undefined): tf.Tensor {
  const r = layer as unknown as LstmLike;
  const units = r.cell.units;
  const gate: GateKind = r.cell.recurrentActivation.getClassName() === "sigmoid" ? "sigmoid" : "hardSigmoid";
  const [n, steps, width] = zx.shape as [number, number, number];
  const u = r.cell.recurrentKernel.read() as tf.Tensor2D;
  const keepMask = mask ? (tf.tidy(() => tf.cast(tf.cast(mask, "bool"), "float32").dataSync()) as Float32Array) : null;
  const input = pendingInput.get(layer);
  pendingInput.delete(layer);
  const sigmoidGates = gate === "sigmoid";
  const op = tf.customGrad(((z: tf.Tensor) => {
    const zv = z.dataSync() as Float32Array;
    const nu = n * units;
    const ng = n * width;
    // Per processing step k: gate pre-activations (with the recurrent part) and gate values
    // (i, f, c̃, o), cell state after the step and its tanh, the output; h_{t-1} by original
    // time, [N, T, U].
    // (reused from the layer's previous step when the shapes agree: they never become tensors,
    // and the engine runs one forward and one backward pass per layer and step)
    const pre = scratch(layer, "pre", steps * ng);
    const gates = scratch(layer, "gates", steps * ng);
    const cAll = scratch(layer, "c", steps * nu);
    const tcAll = scratch(layer, "tanhC", steps * nu);
    const hAll = scratch(layer, "h", steps * nu);
    const hPrev = new Float32Array(n * steps * units);
    const zero = new Float32Array(nu);
    for (let k = 0; k < steps; k++) {
      const t = r.goBackwards ? steps - 1 - k : k;
      const h = k > 0 ? hAll.subarray((k - 1) * nu, k * nu) : zero;
      const c = k > 0 ? cAll.subarray((k - 1) * nu, k * nu) : zero;
      for (let i = 0; i < n; i++) hPrev.set(h.subarray(i * units, (i + 1) * units), (i * steps + t) * units);
      const a = pre.subarray(k * ng, (k + 1) * ng);
      if (k > 0) {
        const ht = tf.tensor2d(h, [n, units]);
        const prod = tf.matMul(ht, u);
        const rec = hostView(prod) as Float32Array; // read at once, before any other allocation
        for (let i = 0; i < n; i++) {
          const zo = (i * steps + t) * width;
          const ao = i * width;
          for (let j = 0; j < width; j++) a[ao + j] = zv[zo + j] + rec[ao + j];
        }
        tf.dispose([ht, prod]);
      } else {
        for (let i = 0; i < n; i++) a.set(zv.subarray((i * steps + t) * width, (i * steps + t + 1) * width), i * width);
      }
      const gv = gates.subarray(k * ng, (k + 1) * ng);
      const hNew = hAll.subarray(k * nu, (k + 1) * nu);
      const cNew = cAll.subarray(k * nu, (k + 1) * nu);
      const tc = tcAll.subarray(k * nu, (k + 1) * nu);
      for (let i = 0; i < n; i++) {
        const ao = i * width;
        const keep = keepMask === null || keepMask[i * steps + t] !== 0;
        if (!keep) {
          for (let q = i * units; q < (i + 1) * units; q++) {
            cNew[q] = c[q];
            hNew[q] = h[q];
          }
          continue;
        }
        for (let q = 0; q < units; q++) {
          const p = i * units + q;
          let ig: number, fg: number, og: number;
          if (sigmoidGates) {
            ig = F(1 / (1 + Math.exp(-a[ao + q])));
            fg = F(1 / (1 + Math.exp(-a[ao + units + q])));
            og = F(1 / (1 + Math.exp(-a[ao + 3 * units + q])));
          } else {
            ig = F(0.5 + F(POINT2 * a[ao + q]));
            ig = ig < 0 ? 0 : ig > 1 ? 1 : ig;
            fg = F(0.5 + F(POINT2 * a[ao + units + q]));
            fg = fg < 0 ? 0 : fg > 1 ? 1 : fg;
            og = F(0.5 + F(POINT2 * a[ao + 3 * units + q]));
            og = og < 0 ? 0 : og > 1 ? 1 : og;
          }
          const gg = F(Math.tanh(a[ao + 2 * units + q]));
          gv[ao + q] = ig;
          gv[ao + units + q] = fg;
          gv[ao + 2 * units + q] = gg;
          gv[ao + 3 * units + q] = og;
          const cv = F(F(fg * c[p]) + F(ig * gg));
          const tcv = F(Math.tanh(cv));
          cNew[p] = cv;
          tc[p] = tcv;
          hNew[p] = og * tcv;
        }
      }
    }
    if (input) records.set(layer, { input, n, steps, hPrev });
    else records.delete(layer);
    let value: tf.Tensor;
    if (r.returnSequences) {
      // [N, T, U] in processing order, from the per-step [N, U] outputs
      const out = new Float32Array(n * steps * units);
      for (let k = 0; k < steps; k++) {
        for (let i = 0; i < n; i++) out.set(hAll.subarray(k * nu + i * units, k * nu + (i + 1) * units), (i * steps + k) * units);
      }
      value = tf.tensor3d(out, [n, steps, units]);
    } else {
      value = tf.tensor2d(hAll.slice((steps - 1) * nu, steps * nu), [n, units]);
    }
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const dyv = dy.dataSync() as Float32Array;
      const dz = new Float32Array(n * steps * width);
      const dh = new Float64Array(nu);
      const dc = new Float64Array(nu);
      const dzStep = new Float32Array(ng);
      const uT = tf.transpose(u);
      try {
        for (let k = steps - 1; k >= 0; k--) {
          const t = r.goBackwards ? steps - 1 - k : k;
          if (r.returnSequences) {
            for (let i = 0; i < n; i++) {
              const yo = (i * steps + k) * units;
              for (let q = 0; q < units; q++) dh[i * units + q] += dyv[yo + q];
            }
          } else if (k === steps - 1) {
            for (let p = 0; p < nu; p++) dh[p] += dyv[p];
          }
          const a = pre.subarray(k * ng, (k + 1) * ng);
          const gv = gates.subarray(k * ng, (k + 1) * ng);
          const tc = tcAll.subarray(k * nu, (k + 1) * nu);
          const cPrev = k > 0 ? cAll.subarray((k - 1) * nu, k * nu) : zero;
          dzStep.fill(0);
          let any = false;
          for (let i = 0; i < n; i++) {
            if (keepMask !== null && keepMask[i * steps + t] === 0) continue; // carried over: dh, dc pass on, dz = 0
            any = true;
            const ao = i * width;
            for (let q = 0; q < units; q++) {
              const p = i * units + q;
              const ig = gv[ao + q];
              const fg = gv[ao + units + q];
              const gg = gv[ao + 2 * units + q];
              const og = gv[ao + 3 * units + q];
              const dct = dc[p] + dh[p] * og * (1 - tc[p] * tc[p]);
              const dO = dh[p] * tc[p];
              let si: number, sf: number, so: number;
              if (sigmoidGates) {
                si = ig * (1 - ig);
                sf = fg * (1 - fg);
                so = og * (1 - og);
              } else {
                si = hardSlope(a[ao + q]);
                sf = hardSlope(a[ao + units + q]);
                so = hardSlope(a[ao + 3 * units + q]);
              }
              dzStep[ao + q] = dct * gg * si;
              dzStep[ao + units + q] = dct * cPrev[p] * sf;
              dzStep[ao + 2 * units + q] = dct * ig * (1 - gg * gg);
              dzStep[ao + 3 * units + q] = dO * so;
              dc[p] = dct * fg;
              dh[p] = 0;
            }
            dz.set(dzStep.subarray(ao, ao + width), (i * steps + t) * width);
          }
          if (k > 0 && any) {
            const dzt = tf.tensor2d(dzStep, [n, width]);
            const back = tf.matMul(dzt, uT);
            const bv = hostView(back) as Float32Array; // read at once
            for (let p = 0; p < nu; p++) dh[p] += bv[p];
            tf.dispose([dzt, back]);
          }
        }
      } finally {
        uT.dispose();
      }
      return tf.tensor3d(dz, [n, steps, width]);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(zx);
}

/** d hardSigmoid / d x (tfjs: 0.2 where the unclipped `0.5 + 0.2·x`, in float32, lies in [0, 1]). @internal */
export function hardSlope(x: number): number {
  const unclipped = F(0.5 + F(POINT2 * x));
  return unclipped >= 0 && unclipped <= 1 ? POINT2 : 0;
}
