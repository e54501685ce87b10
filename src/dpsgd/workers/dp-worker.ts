/**
 * Worker-thread side of {@link createDpWorkerPool}: rebuilds the model from its JSON topology
 * (own tfjs instance, same backend as the calling thread), then serves steps synchronously:
 * it waits on its signal array, reads the step's numbers from its shared control arrays (and a
 * configuration message when the calling thread posted one: new shared arrays, another loss…),
 * copies the weights (when they changed) and its chunks of the batch out of shared memory,
 * computes each chunk's clipped sum with the same function as the calling thread, and writes
 * the sums, norms and mean losses into shared memory. It never sees the caller's Rng; when asked
 * (`callerComputes` pools with the secure source) it draws its share of the step's exact noise
 * from its own secure source. Not part of the public API.
 * @module
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../backend/index.js";
import { drawExactNoiseRange } from "../../mechanisms/gaussian-noise.js";
import { SecureRng, SeededRng, type Rng } from "../../random/rng.js";
import { computeChunk } from "./chunks.js";
import { tensorFrom } from "./heap-view.js";
import { SIGNAL, VALUE, type SharedBatch, type StepReply, type StopRequest, type WorkerConfig, type WorkerInit } from "./protocol.js";
import { currentThreadId } from "./thread-clock.js";

const init = workerData as WorkerInit;
const signal = init.signal;
const values = init.values;
const port = init.port as MessagePort;

process.on("exit", (code) => {
  Atomics.store(signal, SIGNAL.exitCode, code);
  Atomics.store(signal, SIGNAL.dead, 1);
  Atomics.notify(signal, SIGNAL.response);
});

function chunkTensor(t: SharedBatch, start: number, size: number): tf.Tensor {
  const width = t.inner.reduce((a, b) => a * b, 1);
  // tensorFrom copies out of shared memory: the tensor must not alias a buffer the calling thread rewrites.
  return tensorFrom(t.data.subarray(start * width, (start + size) * width), [size, ...t.inner], t.dtype);
}

/** This worker's own secure source for its share of the noise; a seed is only ever set by the internal test hook. */
const noiseRng: Rng = init.testNoiseSeed === undefined ? new SecureRng() : new SeededRng(init.testNoiseSeed);

/** Whether this worker's model holds weights yet (the first step always uploads them). */
let haveWeights = false;
/** The configuration in force (the last one posted). */
let config: WorkerConfig | undefined;
/** The number of configuration messages read so far. */
let configsSeen = 0;
/** The first step's clip bound (kept by the "stale-clip" test fault). */
let firstClip: number | undefined;

/** Reads the configuration messages posted since the last step; true when one of them says stop. */
function readConfig(): boolean {
  const posted = Atomics.load(signal, SIGNAL.config);
  let stop = false;
  while (configsSeen !== posted) {
    const got = receiveMessageOnPort(port);
    if (!got) throw new Error(`signalled configuration ${posted} but only ${configsSeen} arrived`);
    configsSeen++;
    const m = got.message as WorkerConfig | StopRequest;
    if (m.kind === "stop") stop = true;
    else if (!(init.fault === "stale-config" && config !== undefined)) config = m;
  }
  return stop;
}

