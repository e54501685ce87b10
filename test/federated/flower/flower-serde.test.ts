// Optional (not in CI): the bytes a dpkit client sends, read by Flower's own Python serde and
// np.load. Runs only when DPKIT_FLOWER_SRC points at a Flower checkout (e.g. v1.10.0) whose
// src/py imports with /usr/bin/python3 (see docs/flower.md).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createTfjsFlowerClient, runFlowerClient, startFlowerTestServer } from "../../../src/federated/flower/index.js";
import { SeededRng } from "../../../src/random/index.js";
import { projectRoot } from "../../helpers/cli.js";
import { tinyData, tinyModel } from "./helpers.js";

const flower = process.env.DPKIT_FLOWER_SRC;
const ready = Boolean(flower && existsSync(path.join(flower, "src/py/flwr")) && existsSync("/usr/bin/python3"));

describe.skipIf(!ready)("Flower's own serde reads what the client sends (DPKIT_FLOWER_SRC)", () => {
  it("get_properties_res, get_parameters_res, fit_res, evaluate_res and disconnect_res", async () => {
    const server = await startFlowerTestServer({
      minClients: 1,
      rounds: 1,
      getProperties: {},
      fitConfig: () => ({ local_epochs: 1n, lr: 0.5 }),
      clientSideFixedClipping: { clippingNorm: 0.01, noiseMultiplier: 0 },
    });
    const client = createTfjsFlowerClient({
      model: tinyModel(),
      inputShape: [4],
      train: tinyData(24, 1),
      privacy: { kind: "local", l2NormClip: 1, noiseMultiplier: 1 },
      rng: new SeededRng(1),
      allowInsecureRng: true,
    });
    await runFlowerClient({ server: server.address, client });
    const result = await server.done;
    await server.close();
    const dir = mkdtempSync(path.join(os.tmpdir(), "flower-serde-"));
    try {
      const files = result.received.map((r, i) => {
        const f = path.join(dir, `${i}-${r.instruction}.bin`);
        writeFileSync(f, r.bytes);
        return f;
      });
      const py = spawnSync("/usr/bin/python3", [path.join(projectRoot, "scripts/flower-e2e/check_serde.py"), ...files], {
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, PYTHONPATH: `${path.join(flower!, "src/py")}:${path.join(projectRoot, "scripts/flower-e2e/shims")}` },
      });
      expect(py.status, py.stderr).toBe(0);
      const rows = JSON.parse(py.stdout.trim().split("\n").pop()!) as Record<string, unknown>[];
      expect(rows.map((r) => r.kind)).toEqual(["get_properties_res", "get_parameters_res", "fit_res", "evaluate_res", "disconnect_res"]);
      for (const r of rows) expect(r.reserialized_equal).toBe(true);
      for (const r of rows.slice(0, 4)) expect(r.status).toBe("OK");
      const shapes = [
        ["float32", [4, 3]],
        ["float32", [3]],
        ["float32", [3, 2]],
        ["float32", [2]],
      ];
      expect(rows[1].arrays).toEqual(shapes);
      expect(rows[2].arrays).toEqual(shapes);
      expect(rows[2].num_examples).toBe(24);
      expect(rows[2].metrics).toEqual({ train_loss: "float", norm_bit: "bool", epsilon: "float" });
      expect(rows[3].metrics).toEqual({ accuracy: "float" });
      expect(rows[0].properties).toMatchObject({ framework: "str", num_examples: "int", model_parameters: "int" });
      expect(rows[4].reason).toBe("RECONNECT");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
