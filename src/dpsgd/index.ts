/**
 * `dpkit/dpsgd`: DP-SGD for TensorFlow.js models.
 * @module
 */
export * from "./engine/index.js";
export { loadMnist, type MnistSet, type LoadMnistOptions } from "../data/mnist.js";
