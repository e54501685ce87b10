/**
 * The GRU and SimpleRNN recurrences on the host backends (cpu, wasm) as one differentiable op
 * each, as lstm-host.ts does for the LSTM: the recurrent products stay backend matrix products
 * (GRU: `h_{t-1} U_zr` and `(r_t ⊙ h_{t-1}) U_h` per step; SimpleRNN: `h_{t-1} U`), each step's
 * elementwise work (gates, candidate, mask carry-over) is one loop over typed arrays, and the
 * gradient (back-propagation through time, written out) costs as many products per step
 * (`dz_t Uᵀ`). The same float32 operations as tfjs-layers 4.x:
 *
 * - GRU (tfjs-layers' `GRUCell`, `resetAfter` unsupported there, so the reset gate is applied
 *   before the recurrent product; kernel columns in the order z, r, h):
 *   `z = σ(x_z + h U_z)`, `r = σ(x_r + h U_r)`, `ĥ = tanh(x_h + (r ⊙ h) U_h)`,
 *   `h' = z ⊙ h + (1 − z) ⊙ ĥ`, with σ `hardSigmoid` (tfjs' default) or `sigmoid` (Keras').
 * - SimpleRNN: `h' = act(x + h U)` with act `tanh` (the default), `relu` or `linear`.
 *
 * Only the gradient with respect to the input projections `zx` is formed (the recurrent kernel is
 * a constant to tfjs; the engine never asks it for weight gradients). Each op records `h_{t-1}`
 * for every step, and the GRU also `r_t ⊙ h_{t-1}`, which the recurrent rule needs for the
 * recurrent kernel's per-example gradient. Other activations, and other backends, run the
 * generic tensor recurrence in recurrent.ts.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { hostView, onHostBackend } from "../host-view.js";
import { hardSigmoid32, hardSlope, recordRecurrence, scratch } from "./lstm-host.js";

interface Named {
  getClassName(): string;
}

interface CellLike {
  units: number;
  recurrentKernel: tf.LayerVariable;
  activation: Named;
  recurrentActivation?: Named;
}

interface RnnLike {
  cell: CellLike;
  returnSequences: boolean;
  goBackwards: boolean;
}

const F = Math.fround;

/** Whether the GRU host op covers this layer on the active backend (tanh; hard or plain sigmoid gates). @internal */
export function gruHostEligible(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== "GRU" || !onHostBackend()) return false;
  const cell = (layer as unknown as RnnLike).cell;
  const act = cell.activation?.getClassName?.();
  const ract = cell.recurrentActivation?.getClassName?.();
  return act === "tanh" && (ract === "hardSigmoid" || ract === "sigmoid");
}

type SimpleActivation = "tanh" | "relu" | "linear";

/** Whether the SimpleRNN host op covers this layer on the active backend (tanh, relu or linear). @internal */
export function simpleRnnHostEligible(layer: tf.layers.Layer): boolean {
  if (layer.getClassName() !== "SimpleRNN" || !onHostBackend()) return false;
  const act = (layer as unknown as RnnLike).cell.activation?.getClassName?.();
  return act === "tanh" || act === "relu" || act === "linear";
}

/** Reads the keep-mask (`[N, T]`, 1 = step processed, 0 = carried over) to the host. */
function keepMaskOf(mask: tf.Tensor | null | undefined): Float32Array | null {
  return mask ? (tf.tidy(() => tf.cast(tf.cast(mask, "bool"), "float32").dataSync()) as Float32Array) : null;
}

/** `hAll` (per processing step, `[N, U]` each) as tfjs returns it: the last step, or every step in processing order. */
function outputOf(hAll: Float32Array, n: number, steps: number, units: number, returnSequences: boolean): tf.Tensor {
  const nu = n * units;
  if (!returnSequences) return tf.tensor2d(hAll.slice((steps - 1) * nu, steps * nu), [n, units]);
  const out = new Float32Array(n * steps * units);
  for (let k = 0; k < steps; k++) {
    for (let i = 0; i < n; i++) out.set(hAll.subarray(k * nu + i * units, k * nu + (i + 1) * units), (i * steps + k) * units);
  }
  return tf.tensor3d(out, [n, steps, units]);
}

/** Adds the output gradient of processing step k to `dh` (`[N, U]`, float64). */
function addOutputGradient(dh: Float64Array, dyv: Float32Array, k: number, n: number, steps: number, units: number, seq: boolean): void {
  if (seq) {
    for (let i = 0; i < n; i++) {
      const yo = (i * steps + k) * units;
      for (let q = 0; q < units; q++) dh[i * units + q] += dyv[yo + q];
    }
  } else if (k === steps - 1) {
    for (let p = 0; p < n * units; p++) dh[p] += dyv[p];
  }
}

