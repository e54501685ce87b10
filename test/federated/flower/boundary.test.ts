// The Flower test server is server-side code: it must not import the client's code (client.ts,
// privacy.ts, connection.ts), only the shared protocol pieces, so it cannot see what a client
// computes privately.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../helpers/cli.js";

const CLIENT_SIDE = ["./client.js", "./privacy.js", "./connection.js"];

function clientImports(source: string): string[] {
  return [...source.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]).filter((p) => CLIENT_SIDE.includes(p));
}

describe("flower trust boundary", () => {
  it("test-server.ts imports nothing of the client side", () => {
    const src = readFileSync(path.join(projectRoot, "src/federated/flower/test-server.ts"), "utf8");
    expect(clientImports(src)).toEqual([]);
  });
  it("control: a client import is reported", () => {
    expect(clientImports('import { clipModelUpdate } from "./privacy.js";\nimport { x } from "./npy.js";')).toEqual(["./privacy.js"]);
  });
});
