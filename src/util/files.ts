/**
 * Atomic file writes, shared by the CLI's outputs and `savePlot`.
 * @module
 */
import { renameSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DpError } from "../errors.js";

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder, renamed into place.
 * On failure (ENOSPC, permissions) the temporary file is removed and a `DpError` names `option`.
 * @internal
 */
export function writeFileAtomic(option: string, file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw new DpError(
      "io_error",
      `\`${option}\` could not be written to ${JSON.stringify(file)}: ${code === "ENOSPC" ? "no space left on the device" : (e as Error).message}.`,
      option,
    );
  }
}
