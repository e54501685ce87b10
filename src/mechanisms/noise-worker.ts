/**
 * Worker-thread side of {@link NoiseWorker} (`noise-prefetch.ts`): draws vectors of exact discrete
 * Gaussian integers Z ~ N_ℤ(0, gridSigma²) on request, with the same sampler as the calling thread
 * (`DiscreteZiggurat.fill`) and its **own** {@link SecureRng} (the platform CSPRNG), and transfers
 * each vector back once. It never sees any data. Not part of the public API.
 * @module
 */
import { workerData, type MessagePort } from "node:worker_threads";
import { DiscreteZiggurat } from "../random/discrete-ziggurat.js";
import { SecureRng, SeededRng, type Rng } from "../random/rng.js";
import type { NoiseReply, NoiseRequest, NoiseWorkerInit } from "./noise-prefetch.js";

const init = workerData as NoiseWorkerInit;
const flag = new Int32Array(init.flag);
const port = init.port as MessagePort;
// The secure source; a seed is only ever set by the internal test hook (`startNoiseWorkerForTests`).
const rng: Rng = init.testSeed === undefined ? new SecureRng() : new SeededRng(init.testSeed);
const samplers = new Map<number, DiscreteZiggurat>();

port.on("message", (req: NoiseRequest) => {
  let z = samplers.get(req.gridSigma);
  if (z === undefined) {
    if (samplers.size >= 4) samplers.clear();
    z = new DiscreteZiggurat(req.gridSigma);
    samplers.set(req.gridSigma, z);
  }
  const t0 = performance.now();
  const out = new Float64Array(req.dimension);
  z.fill(out, rng);
  const reply: NoiseReply = { id: req.id, gridSigma: req.gridSigma, dimension: req.dimension, z: out, ms: performance.now() - t0 };
  port.postMessage(reply, [out.buffer]);
  // Posted before the flag is raised, so a waiter that sees the flag finds the message on its port.
  Atomics.store(flag, 0, req.id);
  Atomics.notify(flag, 0);
});
