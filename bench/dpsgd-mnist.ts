/**
 * Long MNIST accuracy run for DP-SGD (not part of `npm run bench`: the file name has no
 * `.bench.ts`). Trains one of dpkit's MNIST models privately on all 60,000 training images
 * through `makePrivate`, with the noise calibrated for a target epsilon over the run, and
 * reports test accuracy and epsilon after every epoch, the wall time, and a final JSON line.
 *
 *   nice -n 10 npx tsx bench/dpsgd-mnist.ts --model cnn --epochs 20 --batch-size 512 \
 *     --target-epsilon 3 --learning-rate 2 --momentum 0 --l2-norm-clip 1
 *
 * `--model scatter-linear` / `--model scatter-cnn` train Tramèr & Boneh's heads on fixed ScatterNet
 * features (src/experiments/scatter-net.ts: J = 2, L = 8, 81 channels at 7×7, normalised per example
 * by GroupNorm with `--groups G` groups, default 27). The features use no data-dependent statistic,
 * so they cost no privacy; `--feature-cache DIR` (default bench/out/scatter-cache) keeps them.
 *
 * `--decay-from F` (0 < F < 1) keeps the learning rate constant for the first F of the epochs and
 * then lowers it along a half cosine to 0 by the end (set after each epoch: post-processing, no
 * privacy cost).
 *
 * `--accountant pld` runs `makePrivate` with `accounting: "pld"`: the PLD accountant (Google's
 * dp_accounting method; tighter than RDP for the same mechanism, so less noise for the same ε)
 * calibrates σ for the planned run, checks the budget and reports ε; an RDP accountant composing the
 * same events (makePrivate's `accountant` option) gives the RDP bound for the same σ (`rdpEpsilon`).
 * The run's steps, sampling and noise are otherwise the same.
 *
 * `--ema-momentum M` (0 <= M < 1) keeps an exponential moving average of the weights over the private
 * iterates (`makePrivate`'s `ema` option; `--ema-warmup` adds De et al.'s warm-up): post-processing, no
 * privacy cost. The run then reports both the final iterate's and the average's test accuracy (every
 * epoch and at the end); the model holds the average when `fit` returns. `--ema-info 0.99,0.999w,...`
 * keeps further averages of the same iterates (a trailing `w`: with warm-up), evaluated once at the end
 * and reported apart, FOR INFORMATION ONLY: picking among them by test accuracy would be selection on
 * the test set.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { ACCOUNTANT_KINDS, RdpAccountant, type AccountantKind } from "../src/accounting/index.js";
import { prepareBackend, tf } from "../src/backend/index.js";
import { makePrivate, mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { loadMnist } from "../src/data/index.js";
import { evaluatePrivateModel } from "../src/dpsgd/metrics.js";
import { WeightAverage, resolveEmaOption, type ResolvedEma } from "../src/dpsgd/ema.js";
import { groupNormalize, mnistScatterFeatures, scatterHeadModel, type ScatterHeadKind } from "../src/experiments/scatter-net.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const modelName = arg("model", "cnn");
const scatter = modelName.startsWith("scatter-") ? (modelName.slice("scatter-".length) as ScatterHeadKind) : undefined;
const kind = modelName as MnistModelKind;
const groups = Number(arg("groups", "27"));
const featureCache = arg("feature-cache", "bench/out/scatter-cache");
const epochs = Number(arg("epochs", "20"));
const batchSize = Number(arg("batch-size", "512"));
const targetEpsilon = Number(arg("target-epsilon", "3"));
const targetDelta = Number(arg("target-delta", "1e-5"));
const learningRate = Number(arg("learning-rate", "2"));
const momentum = Number(arg("momentum", "0"));
const l2NormClip = Number(arg("l2-norm-clip", "1"));
const trainSize = Number(arg("train-size", "60000"));
const testSize = Number(arg("test-size", "10000"));
const decayFrom = Number(arg("decay-from", "1"));
const accountantKind = arg("accountant", "rdp") as AccountantKind;
if (!ACCOUNTANT_KINDS.includes(accountantKind)) throw new Error(`--accountant must be rdp or pld. Found ${accountantKind}.`);
const emaArg = arg("ema-momentum", "");
const ema: ResolvedEma | undefined =
  emaArg === "" ? undefined : resolveEmaOption({ momentum: Number(emaArg), warmup: process.argv.includes("--ema-warmup") });
/** Information-only averages of the same iterates: "0.99", "0.999w" (with warm-up). */
const emaInfo: ResolvedEma[] = arg("ema-info", "")
  .split(",")
  .filter((t) => t !== "")
  .map((t) => resolveEmaOption({ momentum: Number(t.replace(/w$/, "")), warmup: t.endsWith("w") }) as ResolvedEma);