/** `a (n×m, float32) · b` as a backend product, read back into `into` (`+=` when `add`). */
function productInto(a: Float32Array, n: number, m: number, b: tf.Tensor2D, into: Float32Array | Float64Array, add: boolean): void {
  const at = tf.tensor2d(a, [n, m]);
  const prod = tf.matMul(at, b);
  const v = hostView(prod) as Float32Array; // read at once, before any other allocation
  if (add) for (let p = 0; p < v.length; p++) into[p] += v[p];
  else into.set(v);
  tf.dispose([at, prod]);
}

/**
 * `dst = sigmoid(src)`: on wasm by the backend's kernel, one dispatch for a whole step (4× faster
 * than `1 / (1 + Math.exp(-x))` in a host loop for 8,192 entries, and the kernel tfjs-layers' own
 * layer runs); on cpu the host loop (the cpu backend's kernel is that loop plus a dispatch).
 * (tanh stays a host loop on both: tfjs-backend-wasm's tanh kernel measured no faster than
 * `Math.tanh` for a step's 8,192 entries, the cpu kernel slower.)
 */
function sigmoidInto(src: Float32Array, dst: Float32Array): void {
  if (tf.getBackend() === "wasm") {
    const x = tf.tensor1d(src);
    const y = tf.sigmoid(x);
    dst.set(hostView(y) as Float32Array); // read at once
    tf.dispose([x, y]);
    return;
  }
  for (let j = 0; j < src.length; j++) dst[j] = F(1 / (1 + Math.exp(-src[j])));
}

/**
 * The GRU recurrence over the input projections `zx` (`[N, T, 3U]`, gates z, r, h as in
 * tfjs-layers), initial state zero, masked steps carrying the state over, `goBackwards`
 * reversing the processing order; returns the last output or (returnSequences) every output in
 * processing order. Records `h_{t-1}` and `r_t ⊙ h_{t-1}` for the rule. @internal
 */
