/**
 * Per-example gradients of `tf.layers.simpleRNN`, `tf.layers.lstm`, `tf.layers.gru` and
 * `tf.layers.bidirectional` around them.
 *
 * A recurrent layer applies the same weights at every time step: the gate pre-activations are
 * `z_t = x_t W + h_{t-1} U + b` (for the GRU's candidate gate the recurrent input is
 * `r_t ⊙ h_{t-1}`). The rule's `linear` part is the input projection `x_t W + b` for all steps at
 * once, and its `activate` part runs the recurrence (the engine adds its probe between the two),
 * so the one backward pass yields `g_t = dL/dz_t` for every step. Example i's gradients are then
 * sums over time steps of outer products, as for Dense on sequences (Opacus' RNN grad samplers
 * sum per-step `DPRNNCell` gradients the same way):
 * `dW = sum_t x_t^T g_t`, `dU = sum_t h_{t-1}^T g_t`, `db = sum_t g_t`, whose squared norms come
 * from Gram matrices over the T steps (ghost) or the materialised matrices, whichever is cheaper,
 * and whose clipped sum is one matrix product of the reweighted `g` with the recorded `[x, h]`
 * (book-keeping: no per-example backward pass). The hidden states `h_{t-1}` (GRU: and
 * `r_t ⊙ h_{t-1}`) are recorded by the forward pass where it runs as one host op (on cpu and wasm:
 * LSTM and GRU with tanh and hard or plain sigmoid gates, SimpleRNN with tanh, relu or linear;
 * lstm-host.ts, rnn-host.ts), else recomputed by one forward run of the recurrence without gradients.
 *
 * Masks (from `Embedding({ maskZero: true })` or `Masking`) follow tfjs: at a masked step the
 * output and the states are carried over, so that step's `g_t` is zero and it adds nothing.
 * Refused: `stateful` (state carried from one batch to the next mixes examples), `returnState`,
 * `dropout` / `recurrentDropout` (use a Dropout layer before or after, or strategy "naive").
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
import type { LayerRule, NormMode, PerExampleTerms } from "../layer-rule.js";
import {
  forgetRecurrence,
  lstmHostEligible,
  lstmHostRecurrence,
  noteRecurrentInput,
  takeRecordedStates,
  type RecordedStates,
} from "./lstm-host.js";
import { gruHostEligible, gruHostRecurrence, simpleRnnHostEligible, simpleRnnHostRecurrence } from "./rnn-host.js";
import { hostView } from "../host-view.js";
import { denseLinearFast, matMulTransposeA } from "./matmul.js";
import { sequenceOuter } from "./sequence-outer.js";
import { recurrentGhostNorms, recurrentPerExample as recurrentKernelTerms } from "../../kernels/per-example-wasm-kernels.js";

type Kind = "SimpleRNN" | "LSTM" | "GRU";

interface ActivationLike {
  apply(x: tf.Tensor): tf.Tensor;
}

interface CellLike {
  units: number;
  kernel: tf.LayerVariable;
  recurrentKernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
  activation: ActivationLike;
  recurrentActivation?: ActivationLike;
  dropout?: number;
  recurrentDropout?: number;
}

interface RnnLike {
  cell: CellLike;
  returnSequences: boolean;
  returnState: boolean;
  goBackwards: boolean;
  stateful: boolean;
}

const GATES: Record<Kind, number> = { SimpleRNN: 1, LSTM: 4, GRU: 3 };

function rnn(layer: tf.layers.Layer): RnnLike {
  return layer as unknown as RnnLike;
}

function kindOf(layer: tf.layers.Layer): Kind {
  const name = layer.getClassName();
  if (name === "SimpleRNN" || name === "LSTM" || name === "GRU") return name;
  throw new DpError("unsupported_layer", `Layer "${layer.name}" (${name}) is not a SimpleRNN, LSTM or GRU.`, "model");
}

function checkRecurrent(layer: tf.layers.Layer): void {
  const r = rnn(layer);
  const label = `Layer "${layer.name}" (${layer.getClassName()})`;
  if (r.stateful) {
    throw new DpError(
      "unsupported_layer",
      `${label} is stateful: its state is carried from one batch to the next, so one example's data influences the gradients of later examples and per-example clipping no longer bounds it. Use stateful: false.`,
      "model",
    );
  }
  if (r.returnState) {
    throw new DpError(
      "unsupported_layer",
      `${label} uses returnState (several outputs); dpkit's per-example engine needs one output per layer. Use strategy "naive".`,
      "model",
    );
  }
  if ((r.cell.dropout ?? 0) > 0 || (r.cell.recurrentDropout ?? 0) > 0) {
    throw new DpError(
      "unsupported_layer",
      `${label} uses dropout ${r.cell.dropout ?? 0} / recurrentDropout ${r.cell.recurrentDropout ?? 0}; the per-example rule cannot replay tfjs's dropout masks. Put a Dropout layer before or after it, or use strategy "naive".`,
      "model",
    );
  }
}

/** States of the recurrence, run in processing order; per-step records indexed by original time. */
interface Recurrence {
  /** Outputs in processing order (what tfjs stacks for returnSequences). */
  outputs: tf.Tensor2D[];
  /** h_{t-1} for each original time index t (the state before step t was processed). */
  hPrev: tf.Tensor2D[];
  /** GRU only: r_t ⊙ h_{t-1} for each original t. */
  resetH: tf.Tensor2D[];
}

