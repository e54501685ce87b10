// The API reference documents dpkit, not tfjs: `dpkit/backend` re-exports the `@tensorflow/tfjs`
// namespace as `tf`, and typedoc used to copy all of it (1,379 of 1,919 pages). Converted here
// with the project's own typedoc.json, on the backend entry point only (to stay quick).
// Negative control (run by hand, not in the suite: a second conversion costs ~40 s on two cores):
// the same conversion with `excludeExternals: false` gives 1,405 reflections, among them "tf.*";
// with the project's settings it gives 8.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Application, ReflectionKind, TSConfigReader, TypeDocReader } from "typedoc";
import { projectRoot } from "../helpers/cli.js";

async function reflectionsOfBackend(overrides: Record<string, unknown>): Promise<string[]> {
  const app = await Application.bootstrapWithPlugins(
    {
      options: path.join(projectRoot, "typedoc.json"),
      entryPoints: [path.join(projectRoot, "src/backend/index.ts")],
      logLevel: "Error",
      ...overrides,
    },
    [new TypeDocReader(), new TSConfigReader()],
  );
  const project = await app.convert();
  if (!project) throw new Error("typedoc conversion failed");
  return Object.values(project.reflections)
    .filter((r) => r.kindOf(ReflectionKind.SomeExport | ReflectionKind.SomeModule))
    .map((r) => r.getFullName().replace(/^index\./, ""));
}

describe("API reference", () => {
  it("documents dpkit/backend's own exports, not tfjs's namespace", async () => {
    const names = await reflectionsOfBackend({});
    expect(names).toContain("prepareBackend");
    expect(names.filter((n) => n.startsWith("tf."))).toEqual([]);
    expect(names.length).toBeLessThan(30);
  }, 300_000);
});
