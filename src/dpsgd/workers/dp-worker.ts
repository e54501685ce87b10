/**
 * Worker-thread side of {@link createDpWorkerPool}: rebuilds the model from its JSON topology
 * (own tfjs instance, same backend as the calling thread), then serves steps synchronously:
 * it waits on its signal array, reads the step from its message port, copies the weights and its
 * chunks of the batch out of shared memory, computes each chunk's clipped sum with the same
 * function as the calling thread, and transfers the results back. It never sees the caller's Rng;
 * when asked (`callerComputes` pools with the secure source) it draws its share of the step's exact
 * noise from its own secure source. Not part of the public API.
 * @module
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../backend/index.js";
import { drawExactNoiseRange } from "../../mechanisms/gaussian-noise.js";
import { SecureRng, SeededRng, type Rng } from "../../random/rng.js";
import { computeChunk } from "./chunks.js";
import { tensorFrom } from "./heap-view.js";
import {
  SIGNAL,
  type ChunkAnswer,
  type SharedTensor,
  type StepRequest,
  type StepResponse,
  type StopRequest,
  type WorkerInit,
  type WorkerStepProfile,
} from "./protocol.js";
import { currentThreadId, threadClock } from "./thread-clock.js";

const init = workerData as WorkerInit;
const signal = init.signal;
const port = init.port as MessagePort;

process.on("exit", (code) => {
  Atomics.store(signal, SIGNAL.exitCode, code);
  Atomics.store(signal, SIGNAL.dead, 1);
  Atomics.notify(signal, SIGNAL.response);
});

function chunkTensor(t: SharedTensor, start: number, size: number): tf.Tensor {
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  // tensorFrom copies out of shared memory: the tensor must not alias a buffer the calling thread rewrites.
  return tensorFrom(t.data.subarray(start * width, (start + size) * width), [size, ...t.shape.slice(1)], t.dtype);
}

/** This worker's own secure source for its share of the noise; a seed is only ever set by the internal test hook. */
const noiseRng: Rng = init.testNoiseSeed === undefined ? new SecureRng() : new SeededRng(init.testNoiseSeed);

/** Whether this worker's model holds weights yet (the first step always uploads them). */
let haveWeights = false;

function step(model: tf.LayersModel, m: StepRequest, profile: WorkerStepProfile): ChunkAnswer[] {
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  if (m.weightsChanged || !haveWeights) {
    haveWeights = false;
    let off = 0;
    const values = model.weights.map((w) => {
      const len = w.shape.reduce<number>((a, b) => a * (b as number), 1);
      const t = tensorFrom(m.weights.subarray(off, off + len), w.shape as number[], "float32");
      off += len;
      return t;
    });
    try {
      model.setWeights(values);
    } finally {
      tf.dispose(values);
    }
    haveWeights = true;
  }
  profile.weights += lap();
  const answers = m.chunks.map(([start, size], i): ChunkAnswer => {
    const x = chunkTensor(m.x, start, size);
    const y = chunkTensor(m.y, start, size);
    profile.inputs += lap();
    const c = m.firstChunk + i;
    const into = { sum: m.out.sums.subarray(c * m.total, (c + 1) * m.total), norms: m.out.norms.subarray(start, start + size) };
    try {
      const r = computeChunk({ model, x, y, loss: m.loss, l2NormClip: m.l2NormClip, strategy: m.strategy, keepOutput: m.keepOutput, into });
      return { lossValue: r.lossValue, output: r.output, outputShape: r.outputShape };
    } finally {
      tf.dispose([x, y]);
      profile.compute += lap();
    }
  });
  if (m.noise) {
    const { z, from, to, gridSigma } = m.noise;
    if (init.fault !== "noise-skip") drawExactNoiseRange(gridSigma, z, from, to, noiseRng);
    if (init.fault === "noise-twice" && to > from) {
      const again = new Float64Array(to - from);
      drawExactNoiseRange(gridSigma, again, 0, again.length, noiseRng);
      for (let i = from; i < to; i++) z[i] += again[i - from];
    }
    profile.noise = lap();
  }
  if (init.fault === "throw") throw new Error(`deliberate fault in worker ${init.index}`);
  if (init.fault === "exit") process.exit(3);
  if (init.fault === "perturb" && answers.length > 0) {
    // One bit (relative size 2^-11) of one value of the first chunk's sum.
    const s = m.out.sums.subarray(m.firstChunk * m.total);
    const bits = new Uint32Array(s.buffer, s.byteOffset, 1);
    bits[0] ^= 1 << 12;
  }
  return answers;
}

function serve(model: tf.LayersModel): void {
  let seen = 0;
  const tid = currentThreadId();
  for (;;) {
    Atomics.wait(signal, SIGNAL.request, seen);
    const now = Atomics.load(signal, SIGNAL.request);
    if (now === seen) continue;
    seen = now;
    const t0 = performance.now();
    const c0 = threadClock();
    const got = receiveMessageOnPort(port);
    const profile: WorkerStepProfile = { total: 0, receive: performance.now() - t0, weights: 0, inputs: 0, compute: 0, tid };
    if (!got) {
      port.postMessage({ kind: "error", message: "signalled without a message" } satisfies StepResponse);
    } else {
      const m = got.message as StepRequest | StopRequest;
      if (m.kind === "stop") return;
      let reply: StepResponse;
      const transfer: ArrayBuffer[] = [];
      try {
        const results = step(model, m, profile);
        for (const r of results) if (r.output) transfer.push(r.output.buffer as ArrayBuffer);
        const c1 = threadClock();
        if (c0 && c1) {
          profile.cpu = c1.cpuMs - c0.cpuMs;
          profile.wait = c1.waitMs - c0.waitMs;
        }
        profile.total = performance.now() - t0;
        reply = { kind: "result", results, ms: profile.total, profile };
      } catch (e) {
        reply = { kind: "error", message: e instanceof Error ? e.message : String(e) };
        transfer.length = 0;
      }
      port.postMessage(reply, transfer);
    }
    Atomics.store(signal, SIGNAL.response, seen);
    Atomics.notify(signal, SIGNAL.response);
  }
}

async function start(): Promise<tf.LayersModel> {
  await prepareBackend({ backend: init.backend, announce: false });
  if (init.prod) tf.enableProdMode();
  // tfjs's cpu backend greets its first tensor with a banner on stderr; the calling thread has
  // shown it already if it uses cpu, so the workers stay quiet.
  if (tf.getBackend() === "cpu") (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  const model = await tf.models.modelFromJSON(init.modelTopology as tf.io.ModelJSON);
  const sizes = model.weights.map((w) => w.shape.reduce<number>((a, b) => a * (b as number), 1));
  if (sizes.length !== init.weightSizes.length || sizes.some((s, i) => s !== init.weightSizes[i])) {
    throw new Error(`the rebuilt model's weights [${sizes.join(", ")}] differ from the original's [${init.weightSizes.join(", ")}]`);
  }
  return model;
}

start().then(
  (model) => {
    parentPort?.postMessage({ kind: "ready" });
    serve(model);
    process.exit(0);
  },
  (e: unknown) => {
    parentPort?.postMessage({ kind: "error", message: e instanceof Error ? e.message : String(e) });
  },
);