/**
 * Runs the recurrence of a SimpleRNN / LSTM / GRU cell on the input projections `zx`
 * (`[N, T, G·U]`), exactly as tfjs-layers 4.x does (initial state zero, masks carrying the
 * previous output and states over, `goBackwards` reversing the processing order).
 */
function recur(kind: Kind, layer: tf.layers.Layer, zx: tf.Tensor, mask: tf.Tensor | null | undefined, record: boolean): Recurrence {
  const r = rnn(layer);
  const cell = r.cell;
  const units = cell.units;
  const [n, steps] = zx.shape;
  const perStep = tf.unstack(zx, 1) as tf.Tensor2D[];
  const masks = mask ? (tf.unstack(tf.reshape(tf.cast(tf.cast(mask, "bool"), "float32"), [n, steps, 1]), 1) as tf.Tensor2D[]) : null;
  const u = cell.recurrentKernel.read() as tf.Tensor2D;
  let rk1: tf.Tensor2D | null = null;
  let rk2: tf.Tensor2D | null = null;
  if (kind === "GRU") [rk1, rk2] = tf.split(u, [2 * units, units], 1) as [tf.Tensor2D, tf.Tensor2D];
  let h = tf.zeros([n, units]) as tf.Tensor2D;
  let c = kind === "LSTM" ? (tf.zeros([n, units]) as tf.Tensor2D) : null;
  const outputs: tf.Tensor2D[] = [];
  const hPrev: tf.Tensor2D[] = new Array(steps);
  const resetH: tf.Tensor2D[] = new Array(steps);
  const act = cell.activation;
  const ract = cell.recurrentActivation as ActivationLike;
  for (let k = 0; k < steps; k++) {
    const t = r.goBackwards ? steps - 1 - k : k;
    if (record) hPrev[t] = h;
    const z = perStep[t];
    let hNew: tf.Tensor2D;
    let cNew: tf.Tensor2D | null = null;
    if (kind === "SimpleRNN") {
      hNew = act.apply(tf.add(z, tf.matMul(h, u))) as tf.Tensor2D;
    } else if (kind === "LSTM") {
      const [z0, z1, z2, z3] = tf.split(tf.add(z, tf.matMul(h, u)), 4, 1);
      const i = ract.apply(z0);
      const f = ract.apply(z1);
      cNew = tf.add(tf.mul(f, c as tf.Tensor2D), tf.mul(i, act.apply(z2))) as tf.Tensor2D;
      hNew = tf.mul(ract.apply(z3), act.apply(cNew)) as tf.Tensor2D;
    } else {
      const [xZ, xR, xH] = tf.split(z, 3, 1);
      const [recZ, recR] = tf.split(tf.matMul(h, rk1 as tf.Tensor2D), 2, 1);
      const zg = ract.apply(tf.add(xZ, recZ));
      const rg = ract.apply(tf.add(xR, recR));
      const rh = tf.mul(rg, h) as tf.Tensor2D;
      if (record) resetH[t] = rh;
      const hh = act.apply(tf.add(xH, tf.matMul(rh, rk2 as tf.Tensor2D)));
      hNew = tf.add(tf.mul(zg, h), tf.mul(tf.sub(1, zg), hh)) as tf.Tensor2D;
    }
    if (masks) {
      const m = masks[t];
      const keep = tf.sub(1, m);
      hNew = tf.add(tf.mul(hNew, m), tf.mul(h, keep)) as tf.Tensor2D;
      if (cNew && c) cNew = tf.add(tf.mul(cNew, m), tf.mul(c, keep)) as tf.Tensor2D;
    }
    h = hNew;
    c = cNew;
    outputs.push(h);
  }
  return { outputs, hPrev, resetH };
}