const tag = arg(
  "tag",
  `${modelName}${scatter ? `-g${groups}` : ""}-e${epochs}-b${batchSize}-lr${learningRate}-m${momentum}-c${l2NormClip}${decayFrom < 1 ? `-d${decayFrom}` : ""}${ema ? `-ema${ema.momentum}${ema.warmup ? "w" : ""}` : ""}${accountantKind === "pld" ? "-pld" : ""}`,
);

/** Learning rate for epoch e (0-based): constant, then a half cosine to 0 from epoch decayFrom·epochs. */
function learningRateAt(e: number): number {
  const start = Math.floor(decayFrom * epochs);
  if (decayFrom >= 1 || e < start) return learningRate;
  return (learningRate * (1 + Math.cos((Math.PI * (e - start + 1)) / (epochs - start + 1)))) / 2;
}

const backend = await prepareBackend({ announce: false });
let featureSeconds = 0;
/** Images, or (with --model scatter-*) their group-normalised scattering features. */
function inputs(split: "train" | "test", count?: number): { x: tf.Tensor; y: tf.Tensor; count: number } {
  if (!scatter) {
    const d = loadMnist({ split, count });
    return { x: tf.tensor(d.images, [d.count, ...mnistInputShape(kind)]), y: tf.tensor1d(d.labels, "float32"), count: d.count };
  }
  const t0 = Date.now();
  const f = mnistScatterFeatures({
    split,
    count,
    cacheDir: featureCache,
    onProgress: (n) => n % 10000 === 0 && console.log(`scattering ${split}: ${n} images, ${((Date.now() - t0) / 1000).toFixed(0)} s`),
  });
  groupNormalize(f.features, f.count, f.channels, groups);
  featureSeconds += (Date.now() - t0) / 1000;
  return { x: tf.tensor(f.features, [f.count, f.outSize, f.outSize, f.channels]), y: tf.tensor1d(f.labels, "float32"), count: f.count };
}
const { x, y } = inputs("train", trainSize);
const { x: xTest, y: yTest } = inputs("test", testSize);
if (scatter) console.log(`scattering features ready (${featureSeconds.toFixed(0)} s, cache ${featureCache})`);
const model = scatter ? scatterHeadModel(scatter) : mnistModel(kind);
const optimizer = momentum > 0 ? tf.train.momentum(learningRate, momentum) : tf.train.sgd(learningRate);
// With --accountant pld: makePrivate's own PLD accounting calibrates σ for the run it plans (Poisson
// sampling at q = B/n, epochs × ⌈n/B⌉ steps) and reports ε; an RDP accountant composes the same steps.
const rdpAccountant = accountantKind === "pld" ? new RdpAccountant() : undefined;
const priv = makePrivate(model, {
  l2NormClip,
  targetEpsilon,
  accounting: accountantKind,
  accountant: rdpAccountant,
  targetDelta,
  batchSize,
  optimizer,
  loss: "sparseCategoricalCrossentropy",
  ema,
});
const infoAverages = emaInfo.map((c) => new WeightAverage(c, model));
const start = Date.now();
const rows: {
  epoch: number;
  seconds: number;
  loss: number;
  testAccuracy: number;
  emaTestAccuracy?: number;
  epsilon: number;
  rdpEpsilon?: number;
}[] = [];
console.log(
  `${modelName}: ${model.countParams()} parameters${ema ? `, EMA momentum ${ema.momentum}${ema.warmup ? " with warm-up" : ""}` : ""}`,
);
const history = await priv.fit(x, y, {
  epochs,
  verbose: 0,
  validationData: [xTest, yTest],
  callbacks: {
    onTrainBegin: () => {
      if (accountantKind === "pld") console.log(`PLD-calibrated noise multiplier ${priv.noiseMultiplier}`);
    },
    // The information-only averages read the same private iterates, after each step.
    onBatchEnd: () => infoAverages.forEach((a) => a.update()),
    onEpochEnd: (epoch, logs) => {
      (optimizer as unknown as { setLearningRate(lr: number): void }).setLearningRate(learningRateAt(epoch + 1));
      const row = {
        epoch: epoch + 1,
        seconds: (Date.now() - start) / 1000,
        loss: logs!.loss,
        testAccuracy: logs!.val_acc ?? NaN,
        emaTestAccuracy: logs!.val_ema_acc,
        epsilon: logs!.epsilon,
        rdpEpsilon: rdpAccountant?.getEpsilon(targetDelta),
      };
      rows.push(row);
      if (epoch === 0) console.log(`noise multiplier ${priv.noiseMultiplier}, ${priv.steps} steps so far`);
      console.log(
        `epoch ${row.epoch}/${epochs}  ${row.seconds.toFixed(0)} s  loss ${row.loss.toFixed(4)}  test acc ${(100 * row.testAccuracy).toFixed(2)}%${row.emaTestAccuracy === undefined ? "" : `  EMA test acc ${(100 * row.emaTestAccuracy).toFixed(2)}%`}  epsilon ${row.epsilon.toFixed(3)}${row.rdpEpsilon === undefined ? "" : ` (PLD; RDP bound ${row.rdpEpsilon.toFixed(3)})`}`,
      );
    },
  },
});
const wall = (Date.now() - start) / 1000;
/** Test accuracy of the model's architecture with these trainable weights (a fresh copy of the model). */
function accuracyWith(weights: tf.Tensor[]): number {
  const m = scatter ? scatterHeadModel(scatter) : mnistModel(kind);
  m.trainableWeights.forEach((w, i) => w.write(weights[i]));
  const acc = evaluatePrivateModel({ model: m, x: xTest, y: yTest, loss: "sparseCategoricalCrossentropy" }).accuracy ?? NaN;
  tf.dispose(weights);
  m.dispose();
  return acc;
}
// Both from the same run: the last private iterate, and (with --ema-momentum) the average the model holds after fit.
const finalIterateTestAccuracy = accuracyWith(priv.iterateWeights());
const emaTestAccuracy = ema
  ? evaluatePrivateModel({ model, x: xTest, y: yTest, loss: "sparseCategoricalCrossentropy" }).accuracy
  : undefined;
