/**
 * The MNIST demo population of the federated service: builds the model the clients train
 * (`mlp` or `cnn`, as in `dpkit federated`), its initial weights, a test-accuracy evaluation on
 * MNIST's test set, opens the {@link FederatedService} on its SQLite file and serves it over
 * HTTP. What `dpkit server` runs; the CLI only parses and prints.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadMnist } from "../data/mnist.js";
import { mnistInputShape, mnistModel } from "../dpsgd/mnist-models.js";
import { requireInteger, requireOneOf } from "../errors.js";
import { flattenWeights, setFlatWeights } from "../federated/client/weights.js";
import type { ServiceDpMode } from "../federated/server/service.js";
import { FederatedService } from "../federated/server/service.js";
import { serveFederatedHttp, type FederatedHttpServer, type StaticAsset } from "../federated/transport/http-server.js";

/** Options for {@link startMnistFederatedService}. */
export interface MnistFederatedServiceOptions {
  db: string;
  port?: number;
  host?: string;
  model?: "mlp" | "cnn";
  rounds: number;
  clientsPerRound: number;
  minClients: number;
  roundTimeoutMs?: number;
  selectionWindowMs?: number;
  dp: ServiceDpMode;
  noiseMultiplier?: number;
  l2NormClip?: number;
  secureAggregation?: boolean;
  targetEpsilon?: number;
  delta?: number;
  localEpochs?: number;
  batchSize?: number;
  learningRate?: number;
  minExamples?: number;
  /** Test examples for the accuracy after each round (0: no evaluation). Default 1000. */
  testExamples?: number;
  maxBodyBytes?: number;
  /** Static assets (the browser client's page and bundle). */
  assets?: Record<string, StaticAsset | (() => StaticAsset | Promise<StaticAsset>)>;
  /** Extra GET routes (e.g. the demo data at `/data/`). */
  getRoutes?: Record<string, (url: URL) => StaticAsset | undefined | Promise<StaticAsset | undefined>>;
  log?: (line: string) => void;
}

/** A running demo service. */
export interface MnistFederatedService {
  service: FederatedService;
  http: FederatedHttpServer;
  url: string;
  /** Stops HTTP and closes the database. */
  close(): Promise<void>;
}

/**
 * Starts the MNIST demo population (resuming it when `db` already holds it).
 *
 * @param options - see {@link MnistFederatedServiceOptions}
 * @returns the service, its HTTP server and URL
 * @throws {@link DpError} for bad options or a `db` holding another configuration
 * @example
 * ```ts
 * import { startMnistFederatedService } from "dpkit/experiments";
 * const demo = await startMnistFederatedService({ db: "fl.db", rounds: 3, clientsPerRound: 5, minClients: 3, dp: "none" });
 * console.log(demo.url);
 * await demo.service.whenDone();
 * await demo.close();
 * ```
 */
export async function startMnistFederatedService(options: MnistFederatedServiceOptions): Promise<MnistFederatedService> {
  const kind = requireOneOf("model", options.model ?? "mlp", ["mlp", "cnn"] as const);
  const testCount = requireInteger("testExamples", options.testExamples ?? 1000, { min: 0, max: 10_000 });
  const model = mnistModel(kind);
  const initialWeights = flattenWeights(model);
  const test = testCount > 0 ? loadMnist({ split: "test", count: testCount }) : undefined;
  const inputShape = mnistInputShape(kind);
  const evaluate = test
    ? (weights: Float32Array): Record<string, number> => {
        setFlatWeights(model, weights);
        const accuracy = tf.tidy(() => {
          const x = tf.tensor(test.images, [test.count, ...inputShape]);
          const pred = (model.predict(x) as tf.Tensor).argMax(-1);
          const y = tf.tensor1d(Array.from(test.labels), "int32");
          return pred.equal(y).sum().dataSync()[0] / test.count;
        });
        return { accuracy };
      }
    : undefined;
  const service = await FederatedService.open({
    db: options.db,
    population: "mnist",
    model: { name: kind, dimension: initialWeights.length, inputShape, numClasses: 10 },
    initialWeights,
    training: {
      localEpochs: options.localEpochs ?? 1,
      batchSize: options.batchSize ?? 32,
      learningRate: options.learningRate ?? 0.1,
      minExamples: options.minExamples ?? 1,
    },
    rounds: options.rounds,
    clientsPerRound: options.clientsPerRound,
    minClients: options.minClients,
    roundTimeoutMs: options.roundTimeoutMs,
    selectionWindowMs: options.selectionWindowMs,
    dp: options.dp,
    noiseMultiplier: options.noiseMultiplier,
    l2NormClip: options.l2NormClip,
    secureAggregation: options.secureAggregation,
    targetEpsilon: options.targetEpsilon,
    delta: options.delta,
    evaluate,
    log: options.log,
  });
  let http: FederatedHttpServer;
  try {
    http = await serveFederatedHttp(service, {
      port: options.port ?? 0,
      host: options.host ?? "127.0.0.1",
      maxBodyBytes: options.maxBodyBytes ?? Math.max(1024 * 1024, 4 * initialWeights.length + 1024 * 1024),
      status: () => service.status(),
      assets: options.assets,
      getRoutes: options.getRoutes,
    });
  } catch (e) {
    service.close();
    throw e;
  }
  return {
    service,
    http,
    url: http.url,
    close: async () => {
      await http.close();
      service.close();
    },
  };
}