function inputProjection(layer: tf.layers.Layer, input: tf.Tensor): tf.Tensor {
  const cell = rnn(layer).cell;
  const kernel = cell.kernel.read() as tf.Tensor2D;
  const [din, width] = kernel.shape;
  const [n, steps] = input.shape;
  const flat = tf.reshape(input, [n * steps, din]) as tf.Tensor2D;
  const z = denseLinearFast(flat, kernel, cell.useBias && cell.bias ? cell.bias.read() : null);
  return tf.reshape(z, [n, steps, width]);
}

function recurrentOutput(layer: tf.layers.Layer, zx: tf.Tensor, mask?: tf.Tensor | null): tf.Tensor {
  // LSTM, GRU, SimpleRNN with the default activations on cpu / wasm: one op (lstm-host.ts,
  // rnn-host.ts), which also records h_{t-1} (GRU: and r_t ⊙ h_{t-1}).
  if ((zx.shape[1] as number) > 0) {
    if (lstmHostEligible(layer)) return lstmHostRecurrence(layer, zx, mask);
    if (gruHostEligible(layer)) return gruHostRecurrence(layer, zx, mask);
    if (simpleRnnHostEligible(layer)) return simpleRnnHostRecurrence(layer, zx, mask);
  }
  forgetRecurrence(layer);
  const { outputs } = recur(kindOf(layer), layer, zx, mask, false);
  if (outputs.length === 0) throw new DpError("invalid_parameter", `Layer "${layer.name}" received a sequence of length 0.`, "x");
  return rnn(layer).returnSequences ? tf.stack(outputs, 1) : outputs[outputs.length - 1];
}