/** The mean losses and (when asked for) outputs of this worker's chunks; the sums and norms go into shared memory. */
function step(model: tf.LayersModel, c: WorkerConfig): { output: Float32Array; outputShape: number[] }[] {
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  const n = Atomics.load(signal, SIGNAL.n);
  const firstChunk = Atomics.load(signal, SIGNAL.firstChunk);
  const count = Atomics.load(signal, SIGNAL.chunkCount);
  firstClip ??= values[VALUE.l2NormClip];
  const l2NormClip = init.fault === "stale-clip" ? firstClip : values[VALUE.l2NormClip];
  if (Atomics.load(signal, SIGNAL.weightsChanged) === 1 || !haveWeights) {
    haveWeights = false;
    let off = 0;
    const ws = model.weights.map((w) => {
      const len = w.shape.reduce<number>((a, b) => a * (b as number), 1);
      const t = tensorFrom(c.weights.subarray(off, off + len), w.shape as number[], "float32");
      off += len;
      return t;
    });
    try {
      model.setWeights(ws);
    } finally {
      tf.dispose(ws);
    }
    haveWeights = true;
  }
  if (init.fault === "slow") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 80);
  values[VALUE.weights] = lap();
  values[VALUE.computeFrom] = performance.timeOrigin + performance.now();
  let inputs = 0;
  let compute = 0;
  const outputs: { output: Float32Array; outputShape: number[] }[] = [];
  for (let k = firstChunk; k < firstChunk + count; k++) {
    const start = k * c.chunkSize;
    const size = Math.min(c.chunkSize, n - start);
    if (!(size > 0)) throw new Error(`chunk ${k} of a batch of ${n} is empty`);
    const x = chunkTensor(c.x, start, size);
    const y = chunkTensor(c.y, start, size);
    inputs += lap();
    const into = { sum: c.out.sums.subarray(k * c.total, (k + 1) * c.total), norms: c.out.norms.subarray(start, start + size) };
    try {
      const r = computeChunk({ model, x, y, loss: c.loss, l2NormClip, strategy: c.strategy, keepOutput: c.keepOutput, into });
      c.out.losses[k] = r.lossValue;
      if (r.output && r.outputShape) outputs.push({ output: r.output, outputShape: r.outputShape });
    } finally {
      tf.dispose([x, y]);
      compute += lap();
    }
  }
  values[VALUE.computeTo] = performance.timeOrigin + performance.now();
  values[VALUE.inputs] = inputs;
  values[VALUE.compute] = compute;
  values[VALUE.noise] = NaN;
  values[VALUE.readyAt] = NaN;
  if (Atomics.load(signal, SIGNAL.hasNoise) === 1) {
    values[VALUE.readyAt] = performance.timeOrigin + performance.now();
    const z = c.z;
    if (!z) throw new Error("asked for a noise share without a noise array");
    const from = Atomics.load(signal, SIGNAL.noiseFrom);
    const to = Atomics.load(signal, SIGNAL.noiseTo);
    const gridSigma = values[VALUE.gridSigma];
    if (init.fault !== "noise-skip") drawExactNoiseRange(gridSigma, z, from, to, noiseRng);
    if (init.fault === "noise-twice" && to > from) {
      const again = new Float64Array(to - from);
      drawExactNoiseRange(gridSigma, again, 0, again.length, noiseRng);
      for (let i = from; i < to; i++) z[i] += again[i - from];
    }
    values[VALUE.noise] = lap();
  }
  if (init.fault === "throw") throw new Error(`deliberate fault in worker ${init.index}`);
  if (init.fault === "exit") process.exit(3);
  if (init.fault === "perturb" && count > 0) {
    // One bit (relative size 2^-11) of one value of the first chunk's sum.
    const s = c.out.sums.subarray(firstChunk * c.total);
    const bits = new Uint32Array(s.buffer, s.byteOffset, 1);
    bits[0] ^= 1 << 12;
  }
  return outputs;
}

function serve(model: tf.LayersModel): void {
  let seen = 0;
  const tid = currentThreadId();
  values[VALUE.tid] = tid ?? NaN;
  for (;;) {
    Atomics.wait(signal, SIGNAL.request, seen);
    const now = Atomics.load(signal, SIGNAL.request);
    if (now === seen) continue;
    seen = now;
    const t0 = performance.now();
    values[VALUE.wokeAt] = performance.timeOrigin + t0;
    let reply: StepReply | undefined;
    const transfer: ArrayBuffer[] = [];
    try {
      if (readConfig()) return;
      values[VALUE.receive] = performance.now() - t0;
      if (!config) throw new Error("signalled before any configuration");
      const outputs = step(model, config);
      if (outputs.length > 0) {
        reply = { kind: "outputs", outputs };
        for (const o of outputs) transfer.push(o.output.buffer as ArrayBuffer);
      }
    } catch (e) {
      reply = { kind: "error", message: e instanceof Error ? e.message : String(e) };
      transfer.length = 0;
    }
    const end = performance.now();
    values[VALUE.total] = end - t0;
    values[VALUE.doneAt] = performance.timeOrigin + end;
    Atomics.store(signal, SIGNAL.reply, reply ? 1 : 0);
    if (reply) port.postMessage(reply, transfer);
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
