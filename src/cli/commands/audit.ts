/**
 * `dpkit audit dpsgd|fedavg` — audit dpkit's DP-SGD (one step white-box, a one-run canary audit
 * of an MNIST training, or membership inference against a trained model) or one DP-FedAvg round,
 * and print the claimed ε next to the empirical lower bound and the attack metrics.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import {
  STEP_BREAKS,
  auditDpFedAvgRound,
  auditDpSgdStep,
  auditTrainingWithCanaries,
  CANARY_KINDS,
  membershipInference,
  rocCurve,
  rocPlot,
  type StepBreak,
} from "../../audit/index.js";
import { DpError, requireInteger, requireOneOf, requireOpenProbability, requirePositive, requireProbability } from "../../errors.js";
import { prepareBackend, tf } from "../../backend/index.js";
import { loadMnist } from "../../data/mnist.js";
import { makePrivate } from "../../dpsgd/make-private.js";
import { MNIST_MODEL_KINDS, mnistInputShape, mnistModel, type MnistModelKind } from "../../dpsgd/mnist-models.js";
import { savePlot } from "../../plot/index.js";
import { SeededRng, type Rng } from "../../random/index.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

interface AuditRaw {
  dataset: string;
  model: string;
  epsilon: string;
  delta: string;
  canaries: string;
  mode: string;
  break?: string;
  trials: string;
  samplingProbability: string;
  noisePlacement: string;
  canaryKind: string;
  trainSize?: string;
  epochs?: string;
  batchSize?: string;
  learningRate?: string;
  shadows: string;
  nonPrivate?: boolean;
  alpha: string;
  seed?: string;
  json?: boolean;
  plot?: string;
}

const MODES = ["step", "one-run", "mia"] as const;

function checkPlotPath(p: string | undefined): void {
  if (p === undefined) return;
  const ext = path.extname(p).toLowerCase();
  if (ext !== ".svg" && ext !== ".png")
    throw new DpError("invalid_parameter", `\`--plot\` must end in .svg or .png. Found ${JSON.stringify(p)}.`, "--plot");
  const dir = path.dirname(path.resolve(p));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DpError("invalid_parameter", `\`--plot\` directory does not exist: ${JSON.stringify(dir)}.`, "--plot");
}

const num = (name: string, raw: string | undefined): number | undefined => parseNumberOption(name, raw);

async function run(target: string, raw: AuditRaw): Promise<void> {
  const what = requireOneOf("target", target, ["dpsgd", "fedavg"] as const);
  const mode = requireOneOf("--mode", raw.mode, MODES);
  requireOneOf("--dataset", raw.dataset, ["mnist"] as const);
  const kind = requireOneOf("--model", raw.model, MNIST_MODEL_KINDS) as MnistModelKind;
  const epsilon = requirePositive("--epsilon", num("epsilon", raw.epsilon));
  const delta = requireOpenProbability("--delta", num("delta", raw.delta));
  const alpha = requireOpenProbability("--alpha", num("alpha", raw.alpha));
  const brk = raw.break === undefined ? undefined : (requireOneOf("--break", raw.break, STEP_BREAKS) as StepBreak);
  const seed = raw.seed === undefined ? undefined : requireInteger("--seed", num("seed", raw.seed));
  const rng: Rng | undefined = seed === undefined ? undefined : new SeededRng(seed);
  checkPlotPath(raw.plot);
  if (what === "fedavg" && mode !== "step")
    throw new DpError("invalid_parameter", "`dpkit audit fedavg` supports `--mode step` only.", "--mode");
  if (brk && mode !== "step")
    throw new DpError(
      "invalid_parameter",
      "`--break` applies to `--mode step` (the broken variants are built into the step audit).",
      "--break",
    );
  if (raw.nonPrivate && mode === "step")
    throw new DpError("invalid_parameter", "`--non-private` applies to `--mode one-run` and `--mode mia`.", "--non-private");
  const print = (s: string): void => {
    if (!raw.json) process.stdout.write(s);
  };

  if (mode === "step") {
    const trials = requireInteger("--trials", num("trials", raw.trials), { min: 100, max: 100_000_000 });
    const q = requireProbability("--sampling-probability", num("sampling-probability", raw.samplingProbability));
    const r =
      what === "dpsgd"
        ? auditDpSgdStep({ epsilon, delta, trials, samplingProbability: q, alpha, break: brk, rng })
        : auditDpFedAvgRound({
            epsilon,
            delta,
            trials,
            samplingProbability: q,
            alpha,
            break: brk,
            rng,
            noisePlacement: requireOneOf("--noise-placement", raw.noisePlacement, ["server", "client-distributed"] as const),
          });
    if (raw.plot) {
      const scores = "scoresIn" in r ? r : undefined;
      if (scores)
        await savePlot(
          raw.plot,
          rocPlot({
            title: `DP-SGD step audit (${r.break})`,
            curves: [{ name: "canary coordinate", roc: rocCurve(scores.scoresIn, scores.scoresOut) }],
          }),
        );
    }
    const summary = {
      target: what,
      mode,
      break: r.break,
      claimedEpsilon: r.claimedEpsilon,
      delta,
      noiseMultiplier: r.noiseMultiplier,
      epsilonLowerBound: r.epsilonLowerBound,
      confidence: r.confidence,
      gdpEpsilonLowerBound: r.gdpEpsilonLowerBound,
      violation: r.violation,
      threshold: r.bound.threshold,
      tprLower: r.bound.tprLower,
      fprUpper: r.bound.fprUpper,
      auc: r.metrics.auc,
      tprAt0_1PctFpr: r.metrics.tprAt0_1PctFpr,
      tprAt1PctFpr: r.metrics.tprAt1PctFpr,
      advantage: r.metrics.advantage,
      trials: r.trials,
      trialsPerSecond: r.trialsPerSecond,
      seeded: seed !== undefined,
      plot: raw.plot ?? null,
    };
    if (raw.json) return printJson(summary);
    print(
      renderTable(
        ["claimed ε", "ε lower bound", "confidence", "GDP reading", "AUC", "TPR@0.1%FPR", "TPR@1%FPR", "advantage", "trials/side"],
        [
          [
            r.claimedEpsilon,
            r.epsilonLowerBound,
            r.confidence,
            r.gdpEpsilonLowerBound,
            r.metrics.auc,
            r.metrics.tprAt0_1PctFpr,
            r.metrics.tprAt1PctFpr,
            r.metrics.advantage,
            r.trials,
          ],
        ],
      ),
    );
    print(
      `${what === "dpsgd" ? "DP-SGD step" : "DP-FedAvg round"} (${r.break === "none" ? "dpkit's real code" : `broken: ${r.break}`}), delta ${delta}: ` +
        (r.violation
          ? `VIOLATION — the lower bound ${r.epsilonLowerBound.toFixed(3)} exceeds the claimed ${r.claimedEpsilon.toFixed(3)} (at ${100 * r.confidence}% confidence)\n`
          : `consistent — lower bound ${r.epsilonLowerBound.toFixed(3)} <= claimed ${r.claimedEpsilon.toFixed(3)} (at ${100 * r.confidence}% confidence)\n`),
    );
    if (raw.plot) print(`plot written to ${raw.plot}\n`);
    return;
  }

  // Training-based modes (MNIST).
  const trainSize = requireInteger("--train-size", num("train-size", raw.trainSize) ?? (mode === "mia" ? 20_000 : 10_000), {
    min: 10,
    max: 60_000,
  });
  const epochs = requireInteger("--epochs", num("epochs", raw.epochs) ?? (mode === "mia" && raw.nonPrivate ? 30 : 5), {
    min: 1,
    max: 1000,
  });
  const batchSize = requireInteger("--batch-size", num("batch-size", raw.batchSize) ?? 256, { min: 1, max: 60_000 });
  const learningRate = requirePositive(
    "--learning-rate",
    num("learning-rate", raw.learningRate) ?? (raw.nonPrivate && mode === "mia" ? 1e-3 : 1),
  );
  const canaries = requireInteger("--canaries", num("canaries", raw.canaries), { min: 2, max: 30_000 });
  const shadows = requireInteger("--shadows", num("shadows", raw.shadows), { min: 0, max: 16 });
  if (shadows === 1)
    throw new DpError(
      "invalid_parameter",
      "`--shadows` must be 0 or at least 2 (offline LiRA fits a Gaussian to the shadows). Found 1.",
      "--shadows",
    );
  const canaryKind = requireOneOf("--canary-kind", raw.canaryKind, CANARY_KINDS);
  if (mode === "mia" && Math.min(canaries, 10_000) * (2 + shadows) > 60_000) {
    throw new DpError(
      "invalid_parameter",
      `\`--canaries\` × (2 + --shadows) must be <= 60000 training images. Found ${Math.min(canaries, 10_000) * (2 + shadows)}.`,
      "--canaries",
    );
  }
  if (mode === "one-run" && canaryKind === "mislabeled" && canaries > 10_000) {
    throw new DpError("invalid_parameter", "`--canaries` must be <= 10000 for mislabeled canaries (test images).", "--canaries");
  }
  const backend = await prepareBackend({ announce: !raw.json });
  const shape = mnistInputShape(kind);

  if (mode === "one-run") {
    const train = loadMnist({ split: "train", count: trainSize });
    const x = tf.tensor(train.images, [train.count, ...shape]);
    const source = canaryKind === "mislabeled" ? loadMnist({ split: "test", count: canaries }) : undefined;
    const r = await auditTrainingWithCanaries({
      kind: canaryKind,
      canaries,
      x,
      y: train.labels,
      numClasses: 10,
      canarySource: source ? { x: tf.tensor(source.images, [source.count, ...shape]), y: source.labels } : undefined,
      createModel: () => mnistModel(kind),
      training: {
        l2NormClip: 1,
        noiseMultiplier: raw.nonPrivate ? 0 : undefined,
        targetEpsilon: raw.nonPrivate ? undefined : epsilon,
        targetDelta: delta,
        batchSize,
        learningRate,
        epochs,
        rng,
      },
      delta,
      alpha,
      rng,
    });
    if (raw.plot)
      await savePlot(
        raw.plot,
        rocPlot({
          title: `one-run audit: ${canaryKind} canaries`,
          curves: [
            {
              name: canaryKind,
              roc: rocCurve(
                r.scores.filter((_, i) => r.coins[i]),
                r.scores.filter((_, i) => !r.coins[i]),
              ),
            },
          ],
        }),
      );
    const summary = {
      target: what,
      mode,
      model: kind,
      backend: backend.name,
      canaryKind,
      canaries,
      included: r.included,
      trainSize,
      epochs,
      batchSize,
      steps: r.steps,
      noiseMultiplier: r.noiseMultiplier,
      claimedEpsilon: r.claimedEpsilon,
      delta,
      oneRunEpsilonLowerBound: r.oneRun.epsilonLowerBound,
      oneRunCeiling: r.oneRun.ceiling,
      confidence: r.oneRun.confidence,
      guesses: r.oneRun.guesses,
      correct: r.oneRun.correct,
      clopperPearsonOverCanaries: r.thresholdBound.epsilonLowerBound,
      auc: r.metrics.auc,
      tprAt0_1PctFpr: r.metrics.tprAt0_1PctFpr,
      tprAt1PctFpr: r.metrics.tprAt1PctFpr,
      advantage: r.metrics.advantage,
      trainSeconds: r.trainSeconds,
      plot: raw.plot ?? null,
    };
    if (raw.json) return printJson(summary);
    print(
      renderTable(
        ["claimed ε", "one-run ε LB", "ceiling", "confidence", "guesses", "correct", "CP over canaries*", "AUC", "TPR@0.1%FPR"],
        [
          [
            r.claimedEpsilon,
            r.oneRun.epsilonLowerBound,
            r.oneRun.ceiling,
            r.oneRun.confidence,
            r.oneRun.guesses,
            r.oneRun.correct,
            r.thresholdBound.epsilonLowerBound,
            r.metrics.auc,
            r.metrics.tprAt0_1PctFpr,
          ],
        ],
      ),
    );
    print(
      `${canaries} ${canaryKind} canaries (${r.included} included), ${r.steps} steps of ${kind} on ${trainSize} MNIST images, ${r.trainSeconds.toFixed(1)} s on ${backend.name}.\n`,
    );
    print(
      `With ${r.oneRun.guesses} guesses one run cannot certify more than ε = ${r.oneRun.ceiling.toFixed(2)}. *Clopper–Pearson over canaries treats them as independent trials (heuristic).\n`,
    );
    if (raw.plot) print(`plot written to ${raw.plot}\n`);
    return;
  }

  // Membership inference: members are the first `canaries` training images, non-members the next
  // `canaries` training images (same distribution: test images would confound membership with the
  // train/test shift), each shadow model's training set the next `canaries` after those.
  const m = Math.min(canaries, 10_000);
  const train = loadMnist({ split: "train", count: m * (2 + shadows) });
  const slice = (from: number): { x: tf.Tensor; y: Uint8Array } => ({
    x: tf.tensor(train.images.subarray(from * 784, (from + m) * 784), [m, ...shape]),
    y: train.labels.subarray(from, from + m),
  });
  let claimed = Infinity;
  const fit = async (s: { x: tf.Tensor; y: Uint8Array }): Promise<tf.LayersModel> => {
    const model = mnistModel(kind);
    const y = tf.tensor1d(s.y, "float32");
    if (raw.nonPrivate) {
      model.compile({ optimizer: tf.train.adam(learningRate), loss: "sparseCategoricalCrossentropy" });
      await model.fit(s.x, y, { epochs, batchSize: Math.min(batchSize, 64), verbose: 0 });
    } else {
      const priv = makePrivate(model, {
        l2NormClip: 1,
        targetEpsilon: epsilon,
        targetDelta: delta,
        batchSize: Math.min(batchSize, m),
        optimizer: tf.train.sgd(learningRate),
        loss: "sparseCategoricalCrossentropy",
        rng,
        allowInsecureRng: true, // an audit's --seed: reproducible measurement, no one's data released
      });
      await priv.fit(s.x, y, { epochs, verbose: 0 });
      claimed = priv.epsilon();
    }
    y.dispose();
    return model;
  };
  const t0 = Date.now();
  const members = slice(0);
  const model = await fit(members);
  const shadowModels: tf.LayersModel[] = [];
  for (let s = 0; s < shadows; s++) shadowModels.push(await fit(slice((s + 2) * m)));
  const nonMembers = slice(m);
  const r = membershipInference({
    model,
    members,
    nonMembers,
    shadowModels: shadowModels.length >= 2 ? shadowModels : undefined,
    bootstrapResamples: 200,
    rng,
  });
  const seconds = (Date.now() - t0) / 1000;
  if (raw.plot)
    await savePlot(
      raw.plot,
      rocPlot({
        title: `membership inference (${raw.nonPrivate ? "non-private" : `DP-SGD, ε = ${claimed.toFixed(2)}`})`,
        curves: r.attacks.map((a) => ({ name: a.attack, roc: a.roc })),
      }),
    );
  const summary = {
    target: what,
    mode,
    model: kind,
    backend: backend.name,
    private: !raw.nonPrivate,
    claimedEpsilon: claimed,
    delta,
    members: m,
    nonMembers: m,
    shadows: shadowModels.length,
    epochs,
    attacks: r.attacks.map((a) => ({
      attack: a.attack,
      auc: a.auc,
      auc95: a.aucInterval ? [a.aucInterval.lower, a.aucInterval.upper] : null,
      tprAt0_1PctFpr: a.tprAt0_1PctFpr,
      tprAt1PctFpr: a.tprAt1PctFpr,
      advantage: a.advantage,
    })),
    slices: r.slices,
    seconds,
    plot: raw.plot ?? null,
  };
  if (raw.json) return printJson(summary);
  print(
    renderTable(
      ["attack", "AUC", "AUC 95% (bootstrap)", "TPR@0.1%FPR", "TPR@1%FPR", "advantage"],
      r.attacks.map((a) => [
        a.attack,
        a.auc,
        a.aucInterval ? `${a.aucInterval.lower.toFixed(3)}–${a.aucInterval.upper.toFixed(3)}` : "-",
        a.tprAt0_1PctFpr,
        a.tprAt1PctFpr,
        a.advantage,
      ]),
    ),
  );
  print(
    renderTable(
      ["class", "members", "non-members", ...r.attacks.map((a) => `AUC ${a.attack}`)],
      r.slices.map((s) => [s.label, s.members, s.nonMembers, ...r.attacks.map((a) => s.auc[a.attack])]),
    ),
  );
  print(
    `${kind} trained ${raw.nonPrivate ? "without privacy" : `with DP-SGD, claimed (${claimed.toFixed(3)}, ${delta})-DP`} on ${m} MNIST images; ${shadowModels.length} shadow models; ${seconds.toFixed(1)} s on ${backend.name}.\n`,
  );
  if (raw.plot) print(`plot written to ${raw.plot}\n`);
}

/** Registers `dpkit audit` on the program. */
export function register(program: Command): void {
  program
    .command("audit")
    .description("Audit DP-SGD or DP-FedAvg: empirical epsilon lower bounds (white-box step, one-run canaries) and membership inference.")
    .argument("<target>", '"dpsgd" or "fedavg"')
    .option("--dataset <name>", 'training data for --mode one-run and mia: "mnist"', "mnist")
    .option("--model <kind>", `architecture for --mode one-run and mia: ${MNIST_MODEL_KINDS.join(", ")}`, "mlp")
    .option("--epsilon <E>", "the claimed epsilon (noise is calibrated to it)", "2")
    .option("--delta <D>", "delta of the claim", "1e-5")
    .option(
      "--canaries <M>",
      "one-run: number of canaries (each included with probability 1/2); mia: members (and as many held-out training images as non-members)",
      "1000",
    )
    .option(
      "--mode <mode>",
      "step (white-box, one step or round), one-run (canaries in one training run), mia (membership inference)",
      "step",
    )
    .option("--break <variant>", `step: audit a broken variant: ${STEP_BREAKS.join(", ")}`)
    .option("--trials <T>", "step: trials with and without the canary", "1000000")
    .option("--sampling-probability <Q>", "step: Poisson rate q told to the accountant", "0.25")
    .option("--noise-placement <where>", "fedavg: server or client-distributed", "server")
    .option("--canary-kind <kind>", `one-run: ${CANARY_KINDS.join(", ")}`, "gradient")
    .option("--train-size <N>", "one-run and mia: training images (default 10000; mia uses --canaries)")
    .option("--epochs <E>", "one-run and mia: epochs (default 5; 30 for mia --non-private)")
    .option("--batch-size <B>", "one-run and mia: expected batch size (default 256)")
    .option("--learning-rate <L>", "one-run and mia: SGD learning rate (default 1; Adam 1e-3 for mia --non-private)")
    .option("--shadows <S>", "mia: shadow models for offline LiRA (0 or >= 2)", "2")
    .option("--non-private", "one-run and mia: train without noise (for comparison)")
    .option("--alpha <A>", "1 - confidence of the bounds", "0.05")
    .option("--seed <S>", "seed all randomness (reproducible, NOT private)")
    .option("--plot <file>", "write the ROC curve on log axes (.svg or .png)")
    .option("--json", "print one JSON object instead of tables")
    .action(async (target: string, raw: AuditRaw) => run(target, raw));
}
