/**
 * `dpkit calibrate` — not built yet (see the issue for this area).
 * @module
 */
import type { Command } from "commander";

/** Registers `dpkit calibrate` on the program. */
export function register(_program: Command): void {
  // Filled in by the area that owns this command.
}
