/**
 * `dpkit backend`: which tfjs backend dpkit runs on here, and why.
 * @module
 */
import type { Command } from "commander";
import { printJson } from "../output.js";

/** Registers `dpkit backend`. */
export function register(program: Command): void {
  program
    .command("backend")
    .description("show which TensorFlow.js backend dpkit uses here (tensorflow, wasm or cpu)")
    .option("--force <name>", "try this backend only: tensorflow|wasm|cpu")
    .option("--json", "print one JSON object")
    .action(async (opts: { force?: string; json?: boolean }) => {
      const { prepareBackend } = await import("../../backend/index.js");
      const info = await prepareBackend({ backend: opts.force as never, announce: false });
      if (opts.json) return printJson(info);
      process.stdout.write(`backend: ${info.name}${info.forced ? " (forced)" : ""}\n`);
      for (const s of info.skipped) process.stdout.write(`skipped ${s.name}: ${s.reason}\n`);
    });
}
