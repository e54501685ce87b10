import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

describe("dpkit server: bad input is one line on stderr and exit code 2", () => {
  it.each([
    [["server"], /--db/],
    [["server", "--db", "/nonexistent-dir-dpkit/x.db"], /existing folder/],
    [["server", "--db", "x.db", "--dp", "none", "--secure-aggregation"], /--secure-aggregation/],
    [
      ["server", "--db", "x.db", "--dp", "client", "--secure-aggregation", "--min-clients", "1", "--clients-per-round", "3"],
      /--min-clients/,
    ],
    [["server", "--db", "x.db", "--clients-per-round", "3", "--min-clients", "4"], /--min-clients/],
    [["server", "--db", "x.db", "--dp", "none", "--target-epsilon", "1"], /--target-epsilon/],
    [["server", "--db", "x.db", "--port", "70000"], /--port/],
  ])(
    "%j",
    (args, message) => {
      const r = runCli(args as string[], {}, 60_000);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(message as RegExp);
      expect(r.stdout).toBe("");
    },
    60_000,
  );
});

describe("dpkit federated --service", () => {
  it("runs the MNIST simulation on the service's code path with secure aggregation and reports epsilon per round", () => {
    const r = runCli(
      [
        "federated",
        "--service",
        "--clients",
        "4",
        "--clients-per-round",
        "3",
        "--min-clients",
        "2",
        "--rounds",
        "2",
        "--train-size",
        "400",
        "--test-size",
        "100",
        "--local-epochs",
        "1",
        "--dp",
        "client",
        "--secure-aggregation",
        "--noise-multiplier",
        "1",
        "--json",
      ],
      {},
      240_000,
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      aggregator: string;
      rounds: number;
      history: { epsilon: number; accepted: number }[];
      epsilon: number;
    };
    expect(out.aggregator).toBe("service(client, secure aggregation)");
    expect(out.rounds).toBe(2);
    expect(out.history[1].epsilon).toBeGreaterThan(out.history[0].epsilon);
    expect(out.history.every((h) => h.accepted >= 2)).toBe(true);
  }, 240_000);

  it("refuses --min-clients without --service", () => {
    const r = runCli(["federated", "--min-clients", "2"], {}, 60_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--service/);
  }, 60_000);
});
