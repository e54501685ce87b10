import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("backend selection", () => {
  it("falls back to wasm here (tfjs-node cannot download its binary) and says why", () => {
    const r = runCli(["backend", "--json"], { DPKIT_BACKEND: "" });
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(["tensorflow", "wasm"]).toContain(info.name);
    if (info.name === "wasm") expect(info.skipped.map((s: { name: string }) => s.name)).toEqual(["tensorflow"]);
  });

  it("DPKIT_BACKEND forces cpu", () => {
    const r = runCli(["backend", "--json"], { DPKIT_BACKEND: "cpu" });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: "cpu", forced: true });
  });

  it("announces the choice once on stderr", async () => {
    const { prepareBackend } = await import("../../src/backend/index.js");
    const writes: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    (process.stderr as { write: unknown }).write = (s: string) => {
      writes.push(String(s));
      return true;
    };
    try {
      const a = await prepareBackend({ backend: "cpu" });
      const b = await prepareBackend();
      expect(a.name).toBe("cpu");
      expect(b.name).toBe("cpu");
    } finally {
      (process.stderr as { write: unknown }).write = orig;
    }
    expect(writes.filter((w) => w.startsWith("dpkit: tfjs backend"))).toHaveLength(1);
  });

  it("a forced backend that cannot load is a DpError naming it", async () => {
    const { prepareBackend } = await import("../../src/backend/index.js");
    let ok = true;
    try {
      await import("@tensorflow/tfjs-node" as string);
    } catch {
      ok = false;
    }
    if (ok) {
      // tfjs-node present: forcing it must work (the refusal cannot be provoked on this machine).
      await expect(prepareBackend({ backend: "tensorflow", announce: false })).resolves.toMatchObject({ name: "tensorflow", forced: true });
    } else {
      await expect(prepareBackend({ backend: "tensorflow", announce: false })).rejects.toThrow(
        /No tfjs backend could be loaded: tensorflow:/,
      );
    }
  });
});