function recurrentPerExample(
  layer: tf.layers.Layer,
  input: tf.Tensor,
  g: tf.Tensor,
  mask: tf.Tensor | null | undefined,
  mode: NormMode,
): PerExampleTerms {
  const kind = kindOf(layer);
  const cell = rnn(layer).cell;
  const units = cell.units;
  const useBias = cell.useBias && cell.bias !== null;
  const [n, steps, din] = input.shape;
  const width = GATES[kind] * units;
  const g3 = g as tf.Tensor3D;
  // h_{t-1} (GRU: and r_t ⊙ h_{t-1}) as recorded by the forward pass (the host ops), else one more run of the recurrence.
  const recorded = takeRecordedStates(layer, input, n, steps);
  const rec = recorded && (kind !== "GRU" || recorded.resetH) ? null : recur(kind, layer, inputProjection(layer, input), mask, true);
  if (!rec && mode !== "materialize" && kind !== "GRU") {
    // SimpleRNN / LSTM host op: ghost norms and clipped sum in the WebAssembly kernel where it runs
    // (kernels/per-example-wasm-kernels.ts; the same sums as the branch below, without its concat).
    const terms = hostKernelTerms(input, (recorded as RecordedStates).hPrev, g3, din, units, width, useBias);
    if (terms !== null) return terms;
  }
  const h3 = (rec ? tf.stack(rec.hPrev, 1) : tf.tensor3d((recorded as RecordedStates).hPrev, [n, steps, units])) as tf.Tensor3D;
  const ones = useBias ? tf.ones([n, steps, 1]) : null;
  if (!rec && mode !== "materialize") {
    // The host op's states are on the host already: the ghost norms <A_i A_iᵀ, G_i G_iᵀ> as one
    // loop (tfjs-backend-wasm runs batched products of small matrices without XNNPACK), the
    // clipped sum as one flat product of [x, h, 1] with the reweighted g (GRU: [x, h, r⊙h, 1],
    // of which the kernel takes the x rows, the recurrent kernel the h rows of the z, r columns
    // and the r⊙h rows of the h columns, the bias the last row).
    const st = recorded as RecordedStates;
    const rh3 = st.resetH ? tf.tensor3d(st.resetH, [n, steps, units]) : null;
    const parts = [input, h3, ...(rh3 ? [rh3] : []), ...(ones ? [ones] : [])];
    const a3 = tf.concat(parts, 2) as tf.Tensor3D;
    const hr = rh3 ? 2 * units : units;
    return {
      squaredNorms: tf.tensor1d(
        st.resetH ? hostGhostNormsGru(input, st.hPrev, st.resetH, g3, useBias) : hostGhostNorms(input, st.hPrev, g3, useBias),
      ),
      weightedSum(w) {
        const p = din + hr + (useBias ? 1 : 0);
        const gw = tf.reshape(tf.mul(g3, tf.reshape(w, [n, 1, 1])), [n * steps, width]) as tf.Tensor2D;
        const all = matMulTransposeA(tf.reshape(a3, [n * steps, p]) as tf.Tensor2D, gw);
        const recurrentKernel = rh3
          ? tf.concat([tf.slice(all, [din, 0], [units, 2 * units]), tf.slice(all, [din + units, 2 * units], [units, units])], 1)
          : tf.slice(all, [din, 0], [units, width]);
        const out: tf.Tensor[] = [tf.slice(all, [0, 0], [din, width]), recurrentKernel];
        if (useBias) out.push(tf.reshape(tf.slice(all, [din + hr, 0], [1, width]), [width]));
        return out;
      },
    };
  }
  if (kind !== "GRU") {
    // one outer product over [x_t, h_{t-1}, 1] covers kernel, recurrent kernel and bias
    const a3 = tf.concat(ones ? [input, h3, ones] : [input, h3], 2) as tf.Tensor3D;
    const terms = sequenceOuter(a3, g3, mode);
    return {
      squaredNorms: terms.squaredNorms,
      weightedSum(w) {
        const all = terms.weightedSum(w);
        const out: tf.Tensor[] = [tf.slice(all, [0, 0], [din, width]), tf.slice(all, [din, 0], [units, width])];
        if (useBias) out.push(tf.reshape(tf.slice(all, [din + units, 0], [1, width]), [width]));
        return out;
      },
    };
  }
  // GRU: the candidate gate's recurrent input is r_t ⊙ h_{t-1}, the update and reset gates' is h_{t-1}
  const xa = (ones ? tf.concat([input, ones], 2) : input) as tf.Tensor3D;
  const [gZR, gH] = tf.split(g3, [2 * units, units], 2) as [tf.Tensor3D, tf.Tensor3D];
  const inputTerms = sequenceOuter(xa, g3, mode);
  const zrTerms = sequenceOuter(h3, gZR, mode);
  const rh3 = (
    rec ? tf.stack(rec.resetH, 1) : tf.tensor3d((recorded as RecordedStates).resetH as Float32Array, [n, steps, units])
  ) as tf.Tensor3D;
  const hTerms = sequenceOuter(rh3, gH, mode);
  return {
    squaredNorms: tf.addN([inputTerms.squaredNorms, zrTerms.squaredNorms, hTerms.squaredNorms]) as tf.Tensor1D,
    weightedSum(w) {
      const xs = inputTerms.weightedSum(w);
      const out: tf.Tensor[] = [tf.slice(xs, [0, 0], [din, width]), tf.concat([zrTerms.weightedSum(w), hTerms.weightedSum(w)], 1)];
      if (useBias) out.push(tf.reshape(tf.slice(xs, [din, 0], [1, width]), [width]));
      return out;
    },
  };
}

