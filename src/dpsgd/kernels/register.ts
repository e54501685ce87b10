/**
 * Installs the gradient kernels that tfjs-backend-wasm 4.22 lacks, so that CNNs and embeddings
 * train on wasm: `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter`,
 * `DepthwiseConv2dNativeBackpropInput` and `UnsortedSegmentSum`, and replaces its wrong
 * `MaxPoolGrad`; each is composed from kernels the backend has (see the files of this folder).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { onBackendActivated } from "../../backend/index.js";
import { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter.js";
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from "./depthwise-backprop.js";
import { batchMatMulUntransposedKernel, conv2dBackpropInputViaConv2DKernel, maxPoolGradDirectKernel } from "./fast-gradients.js";
import { unsortedSegmentSumKernel } from "./unsorted-segment-sum.js";

const BACKEND = "wasm";

const kernels: [string, (backendName: string) => tf.KernelFunc][] = [
  ["Conv2DBackpropFilter", conv2dBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropFilter", depthwiseBackpropFilterKernel],
  ["DepthwiseConv2dNativeBackpropInput", depthwiseBackpropInputKernel],
  ["UnsortedSegmentSum", unsortedSegmentSumKernel],
];

/**
 * Kernels tfjs-backend-wasm 4.22 has but computes wrongly (MaxPoolGrad) or slowly
 * (Conv2DBackpropInput, transposed BatchMatMul): replaced. `make` gets the kernel it replaces.
 */
const replacements: [string, (backendName: string, original: tf.KernelFunc | undefined) => tf.KernelFunc][] = [
  ["MaxPoolGrad", () => maxPoolGradDirectKernel()],
  ["Conv2DBackpropInput", conv2dBackpropInputViaConv2DKernel],
  ["BatchMatMul", batchMatMulUntransposedKernel],
];

/** Names of the kernels dpkit adds to (or, for MaxPoolGrad, replaces in) the wasm backend. */
export const DPKIT_WASM_KERNELS: readonly string[] = [...kernels, ...replacements].map(([name]) => name);

const installed = new Map<string, tf.KernelFunc>();

/**
 * Registers dpkit's wasm kernels for the gradients tfjs-backend-wasm 4.22 lacks (only those still
 * missing, so it defers to a future tfjs that ships its own) and replaces its `MaxPoolGrad`,
 * which drops part of the gradient for even pool sizes. Idempotent.
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
    const kernelFunc = make(BACKEND, current?.kernelFunc);
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
