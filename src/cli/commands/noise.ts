/**
 * `dpkit noise`: calibrate a mechanism, print its noise (scale, standard deviation, confidence
 * interval, DpEvent) and optionally release a noisy value.
 *
 * ```
 * dpkit noise --mechanism laplace --epsilon 1 --sensitivity 1 --value 42
 * dpkit noise --mechanism gaussian --epsilon 1 --delta 1e-5 --sensitivity 1 --json
 * ```
 * @module
 */
import type { Command } from "commander";
import { requireOneOf } from "../../errors.js";
import { eventToJson } from "../../accounting/events.js";
import { createNoiseMechanism, summarizeNoiseMechanism } from "../../mechanisms/summary.js";
import { SeededRng } from "../../random/index.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

interface NoiseOptions {
  mechanism: string;
  epsilon: string;
  delta?: string;
  sensitivity: string;
  value?: string;
  level: string;
  calibration?: string;
  seed?: string;
  json?: boolean;
}

/** Registers `dpkit noise` on the program. */
export function register(program: Command): void {
  program
    .command("noise")
    .description(
      "Calibrate a noise mechanism (Laplace, Gaussian on a power-of-two grid, or geometric for counts) and release a noisy value",
    )
    .requiredOption("--mechanism <name>", "laplace | gaussian | geometric")
    .requiredOption("--epsilon <e>", "privacy parameter epsilon > 0")
    .option("--delta <d>", "privacy parameter delta in (0, 1) (gaussian only)")
    .option("--sensitivity <s>", "L1 (laplace, geometric) or L2 (gaussian) sensitivity", "1")
    .option("--value <x>", "the true value to release (omit to only show the calibration)")
    .option("--level <p>", "confidence level of the interval", "0.95")
    .option("--calibration <c>", "gaussian calibration: analytic (default) | classic")
    .option("--seed <n>", "use a seeded, INSECURE generator (reproducible demos only; no privacy)")
    .option("--json", "print one JSON object")
    .action((o: NoiseOptions) => {
      const kind = requireOneOf("mechanism", o.mechanism, ["laplace", "gaussian", "geometric"] as const);
      const epsilon = parseNumberOption("epsilon", o.epsilon) as number;
      const sensitivity = parseNumberOption("sensitivity", o.sensitivity) as number;
      const delta = parseNumberOption("delta", o.delta);
      const level = parseNumberOption("level", o.level) as number;
      const value = parseNumberOption("value", o.value);
      const seed = parseNumberOption("seed", o.seed);
      const rng = seed === undefined ? undefined : new SeededRng(seed);
      const calibration =
        o.calibration === undefined ? undefined : requireOneOf("calibration", o.calibration, ["analytic", "classic"] as const);
      const m = createNoiseMechanism({
        mechanism: kind,
        epsilon,
        delta,
        sensitivity,
        calibration,
        rng,
        allowInsecureRng: rng !== undefined,
      });
      const released = value === undefined ? undefined : m.release(value);
      const ci = m.confidenceInterval(level, released ?? 0);
      const result = {
        ...summarizeNoiseMechanism(kind, m, level, ci.halfWidth),
        secure: seed === undefined,
        ...(released === undefined ? {} : { value, released, interval: [ci.lower, ci.upper] }),
      };
      if (o.json) return printJson(result);
      const rows: [string, string | number][] = [
        ["mechanism", kind],
        ["epsilon", m.epsilon],
        ["delta", m.delta],
        ["sensitivity", m.sensitivity],
        [kind === "gaussian" ? "sigma" : "scale b", m.scale],
        ["noise std. dev.", m.standardDeviation],
        ["granularity", m.granularity],
        [`${level * 100}% half-width`, ci.halfWidth],
        ["event", eventToJson(m.event)],
        ["neighbouring relation", "yours: --sensitivity must bound the change of the value under it"],
      ];
      if (released !== undefined) {
        rows.push(["true value", value as number], ["released", released], [`${level * 100}% interval`, `[${ci.lower}, ${ci.upper}]`]);
      }
      if (seed !== undefined) rows.push(["WARNING", "seeded generator: reproducible, NOT private"]);
      process.stdout.write(renderTable(["quantity", "value"], rows, 6));
    });
}
