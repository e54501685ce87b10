/**
 * Provenance of the committed wasm bytes: src/dpsgd/kernels/wasm/sparse-dense.wat is the source;
 * where the devDependency `wabt` is installed, it is recompiled and must give exactly the bytes of
 * the generated module (rebuild with `npm run gen:kernel-wasm`).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { WASM_BASE64 } from "../../../src/dpsgd/kernels/wasm/sparse-dense-wasm.js";
import { WASM_MODULES, compileWat, generatedModule } from "../../../scripts/gen-kernel-wasm.js";
import { hasWabt } from "../../helpers/wabt.js";

const root = path.resolve(import.meta.dirname, "../../..");

const SPARSE_DENSE_WASM = WASM_MODULES.find(([wat]) => wat.endsWith("/sparse-dense.wat"))!;

describe.skipIf(!hasWabt)("sparse-dense wasm bytes", () => {
  it("are what the .wat compiles to (and the generated module is byte-for-byte the script's output)", async () => {
    const [wat, out] = SPARSE_DENSE_WASM;
    const bytes = await compileWat(wat, readFileSync(path.join(root, wat), "utf8"));
    expect(Buffer.from(WASM_BASE64, "base64").equals(Buffer.from(bytes)), wat).toBe(true);
    expect(readFileSync(path.join(root, out), "utf8")).toBe(generatedModule(wat, bytes));
  });

  it("a changed .wat gives other bytes (the comparison can fail)", async () => {
    const [wat] = SPARSE_DENSE_WASM;
    const text = readFileSync(path.join(root, wat), "utf8").replace("(f32x4.splat (local.get $a3))", "(f32x4.splat (local.get $a2))");
    const bytes = await compileWat(wat, text);
    expect(Buffer.from(WASM_BASE64, "base64").equals(Buffer.from(bytes))).toBe(false);
  });
});
