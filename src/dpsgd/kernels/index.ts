/**
 * Extra tfjs kernels (wasm gradients that tfjs-backend-wasm 4.22 lacks).
 * @module
 */
export { registerDpkitWasmKernels, DPKIT_WASM_KERNELS } from "./register.js";
export { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter.js";
export { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from "./depthwise-backprop.js";
export { unsortedSegmentSumKernel } from "./unsorted-segment-sum.js";
export { maxPoolGradDirectKernel } from "./max-pool-grad-direct.js";
export { sliceViewKernel, splitVViewKernel, unpackViewKernel } from "./slice-views.js";
export { gatherRowsKernel } from "./gather-rows.js";
export { COMPARISON_KERNELS, compareBroadcastKernel, type ComparisonKernel } from "./compare-broadcast.js";