/**
 * The host-op branch's terms from the module's `recurrentPerExample`: the ghost norms, and the clipped
 * sum as one `[(din + units + bias), width]` block split into kernel, recurrent kernel and bias
 * (handed to the DP step as host arrays). Null where the kernel does not run.
 */
function hostKernelTerms(
  input: tf.Tensor,
  hPrev: Float32Array,
  g3: tf.Tensor3D,
  din: number,
  units: number,
  width: number,
  useBias: boolean,
): PerExampleTerms | null {
  const [n, steps] = input.shape;
  // (two views read at once: nothing is allocated on the backend in between)
  const read = () => ({ x: hostView(input), g: hostView(g3) });
  const r = recurrentKernelTerms(read, hPrev, n, steps, din, units, width, useBias);
  if (r === null) return null;
  const host = (w: ArrayLike<number>): Float32Array[] => {
    const all = r.weightedSum(w);
    const out = [all.slice(0, din * width), all.slice(din * width, (din + units) * width)];
    if (useBias) out.push(all.slice((din + units) * width));
    return out;
  };
  return {
    squaredNorms: tf.tensor1d(r.squaredNorms),
    weightedSum(w) {
      const [kernel, recurrent, bias] = host(w.dataSync());
      const out: tf.Tensor[] = [tf.tensor2d(kernel, [din, width]), tf.tensor2d(recurrent, [units, width])];
      if (bias) out.push(tf.tensor1d(bias));
      return out;
    },
    weightedSumHost: host,
  };
}

/**
 * Writes into `live` the time steps of example `i` whose output gradient row (q entries of `gv`) is not all
 * zero — masked steps have none — and returns how many there are. Shared by the host ghost-norm loops.
 */
function liveSteps(gv: Float32Array, i: number, steps: number, q: number, live: Int32Array): number {
  let m = 0;
  for (let t = 0; t < steps; t++) {
    const o = (i * steps + t) * q;
    for (let j = 0; j < q; j++) {
      if (gv[o + j] !== 0) {
        live[m++] = t;
        break;
      }
    }
  }
  return m;
}

/**
 * Squared norms `sum_{t,s} (a_t·a_s)(g_t·g_s)` per example, `a_t = [x_t, h_{t-1}, 1]` (the 1 with
 * a bias), in float64 over the upper triangle of the T×T Gram matrices; steps whose `g_t` is
 * zero (masked steps) add nothing and are skipped.
 */
function hostGhostNorms(input: tf.Tensor, hPrev: Float32Array, g: tf.Tensor3D, useBias: boolean): Float32Array {
  const [n, steps, din] = input.shape as [number, number, number];
  const units = hPrev.length / (n * steps);
  const q = g.shape[2];
  // The WebAssembly SIMD kernel (kernels/per-example-wasm-kernels.ts) where it runs: the same sums.
  const viaWasm = recurrentGhostNorms(hostView(input), hPrev, hostView(g), n, steps, din, units, q, useBias);
  if (viaWasm !== null) return viaWasm;
  const x = Float32Array.from(hostView(input)); // (a copy: the view below must be the last one taken)
  const gv = hostView(g) as Float32Array; // read at once: nothing is allocated on the backend below
  const out = new Float32Array(n);
  const live = new Int32Array(steps);
  for (let i = 0; i < n; i++) {
    const m = liveSteps(gv, i, steps, q, live);
    let acc = 0;
    for (let u = 0; u < m; u++) {
      const t = live[u];
      const gt = (i * steps + t) * q;
      const xt = (i * steps + t) * din;
      const ht = (i * steps + t) * units;
      for (let v = u; v < m; v++) {
        const s = live[v];
        const gs = (i * steps + s) * q;
        const xs = (i * steps + s) * din;
        const hs = (i * steps + s) * units;
        // (four partial sums: independent chains the JIT can overlap)
        let g0 = 0;
        let g1 = 0;
        let g2 = 0;
        let g3 = 0;
        let j = 0;
        for (; j + 3 < q; j += 4) {
          g0 += gv[gt + j] * gv[gs + j];
          g1 += gv[gt + j + 1] * gv[gs + j + 1];
          g2 += gv[gt + j + 2] * gv[gs + j + 2];
          g3 += gv[gt + j + 3] * gv[gs + j + 3];
        }
        for (; j < q; j++) g0 += gv[gt + j] * gv[gs + j];
        const gg = g0 + g1 + g2 + g3;
        let aa = useBias ? 1 : 0;
        for (let k = 0; k < din; k++) aa += x[xt + k] * x[xs + k];
        for (let k = 0; k < units; k++) aa += hPrev[ht + k] * hPrev[hs + k];
        acc += (u === v ? 1 : 2) * aa * gg;
      }
    }
    out[i] = acc;
  }
  return out;
}

