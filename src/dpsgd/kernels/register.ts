/**
 * Installs the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that CNNs and embeddings
 * train on wasm: `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput` and `UnsortedSegmentSum`, replaces its wrong
 * `MaxPoolGrad`, and replaces `Slice`, `Unpack` and `SplitV` by versions that do not copy the
 * whole input out of the wasm heap per call, `GatherV2` along axis 0 by a row copy, and the slow
 * `Conv2DBackpropInput` and transposed `BatchMatMul` (./fast-gradients.ts), and the six comparisons when
 * their operands broadcast (./compare-broadcast.ts: the gradient of `max`); each is composed from kernels the
 * backend has or copies heap to heap (see the files of this folder). Inside the DP engine's step only,
 * `Identity` shares its input's buffer instead of copying it (./shared-identity.ts).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { onBackendActivated } from "../../backend/index.js";
import { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter.js";
import { COMPARISON_KERNELS, compareBroadcastKernel } from "./compare-broadcast.js";
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from "./depthwise-backprop.js";
import { batchMatMulUntransposedKernel, conv2dBackpropInputViaConv2DKernel } from "./fast-gradients.js";
import { gatherRowsKernel } from "./gather-rows.js";
import { maxPoolGradDirectKernel } from "./max-pool-grad-direct.js";
import { sharedIdentityKernel } from "./shared-identity.js";
import { sliceViewKernel, splitVViewKernel, unpackViewKernel } from "./slice-views.js";
import { unsortedSegmentSumKernel } from "./unsorted-segment-sum.js";

const BACKEND = "wasm";

const kernels: [string, (backendName: string) => tf.KernelFunc][] = [
  ["Conv2DBackpropFilter", conv2dBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInputKernel],
  ["UnsortedSegmentSum", unsortedSegmentSumKernel],
];

/**
 * Kernels tfjs-backend-wasm 4.22 has but computes wrongly (MaxPoolGrad), with a copy of the
 * whole input per call (Slice, Unpack, SplitV: see ./slice-views.ts) or slowly (GatherV2 along
 * axis 0: see ./gather-rows.ts; Conv2DBackpropInput and transposed BatchMatMul: see
 * ./fast-gradients.ts; comparisons that broadcast: see ./compare-broadcast.ts): replaced. Each maker gets the backend's own kernel, to fall back to for
 * cases the replacement does not handle.
 */
const replacements: [string, (backendName: string, own: tf.KernelConfig | undefined) => tf.KernelFunc][] = [
  ["MaxPoolGrad", () => maxPoolGradDirectKernel()],
  // Shares the input's buffer instead of copying it, inside the DP engine's step only: ./shared-identity.ts.
  ["Identity", (_name, own) => sharedIdentityKernel(own)],
  ["Slice", (_name, own) => sliceViewKernel(own)],
  ["Unpack", (_name, own) => unpackViewKernel(own)],
  ["SplitV", (_name, own) => splitVViewKernel(own)],
  ["GatherV2", (_name, own) => gatherRowsKernel(own)],
  ["Conv2DBackpropInput", (name, own) => conv2dBackpropInputViaConv2DKernel(name, own?.kernelFunc)],
  ["BatchMatMul", (name, own) => batchMatMulUntransposedKernel(name, own?.kernelFunc)],
  // Comparisons whose operands broadcast (the gradient of max: GlobalMaxPooling1D): ./compare-broadcast.ts.
  ...COMPARISON_KERNELS.map((k): [string, (backendName: string, own: tf.KernelConfig | undefined) => tf.KernelFunc] => [
    k,
    (_name, own) => compareBroadcastKernel(k, own),
  ]),
];

/** Names of the kernels dpkit adds to (or, for MaxPoolGrad, replaces in) the wasm backend. */
export const DPKIT_WASM_KERNELS: readonly string[] = [...kernels, ...replacements].map(([name]) => name);

const installed = new Map<string, tf.KernelFunc>();

/**
 * Registers dpkit's wasm kernels for the gradients tfjs-backend-wasm 4.22 lacks (only those still
 * missing, so it defers to a future tfjs that ships its own), replaces its `MaxPoolGrad`,
 * which drops part of the gradient for even pool sizes, and its `Slice`, `Unpack` and `SplitV`,
 * which copy the whole input into JS on every call, and its `GatherV2` along the first axis
 * (Embedding lookups) by a row copy on the heap (same results, less data movement). Idempotent.
 *
 * @remarks
 * Called by `prepareBackend()` (through `onBackendActivated`) and by `clippedGradients`; call it
 * yourself only if you set the wasm backend up without dpkit. Numerical only: no privacy impact.
 *
 * @returns the names of the kernels registered by this call
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-wasm";
 * import { registerDpkitWasmKernels } from "dpkit/dpsgd";
 * registerDpkitWasmKernels(); // CNNs can now train on the wasm backend
 * ```
 */
export function registerDpkitWasmKernels(): string[] {
  const added: string[] = [];
  for (const [name, make] of kernels) {
    if (tf.getKernel(name, BACKEND) !== undefined) continue;
    const kernelFunc = make(BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
    installed.set(name, kernelFunc);
    added.push(name);
  }
  for (const [name, make] of replacements) {
    const current = tf.getKernel(name, BACKEND);
    if (current !== undefined && current.kernelFunc === installed.get(name)) continue;
    const kernelFunc = make(BACKEND, current);
    if (current !== undefined) tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
    installed.set(name, kernelFunc);
    added.push(name);
  }
  return added;
}

onBackendActivated((name) => {
  if (name === BACKEND) registerDpkitWasmKernels();
});
