/**
 * The compiled metrics of a tfjs model (`model.compile({ metrics })`), evaluated per example on
 * the batches DP-SGD trains on, and reported under the keys tfjs uses (`acc` for "accuracy").
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../errors.js";
import type { PerExampleLoss } from "./engine/index.js";

/** A metric: its log key and a function giving one value per example (or per position). @internal */
export interface MetricSpec {
  key: string;
  fn: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
}

type MetricFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

const NAMED: Record<string, MetricFn> = {
  binaryAccuracy: tf.metrics.binaryAccuracy,
  categoricalAccuracy: tf.metrics.categoricalAccuracy,
  sparseCategoricalAccuracy: tf.metrics.sparseCategoricalAccuracy,
  binaryCrossentropy: tf.metrics.binaryCrossentropy,
  categoricalCrossentropy: tf.metrics.categoricalCrossentropy,
  meanSquaredError: tf.metrics.meanSquaredError,
  MSE: tf.metrics.meanSquaredError,
  mse: tf.metrics.meanSquaredError,
  meanAbsoluteError: tf.metrics.meanAbsoluteError,
  MAE: tf.metrics.meanAbsoluteError,
  mae: tf.metrics.meanAbsoluteError,
  meanAbsolutePercentageError: tf.metrics.meanAbsolutePercentageError,
  MAPE: tf.metrics.meanAbsolutePercentageError,
  mape: tf.metrics.meanAbsolutePercentageError,
  cosineProximity: tf.metrics.cosineProximity,
};

function lossName(loss: PerExampleLoss): string | undefined {
  if (typeof loss === "string") return loss;
  if (typeof loss === "object" && loss !== null) return loss.name;
  return undefined;
}

function fromLogits(loss: PerExampleLoss): boolean {
  return typeof loss === "object" && loss !== null && loss.fromLogits === true;
}

/**
 * Resolves compiled metric names the way tfjs-layers does for one output: "accuracy" / "acc" is
 * binary, sparse categorical or categorical accuracy depending on the loss and the output width
 * (key `acc`); "crossentropy" / "ce" likewise (key `ce`); other names from `tf.metrics` keep
 * their name as key; functions use their `name`. Logit outputs get a sigmoid / softmax first.
 * @throws DpError `invalid_parameter` naming a metric dpkit cannot evaluate
 * @internal
 */
export function resolveMetrics(metrics: unknown, loss: PerExampleLoss, outputWidth: number | null): MetricSpec[] {
  if (metrics == null) return [];
  const list: unknown[] = Array.isArray(metrics)
    ? metrics
    : typeof metrics === "object" && !(typeof metrics === "function")
      ? Object.values(metrics as object)
      : [metrics];
  const name = lossName(loss);
  const logits = fromLogits(loss);
  const binary = outputWidth === 1 || name === "binaryCrossentropy";
  const prob = (t: tf.Tensor): tf.Tensor => (!logits ? t : binary ? tf.sigmoid(t) : tf.softmax(t));
  const out: MetricSpec[] = [];
  for (const m of list.flat()) {
    if (typeof m === "function") {
      out.push({ key: m.name || "metric", fn: (a, b) => (m as MetricFn)(a, prob(b)) });
      continue;
    }
    if (typeof m !== "string")
      throw new DpError("invalid_parameter", `A compiled metric must be a name or a function. Found ${JSON.stringify(m)}.`, "metrics");
    let fn: MetricFn | undefined;
    let key = m;
    if (m === "accuracy" || m === "acc") {
      key = "acc";
      fn = binary
        ? tf.metrics.binaryAccuracy
        : name === "sparseCategoricalCrossentropy"
          ? tf.metrics.sparseCategoricalAccuracy
          : tf.metrics.categoricalAccuracy;
    } else if (m === "crossentropy" || m === "ce") {
      key = "ce";
      fn = binary
        ? tf.metrics.binaryCrossentropy
        : name === "sparseCategoricalCrossentropy"
          ? sparseCrossentropy
          : tf.metrics.categoricalCrossentropy;
    } else {
      fn = NAMED[m];
    }
    if (!fn) {
      throw new DpError(
        "invalid_parameter",
        `Compiled metric "${m}" is not supported by dpkit's private fit (supported: accuracy, acc, crossentropy, ce, ${Object.keys(NAMED).join(", ")}, or a function).`,
        "metrics",
      );
    }
    const f = fn;
    out.push({ key, fn: (a, b) => f(a, prob(b)) });
  }
  return out;
}

function sparseCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  const k = yPred.shape[yPred.rank - 1];
  const oneHot = tf.reshape(tf.oneHot(tf.cast(tf.reshape(yTrue, [-1]), "int32"), k), yPred.shape);
  return tf.metrics.categoricalCrossentropy(oneHot, yPred);
}

/** Sum over the examples of each metric (per-position values averaged within an example). @internal */
export function metricSums(specs: MetricSpec[], yTrue: tf.Tensor, yPred: tf.Tensor): number[] {
  if (specs.length === 0) return [];
  const n = yPred.shape[0] ?? 0;
  if (n === 0) return specs.map(() => 0);
  return tf.tidy(() => {
    const parts = specs.map((s) => {
      const v = s.fn(yTrue, yPred);
      const per = v.rank <= 1 ? v : tf.mean(tf.reshape(v, [n, -1]), 1);
      return tf.sum(tf.cast(per, "float32"));
    });
    const data = tf.stack(parts).dataSync();
    return Array.from(data);
  });
}
