/**
 * The import boundaries of docs/architecture.md, checked on the real source tree: the layers only
 * import downwards; random/, math/, accounting/, mechanisms/, ldp/, data/ and the tfjs-free parts
 * of federated/ never reach TensorFlow.js (directly or through another module); federated/core
 * and federated/server never reach federated/client (the trust boundary). Each rule has a
 * negative control: the same checker, given one offending file, must report it.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

type Tree = Map<string, string>; // path relative to the repository root ("src/...") -> source text

function readTree(dir: string, out: Tree = new Map()): Tree {
  for (const entry of readdirSync(path.join(projectRoot, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) readTree(rel, out);
    else if (entry.name.endsWith(".ts")) out.set(rel, readFileSync(path.join(projectRoot, rel), "utf8"));
  }
  return out;
}

/** Module specifiers a file imports or re-exports, static and dynamic (comments ignored). */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The file a relative specifier names ("./x.js" -> "dir/x.ts"), or the bare package name. */
function resolve(from: string, spec: string): string {
  if (!spec.startsWith(".")) return spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)).replace(/\.js$/, ".ts");
}

/** Every file or package reachable from `start` through imports (including `start`). */
function reachable(tree: Tree, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const f = stack.pop() as string;
    if (seen.has(f)) continue;
    seen.add(f);
    const text = tree.get(f);
    if (text !== undefined) for (const spec of importsOf(text)) stack.push(resolve(f, spec));
  }
  return seen;
}

/** The layer of a source file: an import may only go to a lower layer (or stay in its own area). */
const LAYERS: [RegExp, number, string][] = [
  [/^src\/errors\.ts$/, 0, "errors"],
  [/^src\/(math|util)\//, 0.5, "math, util"],
  [/^src\/random\//, 1, "random"],
  [/^src\/accounting\//, 2, "accounting"],
  [/^src\/(mechanisms|ldp|data|plot|backend)\//, 3, "mechanisms, ldp, data, plot, backend"],
  [/^src\/(dpsgd|attacks)\//, 4, "dpsgd, attacks"],
  [/^src\/federated\//, 5, "federated"],
  [/^src\/(experiments|audit)\//, 6, "experiments, audit"],
  [/^src\/cli\//, 7, "cli"],
  [/^src\/index\.ts$/, 8, "the root entry point"],
];
function layerOf(file: string): number | undefined {
  return LAYERS.find(([re]) => re.test(file))?.[1];
}
function areaOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts[1] : parts[1].replace(/\.ts$/, "");
}

/** Imports that run back up the layers, as "from -> to". */
function upwardImports(tree: Tree): string[] {
  const bad: string[] = [];
  for (const [file, text] of tree) {
    const lf = layerOf(file);
    if (lf === undefined) continue;
    for (const spec of importsOf(text)) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(file, spec);
      const lt = layerOf(target);
      if (lt === undefined || areaOf(target) === areaOf(file)) continue;
      if (lt >= lf && !(lt === lf && lf === 5)) bad.push(`${file} -> ${target}`);
    }
  }
  return bad;
}

const TFJS_FREE =
  /^src\/(errors\.ts|math\/|util\/|random\/|accounting\/|mechanisms\/|ldp\/|data\/|federated\/(core|compression|secagg|protocol|server)\/)/;

/** tfjs-free files that reach @tensorflow/*, as "file (via the import graph)". */
function tfjsLeaks(tree: Tree): string[] {
  const bad: string[] = [];
  for (const file of tree.keys()) {
    if (!TFJS_FREE.test(file)) continue;
    const hit = [...reachable(tree, file)].find((m) => m.startsWith("@tensorflow/"));
    if (hit) bad.push(`${file} reaches ${hit}`);
  }
  return bad;
}

/** Files of federated/core and federated/server that reach federated/client. */
function trustBoundaryLeaks(tree: Tree): string[] {
  const bad: string[] = [];
  for (const file of tree.keys()) {
    if (!/^src\/federated\/(core|server)\//.test(file)) continue;
    const hit = [...reachable(tree, file)].find((m) => m.startsWith("src/federated/client/"));
    if (hit) bad.push(`${file} reaches ${hit}`);
  }
  return bad;
}

const tree = readTree("src");

describe("import boundaries (docs/architecture.md)", () => {
  it("reads the source tree", () => {
    expect(tree.size).toBeGreaterThan(100);
    expect(importsOf(tree.get("src/accounting/index.ts") as string).length).toBeGreaterThan(5);
  });

  it("layers import only downwards", () => {
    expect(upwardImports(tree)).toEqual([]);
  });
  it("control: an accounting module importing a mechanism is reported", () => {
    const broken = new Map(tree).set("src/accounting/bad.ts", 'import { laplaceMechanism } from "../mechanisms/laplace.js";\n');
    expect(upwardImports(broken)).toEqual(["src/accounting/bad.ts -> src/mechanisms/laplace.ts"]);
  });

  it("random, math, accounting, mechanisms, ldp, data and federated core/compression/secagg never reach TensorFlow.js", () => {
    expect(tfjsLeaks(tree)).toEqual([]);
  });
  it("control: a tfjs-free module that reaches tfjs through another module is reported", () => {
    const broken = new Map(tree).set("src/ldp/bad.ts", 'export { dpGradients } from "../dpsgd/gradients.js";\n');
    expect(tfjsLeaks(broken)).toEqual(["src/ldp/bad.ts reaches @tensorflow/tfjs"]);
  });

  it("federated/core and federated/server never reach federated/client", () => {
    expect(trustBoundaryLeaks(tree)).toEqual([]);
  });
  it("control: a type-only import of client code from core is reported", () => {
    const broken = new Map(tree).set("src/federated/core/bad.ts", 'import type { ClientDataset } from "../client/local-training.js";\n');
    expect(trustBoundaryLeaks(broken)).toEqual(["src/federated/core/bad.ts reaches src/federated/client/local-training.ts"]);
  });
});
