/**
 * Whether the pinned devDependency `wabt` is installed: the tests that recompile dpkit's hand-written
 * WebAssembly text and compare the committed bytes run only where it is.
 */
import { createRequire } from "node:module";

export const hasWabt: boolean = (() => {
  try {
    createRequire(import.meta.url).resolve("wabt");
    return true;
  } catch {
    return false;
  }
})();
