/**
 * `dpkit demo` (what `npm start` runs): the flagship demo — the Netflix-style linkage attack
 * re-identifies "anonymised" records, the naive fix fails, and differential privacy stops it.
 * @module
 */
import type { Command } from "commander";
import { requireInteger, requirePositiveInteger } from "../../errors.js";
import { parseNumberOption, printJson } from "../output.js";
import { ProgressBar } from "../progress.js";

/** Registers `dpkit demo`. */
export function register(program: Command): void {
  program
    .command("demo")
    .description("the flagship demo: a Netflix-style linkage attack, the failed naive fix, and what DP does to it (what `npm start` runs)")
    .option("--users <n>", "number of generated users", "20000")
    .option("--targets <n>", "attacked users per scenario", "200")
    .option("--seed <n>", "seed of the (simulated, insecure) data generator", "1")
    .option("--json", "print one JSON object with every table")
    .action(async (opts: { users: string; targets: string; seed: string; json?: boolean }) => {
      const users = requirePositiveInteger("users", parseNumberOption("users", opts.users));
      const targets = requirePositiveInteger("targets", parseNumberOption("targets", opts.targets));
      const seed = requireInteger("seed", parseNumberOption("seed", opts.seed), { min: 0 });
      const { runLinkageDemo, renderLinkageDemo } = await import("../../experiments/linkage-demo.js");
      const bar = new ProgressBar({ total: 100, label: "linkage demo" });
      let lastStage = "";
      const result = runLinkageDemo({
        users,
        targets,
        seed,
        onProgress: (stage, fraction) => {
          if (stage !== lastStage && !process.stderr.isTTY && !opts.json) process.stderr.write(`dpkit demo: ${stage}\n`);
          lastStage = stage;
          bar.update(Math.round(fraction * 100), stage);
        },
      });
      bar.done();
      if (opts.json) return printJson(result);
      process.stdout.write(
        "dpkit demo — re-identifying 'anonymised' movie ratings (Narayanan & Shmatikov 2008), and stopping it with differential privacy.\n" +
          "The data are generated to match the Netflix Prize statistics (see docs/linkage.md); run `dpkit linkage --help` for every knob.\n\n",
      );
      process.stdout.write(renderLinkageDemo(result));
    });
}
