import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit rappor", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dpkit-rappor-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const f = (name: string): string => path.join(dir, name);

  it("runs the reference pipeline: encode | sum-bits, hash-candidates, decode --json", () => {
    writeFileSync(f("params.csv"), "k,h,m,p,q,f\n16,2,8,0.5,0.75,0.5\n");
    const lines = ["client,value"];
    const plan: [string, number][] = [
      ["alpha", 3000],
      ["beta", 1500],
      ["gamma", 500],
    ];
    let id = 0;
    for (const [v, n] of plan) for (let i = 0; i < n; i++) lines.push(`c${id++},${v}`);
    writeFileSync(f("values.csv"), lines.join("\n") + "\n");
    const enc = runCli(["rappor", "encode", "--params", f("params.csv"), "--input", f("values.csv"), "--seed", "7"]);
    // a seeded run is not private and says so on stderr, once (issue 12, defect 1)
    expect(enc.stderr).toBe("dpkit: WARNING: --seed makes the randomness predictable: these reports are NOT private (simulation only).\n");
    expect(enc.code).toBe(0);
    const reportLines = enc.stdout.trim().split("\n");
    expect(reportLines[0]).toBe("client,cohort,bloom,prr,irr");
    expect(reportLines).toHaveLength(5001);
    expect(reportLines[1]).toMatch(/^c0,[0-7],,,[01]{16}$/); // bloom and prr are never written by default
    writeFileSync(f("reports.csv"), enc.stdout);

    const sum = runCli(["rappor", "sum-bits", "--params", f("params.csv"), "--reports", f("reports.csv")]);
    expect(sum.code).toBe(0);
    const countRows = sum.stdout.trim().split("\n");
    expect(countRows).toHaveLength(8);
    expect(countRows.map((r) => Number(r.split(",")[0])).reduce((a, b) => a + b, 0)).toBe(5000);
    writeFileSync(f("counts.csv"), sum.stdout);

    writeFileSync(f("candidates.txt"), "alpha\nbeta\ngamma\ndelta\nepsilon\n");
    const hc = runCli(["rappor", "hash-candidates", "--params", f("params.csv"), "--candidates", f("candidates.txt")]);
    expect(hc.code).toBe(0);
    expect(hc.stdout.trim().split("\n")).toHaveLength(5);
    expect(hc.stdout.split("\n")[0].split(",")).toHaveLength(1 + 8 * 2);
    writeFileSync(f("map.csv"), hc.stdout);

    const dec = runCli(["rappor", "decode", "--params", f("params.csv"), "--counts", f("counts.csv"), "--map", f("map.csv"), "--json"]);
    expect(dec.code).toBe(0);
    const res = JSON.parse(dec.stdout);
    expect(res.numReports).toBe(5000);
    const names = res.detected.map((d: { candidate: string }) => d.candidate);
    expect(names[0]).toBe("alpha");
    expect(names).not.toContain("delta");
    expect(names).not.toContain("epsilon");
    const alpha = res.detected[0];
    expect(Math.abs(alpha.estimate - 3000)).toBeLessThan(4 * alpha.standardError);
    expect(res.privacy.permanentEpsilon).toBeCloseTo(4 * Math.log(3), 10);

    const table = runCli(["rappor", "decode", "--params", f("params.csv"), "--counts", f("counts.csv"), "--map", f("map.csv")]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("candidate");
    expect(table.stdout).toMatch(/Privacy: epsilon 4\.3944/);
  });

  it("reads the reference simulator's client,cohort,value input and reproduces its PRRs", () => {
    writeFileSync(f("p32.csv"), "k,h,m,p,q,f\n32,1,64,0.25,0.75,0.5\n");
    writeFileSync(f("true_values.csv"), "client,cohort,value\nc1,1,v16\nc2,2,v58\n");
    const r = runCli([
      "rappor",
      "encode",
      "--params",
      f("p32.csv"),
      "--input",
      f("true_values.csv"),
      "--client-name-secret",
      "--include-private",
    ]);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(","));
    // google/rappor doc/data-flow.md, case_reports.csv.
    expect(rows[0].slice(0, 4)).toEqual(["c1", "1", "00000000000000000010000000000000", "11011100100000000010000101100001"]);
    expect(rows[1].slice(0, 4)).toEqual(["c2", "2", "00000000000010000000000000000000", "10011001001000110001000001000000"]);
  });

  it("keeps one client's state in a SQLite store across runs", () => {
    const a = runCli(["rappor", "encode", "--store", f("client.db"), "--one-time", "--include-private", "x"]);
    const b = runCli(["rappor", "encode", "--store", f("client.db"), "--one-time", "--include-private", "x"]);
    expect(a.code).toBe(0);
    const rowA = a.stdout.trim().split("\n")[1].split(",");
    const rowB = b.stdout.trim().split("\n")[1].split(",");
    expect(rowB[1]).toBe(rowA[1]); // cohort
    expect(rowB[3]).toBe(rowA[3]); // PRR memoised
    expect(rowB[4]).toBe(rowA[4]); // one-time RAPPOR reports the PRR
    expect(readFileSync(f("client.db")).length).toBeGreaterThan(0);
  });

  it("simulate prints true versus estimated; bad settings are one-line errors", () => {
    const sim = runCli(["rappor", "simulate", "--candidates", "20", "--reports", "100000", "--json"]);
    expect(sim.code).toBe(0);
    const res = JSON.parse(sim.stdout);
    expect(res.truth.v1).toBeGreaterThan(0);
    expect(res.detected[0].candidate).toMatch(/^v\d+$/);
    const bad = runCli(["rappor", "privacy", "--num-hashes", "20", "--num-bits", "8"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/numHashes/);
    const pq = runCli(["rappor", "privacy", "--prob-irr0", "0.8"]);
    expect(pq.code).toBe(2);
    expect(pq.stderr).toMatch(/`probIrr0` \(p\) must be < `probIrr1` \(q\)/);
  });

  it("client secrets: an empty or short --secret is refused; --seed warns and never touches a --store (issue 12, defect 1)", async () => {
    const { runCliInProcess } = await import("../helpers/cli.js");
    const empty = await runCliInProcess(["rappor", "encode", "hello", "--secret", "", "--cohort", "3", "--include-private"]);
    expect(empty.code).toBe(2);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toMatch(/^dpkit: `secret` must be at least 16 bytes/);
    const store = f("never-created.db");
    const seededStore = await runCliInProcess(["rappor", "encode", "hello", "--seed", "1", "--store", store]);
    expect(seededStore.code).toBe(2);
    expect(seededStore.stderr).toMatch(/--seed.*--store/);
    expect(existsSync(store)).toBe(false);
    // control: a long secret works, and two runs give the same PRR (that is what a secret is for)
    const secret = "a secret of more than sixteen bytes";
    const a = await runCliInProcess(["rappor", "encode", "hello", "--secret", secret, "--cohort", "3", "--include-private"]);
    const b = await runCliInProcess(["rappor", "encode", "hello", "--secret", secret, "--cohort", "3", "--include-private"]);
    expect(a.code).toBe(0);
    expect(a.stderr).toBe("");
    expect(a.stdout.split("\n")[1].split(",")[3]).toBe(b.stdout.split("\n")[1].split(",")[3]);
  });
});