/** The SimpleRNN / LSTM / GRU rule. */
export const recurrentRule: LayerRule = {
  classNames: ["SimpleRNN", "LSTM", "GRU"],
  check(layer) {
    kindOf(layer);
    checkRecurrent(layer);
  },
  weights(layer) {
    const cell = rnn(layer).cell;
    return cell.useBias && cell.bias ? [cell.kernel, cell.recurrentKernel, cell.bias] : [cell.kernel, cell.recurrentKernel];
  },
  linear(layer, input) {
    noteRecurrentInput(layer, input);
    return inputProjection(layer, input);
  },
  activate: recurrentOutput,
  perExample(layer, { input, outputGradient, mask, mode }) {
    return recurrentPerExample(layer, input, outputGradient, mask, mode);
  },
};

interface BidirectionalLike {
  forwardLayer: tf.layers.Layer;
  backwardLayer: tf.layers.Layer;
  mergeMode: "sum" | "mul" | "concat" | "ave" | null;
  returnSequences: boolean;
  returnState: boolean;
}

function bi(layer: tf.layers.Layer): BidirectionalLike {
  return layer as unknown as BidirectionalLike;
}

function projectionWidth(layer: tf.layers.Layer): number {
  return (rnn(layer).cell.kernel.read() as tf.Tensor2D).shape[1];
}

/**
 * The Bidirectional rule (around SimpleRNN, LSTM or GRU): the forward and backward layers' input
 * projections side by side as the linear part, both recurrences and the merge as the rest; the
 * per-example terms are those of the two inner layers (their weights are disjoint, so squared
 * norms add).
 */
export const bidirectionalRule: LayerRule = {
  classNames: ["Bidirectional"],
  check(layer) {
    const b = bi(layer);
    if (b.mergeMode == null) {
      throw new DpError(
        "unsupported_layer",
        `Layer "${layer.name}" (Bidirectional) has mergeMode null (two outputs); use "concat", "sum", "ave" or "mul".`,
        "model",
      );
    }
    for (const inner of [b.forwardLayer, b.backwardLayer]) {
      const name = inner.getClassName();
      if (name !== "SimpleRNN" && name !== "LSTM" && name !== "GRU") {
        throw new DpError(
          "unsupported_layer",
          `Layer "${layer.name}" (Bidirectional) wraps a ${name}; rules exist for SimpleRNN, LSTM and GRU.`,
          "model",
        );
      }
      checkRecurrent(inner);
    }
  },
  weights(layer) {
    const b = bi(layer);
    return [...recurrentRule.weights(b.forwardLayer), ...recurrentRule.weights(b.backwardLayer)];
  },
  linear(layer, input) {
    const b = bi(layer);
    noteRecurrentInput(b.forwardLayer, input);
    noteRecurrentInput(b.backwardLayer, input);
    return tf.concat([inputProjection(b.forwardLayer, input), inputProjection(b.backwardLayer, input)], 2);
  },
  activate(layer, z, mask) {
    const b = bi(layer);
    const wf = projectionWidth(b.forwardLayer);
    const [zf, zb] = tf.split(z, [wf, (z.shape[2] as number) - wf], 2);
    const y = recurrentOutput(b.forwardLayer, zf, mask);
    let yRev = recurrentOutput(b.backwardLayer, zb, mask);
    if (b.returnSequences) yRev = tf.reverse(yRev, 1);
    switch (b.mergeMode) {
      case "concat":
        return tf.concat([y, yRev], y.rank - 1);
      case "sum":
        return tf.add(y, yRev);
      case "ave":
        return tf.mul(0.5, tf.add(y, yRev));
      case "mul":
        return tf.mul(y, yRev);
      default:
        throw new DpError("unsupported_layer", `Layer "${layer.name}" (Bidirectional) has mergeMode ${String(b.mergeMode)}.`, "model");
    }
  },
  perExample(layer, { input, outputGradient, mask, mode }) {
    const b = bi(layer);
    const wf = projectionWidth(b.forwardLayer);
    const [gf, gb] = tf.split(outputGradient, [wf, (outputGradient.shape[2] as number) - wf], 2);
    const f = recurrentPerExample(b.forwardLayer, input, gf, mask, mode);
    const r = recurrentPerExample(b.backwardLayer, input, gb, mask, mode);
    return {
      squaredNorms: tf.add(f.squaredNorms, r.squaredNorms) as tf.Tensor1D,
      weightedSum: (w) => [...f.weightedSum(w), ...r.weightedSum(w)],
    };
  },
};

