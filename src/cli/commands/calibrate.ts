/**
 * `dpkit calibrate` — the smallest noise multiplier for a target epsilon (DP-SGD with Poisson
 * sampling), never overspending.
 * @module
 */
import type { Command } from "commander";
import { calibrateNoiseMultiplier } from "../../accounting/calibrate.js";
import { computeDpSgdEpsilon } from "../../accounting/compute.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";
import { RELATION_TEXT, type TrainingOptionsRaw, addTrainingOptions, parseAccounting, resolveTraining } from "./epsilon.js";

/** Registers `dpkit calibrate` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command("calibrate")
    .description("smallest noise multiplier for a target epsilon (DP-SGD with Poisson sampling)")
    .option("--target-epsilon <e>", "privacy budget epsilon (> 0)")
    .option("--delta <d>", "target delta in (0, 1)")
    .option("--tolerance <r>", "relative precision of the multiplier (default 1e-6 rdp, 1e-3 pld)");
  addTrainingOptions(cmd).action(
    (
      o: TrainingOptionsRaw & {
        targetEpsilon?: string;
        delta?: string;
        accountant?: string;
        discretization?: string;
        tolerance?: string;
        json?: boolean;
      },
    ) => {
      const training = resolveTraining(o);
      const target = parseNumberOption("target-epsilon", o.targetEpsilon) as number;
      const delta = parseNumberOption("delta", o.delta) as number;
      const { kind, discretization: d } = parseAccounting(o);
      const tolerance = parseNumberOption("tolerance", o.tolerance);
      const sigma = calibrateNoiseMultiplier({
        targetEpsilon: target,
        targetDelta: delta,
        samplingProbability: training.samplingRate,
        steps: training.steps,
        accountant: kind,
        tolerance,
        valueDiscretizationInterval: d,
      });
      const achieved = computeDpSgdEpsilon({
        samplingProbability: training.samplingRate,
        noiseMultiplier: sigma,
        steps: training.steps,
        targetDelta: delta,
        accountant: kind,
        valueDiscretizationInterval: d,
      });
      if (o.json)
        return printJson({
          noiseMultiplier: sigma,
          epsilon: achieved,
          targetEpsilon: target,
          delta,
          accountant: kind,
          neighboringRelation: "addOrRemoveOne",
          samplingRate: training.samplingRate,
          steps: training.steps,
          ...(training.datasetSize !== undefined
            ? { datasetSize: training.datasetSize, batchSize: training.batchSize, epochs: training.epochs }
            : {}),
          sampling: "poisson",
        });
      const rows: (string | number)[][] = [
        ["noise multiplier", sigma],
        ["epsilon achieved", achieved],
        ["target epsilon", target],
        ["delta", delta],
        ["accountant", kind],
        ["neighbouring relation", RELATION_TEXT.addOrRemoveOne],
        ["sampling rate", training.samplingRate],
        ["steps", training.steps],
      ];
      process.stdout.write(renderTable(["", "value"], rows, 7));
      process.stdout.write("Assumes Poisson sampling (each example joins each batch independently with probability q).\n");
    },
  );
}