const emaInfoRows = emaInfo.map((c, k) => ({
  momentum: c.momentum,
  warmup: c.warmup,
  testAccuracy: accuracyWith(infoAverages[k].average()),
  note: "for information only (not pre-registered; not a selection)",
}));
if (ema) {
  console.log(
    `final iterate test acc ${(100 * finalIterateTestAccuracy).toFixed(2)}%  EMA (${ema.momentum}${ema.warmup ? ", warm-up" : ""}) test acc ${(100 * (emaTestAccuracy ?? NaN)).toFixed(2)}%`,
  );
}
for (const e of emaInfoRows)
  console.log(`for information only: EMA ${e.momentum}${e.warmup ? " with warm-up" : ""} test acc ${(100 * e.testAccuracy).toFixed(2)}%`);
const result = {
  bench: "dpsgd-mnist",
  command: `npx tsx bench/dpsgd-mnist.ts ${process.argv.slice(2).join(" ")}`,
  backend: backend.name,
  model: modelName,
  groups: scatter ? groups : undefined,
  featureSeconds: scatter ? featureSeconds : undefined,
  params: model.countParams(),
  epochs,
  batchSize,
  trainSize,
  learningRate,
  decayFrom,
  momentum,
  l2NormClip,
  noiseMultiplier: priv.noiseMultiplier,
  steps: priv.steps,
  targetDelta,
  accountant: accountantKind,
  epsilon: history.epsilon,
  rdpEpsilon: rdpAccountant?.getEpsilon(targetDelta),
  testAccuracy: rows.length ? rows[rows.length - 1].testAccuracy : NaN,
  finalIterateTestAccuracy,
  emaMomentum: ema?.momentum,
  emaWarmup: ema?.warmup,
  emaTestAccuracy,
  emaUpdates: history.ema?.updates,
  emaInfo: emaInfoRows.length ? emaInfoRows : undefined,
  bestTestAccuracy: Math.max(...rows.map((r) => r.testAccuracy)),
  wallSeconds: wall,
  rows,
};
mkdirSync("bench/out", { recursive: true });
writeFileSync(`bench/out/dpsgd-mnist-${tag}.json`, JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
