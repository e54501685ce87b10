/**
 * Worker-thread side of {@link createWorkerPoolClients}: rebuilds the model from its JSON
 * topology, keeps a view of the shared client datasets, and runs local SGD on request.
 * Not part of the public API.
 * @module
 */
import { parentPort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { prepareBackend } from "../../backend/index.js";
import type { BackendName } from "../../backend/index.js";
// dpkit's wasm gradient kernels (CNNs train on wasm with them; registered when wasm activates).
import "../../dpsgd/kernels/register.js";
import { SeededRng } from "../../random/rng.js";
import type { ClientDataset } from "../client/local-training.js";
import { probabilityCrossEntropyLoss, softmaxCrossEntropyLoss, trainLocalUpdate } from "../client/local-training.js";

/** Init message. @internal */
export interface WorkerInit {
  kind: "init";
  backend: BackendName;
  modelTopology: unknown;
  inputShape: number[];
  localEpochs: number;
  localBatchSize: number;
  learningRate: number;
  loss: "logits" | "probabilities";
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  /** Per client: [example offset, count]. */
  spans: [number, number][];
  width: number;
}

/** Task message. @internal */
export interface WorkerTask {
  kind: "task";
  id: number;
  client: number;
  globalWeights: Float32Array;
  round: number;
  seed?: number;
}

let model: tf.LayersModel | undefined;
let init: WorkerInit | undefined;
let datasets: ClientDataset[] = [];
let ready: Promise<void> | undefined;

async function setup(m: WorkerInit): Promise<void> {
  await prepareBackend({ backend: m.backend, announce: false });
  init = m;
  model = await tf.models.modelFromJSON(m.modelTopology as tf.io.ModelJSON);
  const x = new Float32Array(m.x);
  const y = new Int32Array(m.y);
  datasets = m.spans.map(([off, count]) => ({
    x: x.subarray(off * m.width, (off + count) * m.width),
    y: y.subarray(off, off + count),
    count,
  }));
}

parentPort?.on("message", (m: WorkerInit | WorkerTask) => {
  if (m.kind === "init") {
    ready = setup(m);
    ready.then(
      () => parentPort?.postMessage({ kind: "ready" }),
      (e) => parentPort?.postMessage({ kind: "error", id: -1, message: String((e as Error)?.message ?? e) }),
    );
    return;
  }
  void (async () => {
    try {
      await ready;
      if (!model || !init) throw new Error("worker not initialised");
      const r = trainLocalUpdate({
        model,
        globalWeights: m.globalWeights,
        data: datasets[m.client],
        inputShape: init.inputShape,
        localEpochs: init.localEpochs,
        localBatchSize: init.localBatchSize,
        learningRate: init.learningRate,
        loss: init.loss === "logits" ? softmaxCrossEntropyLoss : probabilityCrossEntropyLoss,
        rng: m.seed === undefined ? undefined : new SeededRng(m.seed),
      });
      parentPort?.postMessage({ kind: "result", id: m.id, delta: r.delta, numExamples: r.numExamples, meanLoss: r.meanLoss }, [
        r.delta.buffer as ArrayBuffer,
      ]);
    } catch (e) {
      parentPort?.postMessage({ kind: "error", id: m.id, message: String((e as Error)?.message ?? e) });
    }
  })();
});