export function gruHostRecurrence(layer: tf.layers.Layer, zx: tf.Tensor, mask: tf.Tensor | null | undefined): tf.Tensor {
  const r = layer as unknown as RnnLike;
  const units = r.cell.units;
  const sigmoidGates = (r.cell.recurrentActivation as Named).getClassName() === "sigmoid";
  const [n, steps, width] = zx.shape as [number, number, number];
  const u = r.cell.recurrentKernel.read() as tf.Tensor2D;
  const keepMask = keepMaskOf(mask);
  const op = tf.customGrad(((z: tf.Tensor) => {
    const zv = z.dataSync() as Float32Array;
    const nu = n * units;
    const n2 = 2 * nu;
    const u2 = 2 * units;
    // Per processing step k: the gates z, r ([N, 2U]), the candidate ĥ and the state after the
    // step ([N, U]); h_{t-1} and r_t ⊙ h_{t-1} by original time, [N, T, U].
    const pre = scratch(layer, "zrPre", steps * n2);
    const zr = scratch(layer, "zr", steps * n2);
    const cand = scratch(layer, "cand", steps * nu);
    const hAll = scratch(layer, "h", steps * nu);
    const rec = scratch(layer, "rec", n2);
    const rhStep = scratch(layer, "rhStep", nu);
    const recH = scratch(layer, "recH", nu);
    const hPrev = new Float32Array(n * steps * units);
    const resetH = new Float32Array(n * steps * units);
    const zero = new Float32Array(nu);
    const [rk1, rk2] = tf.split(u, [u2, units], 1) as [tf.Tensor2D, tf.Tensor2D];
    try {
      for (let k = 0; k < steps; k++) {
        const t = r.goBackwards ? steps - 1 - k : k;
        const h = k > 0 ? hAll.subarray((k - 1) * nu, k * nu) : zero;
        for (let i = 0; i < n; i++) hPrev.set(h.subarray(i * units, (i + 1) * units), (i * steps + t) * units);
        if (k > 0) productInto(h, n, units, rk1, rec, false);
        else rec.fill(0);
        const g = zr.subarray(k * n2, (k + 1) * n2);
        const a = pre.subarray(k * n2, (k + 1) * n2);
        for (let i = 0; i < n; i++) {
          const zo = (i * steps + t) * width;
          for (let j = 0; j < u2; j++) a[i * u2 + j] = F(zv[zo + j] + rec[i * u2 + j]);
        }
        if (sigmoidGates) sigmoidInto(a, g);
        else for (let j = 0; j < n2; j++) g[j] = hardSigmoid32(a[j]);
        for (let i = 0; i < n; i++) {
          for (let q = 0; q < units; q++) rhStep[i * units + q] = F(g[i * u2 + units + q] * h[i * units + q]);
        }
        for (let i = 0; i < n; i++) resetH.set(rhStep.subarray(i * units, (i + 1) * units), (i * steps + t) * units);
        if (k > 0) productInto(rhStep, n, units, rk2, recH, false);
        else recH.fill(0);
        const hh = cand.subarray(k * nu, (k + 1) * nu);
        const hNew = hAll.subarray(k * nu, (k + 1) * nu);
        for (let i = 0; i < n; i++) {
          if (keepMask !== null && keepMask[i * steps + t] === 0) {
            for (let p = i * units; p < (i + 1) * units; p++) {
              hh[p] = 0;
              hNew[p] = h[p];
            }
            continue;
          }
          const zo = (i * steps + t) * width + u2;
          for (let q = 0; q < units; q++) {
            const p = i * units + q;
            const c = F(Math.tanh(F(zv[zo + q] + recH[p])));
            const zg = g[i * u2 + q];
            hh[p] = c;
            hNew[p] = F(F(zg * h[p]) + F(F(1 - zg) * c));
          }
        }
      }
    } finally {
      tf.dispose([rk1, rk2]);
    }
    recordRecurrence(layer, n, steps, hPrev, resetH);
    const value = outputOf(hAll, n, steps, units, r.returnSequences);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const dyv = dy.dataSync() as Float32Array;
      const dz = new Float32Array(n * steps * width);
      const dh = new Float64Array(nu);
      const dzr = new Float32Array(n2);
      const dah = new Float32Array(nu);
      const drh = new Float32Array(nu);
      const [rk1T, rk2T] = tf.tidy(() => {
        const [a, b] = tf.split(u, [u2, units], 1);
        return [tf.transpose(a), tf.transpose(b)] as [tf.Tensor2D, tf.Tensor2D];
      });
      try {
        for (let k = steps - 1; k >= 0; k--) {
          const t = r.goBackwards ? steps - 1 - k : k;
          addOutputGradient(dh, dyv, k, n, steps, units, r.returnSequences);
          const h = k > 0 ? hAll.subarray((k - 1) * nu, k * nu) : zero;
          const g = zr.subarray(k * n2, (k + 1) * n2);
          const hh = cand.subarray(k * nu, (k + 1) * nu);
          dah.fill(0);
          let any = false;
          // the candidate's pre-activation gradient: dh ⊙ (1 − z) ⊙ (1 − ĥ²)
          for (let i = 0; i < n; i++) {
            if (keepMask !== null && keepMask[i * steps + t] === 0) continue; // carried over: dh passes on, dz = 0
            any = true;
            for (let q = 0; q < units; q++) {
              const p = i * units + q;
              dah[p] = dh[p] * (1 - g[i * u2 + q]) * (1 - hh[p] * hh[p]);
            }
          }
          if (!any) continue;
          // d(r ⊙ h_{t-1}) = dâ_h U_hᵀ (zero at k = 0, where h_{t-1} = 0 and only dr·h would use it)
          if (k > 0) productInto(dah, n, units, rk2T, drh, false);
          dzr.fill(0);
          const a = pre.subarray(k * n2, (k + 1) * n2);
          for (let i = 0; i < n; i++) {
            if (keepMask !== null && keepMask[i * steps + t] === 0) continue;
            const zo = (i * steps + t) * width;
            for (let q = 0; q < units; q++) {
              const p = i * units + q;
              const o = i * u2 + q;
              const zg = g[o];
              const rg = g[o + units];
              const sz = sigmoidGates ? zg * (1 - zg) : hardSlope(a[o]);
              const sr = sigmoidGates ? rg * (1 - rg) : hardSlope(a[o + units]);
              dzr[o] = dh[p] * (h[p] - hh[p]) * sz;
              dzr[o + units] = k > 0 ? drh[p] * h[p] * sr : 0;
              dh[p] = k > 0 ? dh[p] * zg + drh[p] * rg : 0;
            }
            dz.set(dzr.subarray(i * u2, (i + 1) * u2), zo);
            dz.set(dah.subarray(i * units, (i + 1) * units), zo + u2);
          }
          if (k > 0) productInto(dzr, n, u2, rk1T, dh, true);
        }
      } finally {
        tf.dispose([rk1T, rk2T]);
      }
      return tf.tensor3d(dz, [n, steps, width]);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(zx);
}

/**
 * The SimpleRNN recurrence over the input projections `zx` (`[N, T, U]`): `h' = act(zx_t + h U)`,
 * initial state zero, masked steps carrying the state over, `goBackwards` reversing the
 * processing order; returns the last output or (returnSequences) every output in processing
 * order. Records `h_{t-1}` for the rule. @internal
 */
export function simpleRnnHostRecurrence(layer: tf.layers.Layer, zx: tf.Tensor, mask: tf.Tensor | null | undefined): tf.Tensor {
  const r = layer as unknown as RnnLike;
  const units = r.cell.units;
  const act = r.cell.activation.getClassName() as SimpleActivation;
  const [n, steps] = zx.shape as [number, number, number];
  const u = r.cell.recurrentKernel.read() as tf.Tensor2D;
  const keepMask = keepMaskOf(mask);
  const op = tf.customGrad(((z: tf.Tensor) => {
    const zv = z.dataSync() as Float32Array;
    const nu = n * units;
    // Per processing step k: the pre-activation and the state after the step ([N, U]).
    const pre = scratch(layer, "pre", steps * nu);
    const hAll = scratch(layer, "h", steps * nu);
    const rec = scratch(layer, "rec", nu);
    const hPrev = new Float32Array(n * steps * units);
    const zero = new Float32Array(nu);
    for (let k = 0; k < steps; k++) {
      const t = r.goBackwards ? steps - 1 - k : k;
      const h = k > 0 ? hAll.subarray((k - 1) * nu, k * nu) : zero;
      for (let i = 0; i < n; i++) hPrev.set(h.subarray(i * units, (i + 1) * units), (i * steps + t) * units);
      if (k > 0) productInto(h, n, units, u, rec, false);
      else rec.fill(0);
      const a = pre.subarray(k * nu, (k + 1) * nu);
      const hNew = hAll.subarray(k * nu, (k + 1) * nu);
      for (let i = 0; i < n; i++) {
        if (keepMask !== null && keepMask[i * steps + t] === 0) {
          for (let p = i * units; p < (i + 1) * units; p++) {
            a[p] = 0;
            hNew[p] = h[p];
          }
          continue;
        }
        const zo = (i * steps + t) * units;
        for (let q = 0; q < units; q++) {
          const p = i * units + q;
          const v = F(zv[zo + q] + rec[p]);
          a[p] = v;
          hNew[p] = act === "tanh" ? F(Math.tanh(v)) : act === "relu" ? (v > 0 ? v : 0) : v;
        }
      }
    }
    recordRecurrence(layer, n, steps, hPrev);
    const value = outputOf(hAll, n, steps, units, r.returnSequences);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const dyv = dy.dataSync() as Float32Array;
      const dz = new Float32Array(n * steps * units);
      const dh = new Float64Array(nu);
      const da = new Float32Array(nu);
      const uT = tf.transpose(u);
      try {
        for (let k = steps - 1; k >= 0; k--) {
          const t = r.goBackwards ? steps - 1 - k : k;
          addOutputGradient(dh, dyv, k, n, steps, units, r.returnSequences);
          const a = pre.subarray(k * nu, (k + 1) * nu);
          const hNew = hAll.subarray(k * nu, (k + 1) * nu);
          da.fill(0);
          let any = false;
          for (let i = 0; i < n; i++) {
            if (keepMask !== null && keepMask[i * steps + t] === 0) continue; // carried over: dh passes on, dz = 0
            any = true;
            for (let q = 0; q < units; q++) {
              const p = i * units + q;
              // tfjs: tanh' = 1 − y², relu' = step(x) (0 at x = 0), linear' = 1
              const slope = act === "tanh" ? 1 - hNew[p] * hNew[p] : act === "relu" ? (a[p] > 0 ? 1 : 0) : 1;
              da[p] = dh[p] * slope;
              dh[p] = 0;
            }
            dz.set(da.subarray(i * units, (i + 1) * units), (i * steps + t) * units);
          }
          if (k > 0 && any) productInto(da, n, units, uT, dh, true);
        }
      } finally {
        uT.dispose();
      }
      return tf.tensor3d(dz, [n, steps, units]);
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(zx);
}
