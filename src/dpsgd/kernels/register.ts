/**
 * Installs the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that CNNs and embeddings
 * train on wasm: `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput` and `UnsortedSegmentSum`, each composed from kernels the
 * backend has (see the files of this folder).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { onBackendActivated } from "../../backend/index.js";
import { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter.js";
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from "./depthwise-backprop.js";
import { unsortedSegmentSumKernel } from "./unsorted-segment-sum.js";

const BACKEND = "wasm";

const kernels: [string, (backendName: string) => tf.KernelFunc][] = [
  ["Conv2DBackpropFilter", conv2dBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInputKernel],
  ["UnsortedSegmentSum", unsortedSegmentSumKernel],
];

/** Names of the kernels dpkit adds to the wasm backend when missing. */
export const DPKIT_WASM_KERNELS: readonly string[] = kernels.map(([name]) => name);

/**
 * Registers dpkit's wasm kernels for the gradients tfjs-backend-wasm 4.22 lacks (only those still
 * missing, so it is idempotent and defers to a future tfjs that ships its own).
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
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: make(BACKEND) });
    added.push(name);
  }
  return added;
}

onBackendActivated((name) => {
  if (name === BACKEND) registerDpkitWasmKernels();
});
