/**
 * The trust boundary is a code boundary: the server (server/), the round logic (core/), the
 * protocol and the server-side transports never import client/ — the code that sees one
 * client's raw update is out of the server's reach.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { root } from "./helpers.js";

const fed = path.join(root, "src/federated");

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every import specifier of a module that resolves into src/federated/client/. */
function clientImports(file: string, source: string): string[] {
  const specs = [...source.matchAll(/(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map(
    (m) => m[1] ?? m[2],
  );
  return specs.filter((s) => s.startsWith(".") && path.resolve(path.dirname(file), s).startsWith(path.join(fed, "client") + path.sep));
}

describe("trust boundary", () => {
  const guarded = [
    ...filesUnder(path.join(fed, "server")),
    ...filesUnder(path.join(fed, "core")),
    ...filesUnder(path.join(fed, "protocol")),
    path.join(fed, "transport/http-server.ts"),
    path.join(fed, "transport/memory.ts"),
  ];

  it("server/, core/, protocol/ and the server transports never import client/", () => {
    expect(guarded.length).toBeGreaterThan(15);
    const offenders = guarded.flatMap((f) => clientImports(f, readFileSync(f, "utf8")).map((s) => `${path.relative(root, f)} -> ${s}`));
    expect(offenders).toEqual([]);
  });

  it("negative control: the scanner catches a static or dynamic import of client/", () => {
    const f = path.join(fed, "server/service.ts");
    expect(clientImports(f, 'import { privatizeUpdate } from "../client/privatize.js";')).toHaveLength(1);
    expect(clientImports(f, 'const m = await import("../client/runtime.js");')).toHaveLength(1);
    expect(clientImports(f, 'export { x } from "../client/weights.js";')).toHaveLength(1);
    expect(clientImports(f, 'import { x } from "../core/vector.js";')).toHaveLength(0);
  });
});
