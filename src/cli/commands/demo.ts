/**
 * `dpkit demo` (what `npm start` runs): a short tour until the flagship demo exists.
 * @module
 */
import type { Command } from "commander";
import { discreteLaplace } from "../../random/index.js";
import { printJson, renderTable } from "../output.js";

/** Registers `dpkit demo`. */
export function register(program: Command): void {
  program
    .command("demo")
    .description("run the flagship demo (what `npm start` runs)")
    .option("--json", "print one JSON object")
    .action((opts: { json?: boolean }) => {
      const trueCount = 1234;
      const rows = [0.1, 0.5, 1, 2, 5].map((epsilon) => {
        const scale = 1 / epsilon;
        return { epsilon, scale, released: trueCount + discreteLaplace(scale) };
      });
      if (opts.json) {
        printJson({ trueCount, releases: rows });
        return;
      }
      process.stdout.write(`A count of ${trueCount} released with the geometric (discrete Laplace) mechanism:\n\n`);
      process.stdout.write(renderTable(["epsilon", "noise scale", "released"], rows.map((r) => [r.epsilon, r.scale, r.released])));
    });
}