/**
 * The GRU's squared norms from the recorded states: `sum_{t,s} (x_t·x_s + 1)(g_t·g_s) +
 * (h_t·h_s)(g^zr_t·g^zr_s) + (ρ_t·ρ_s)(g^h_t·g^h_s)` per example, with `h_t` = `h_{t-1}`,
 * `ρ_t = r_t ⊙ h_{t-1}` and `g^zr`, `g^h` the update/reset and candidate columns of `g_t` (the
 * 1 with a bias); float64, upper triangle, steps whose `g_t` is zero skipped.
 */
function hostGhostNormsGru(input: tf.Tensor, hPrev: Float32Array, resetH: Float32Array, g: tf.Tensor3D, useBias: boolean): Float32Array {
  const [n, steps, din] = input.shape as [number, number, number];
  const units = hPrev.length / (n * steps);
  const q = g.shape[2];
  const split = 2 * units;
  const x = Float32Array.from(hostView(input)); // (a copy: the view below must be the last one taken)
  const gv = hostView(g) as Float32Array; // read at once: nothing is allocated on the backend below
  const out = new Float32Array(n);
  const live = new Int32Array(steps);
  for (let i = 0; i < n; i++) {
    const m = liveSteps(gv, i, steps, q, live);
    let acc = 0;
    for (let u = 0; u < m; u++) {
      const t = live[u];
      const gt = (i * steps + t) * q;
      const xt = (i * steps + t) * din;
      const ht = (i * steps + t) * units;
      for (let v = u; v < m; v++) {
        const s = live[v];
        const gs = (i * steps + s) * q;
        const xs = (i * steps + s) * din;
        const hs = (i * steps + s) * units;
        // (two partial sums each: independent chains the JIT can overlap)
        let z0 = 0;
        let z1 = 0;
        let j = 0;
        for (; j + 1 < split; j += 2) {
          z0 += gv[gt + j] * gv[gs + j];
          z1 += gv[gt + j + 1] * gv[gs + j + 1];
        }
        for (; j < split; j++) z0 += gv[gt + j] * gv[gs + j];
        let c0 = 0;
        let c1 = 0;
        for (; j + 1 < q; j += 2) {
          c0 += gv[gt + j] * gv[gs + j];
          c1 += gv[gt + j + 1] * gv[gs + j + 1];
        }
        for (; j < q; j++) c0 += gv[gt + j] * gv[gs + j];
        const gzr = z0 + z1;
        const gh = c0 + c1;
        let ax = useBias ? 1 : 0;
        for (let k = 0; k < din; k++) ax += x[xt + k] * x[xs + k];
        let ah = 0;
        let ar = 0;
        for (let k = 0; k < units; k++) {
          ah += hPrev[ht + k] * hPrev[hs + k];
          ar += resetH[ht + k] * resetH[hs + k];
        }
        acc += (u === v ? 1 : 2) * (ax * (gzr + gh) + ah * gzr + ar * gh);
      }
    }
    out[i] = acc;
  }
  return out;
}
