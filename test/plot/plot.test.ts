import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { linePlot, savePlot } from "../../src/plot/index.js";

describe("linePlot", () => {
  const svg = linePlot({
    title: "epsilon vs steps",
    xLabel: "steps",
    yLabel: "epsilon",
    series: [
      { name: "RDP", x: [1, 10, 100, 1000], y: [0.1, 0.4, 1.2, 3] },
      { name: "PLD", x: [1, 10, 100, 1000], y: [0.08, 0.3, 1, 2.5], yError: [0.01, 0.01, 0.02, 0.05], style: "both" },
    ],
    logX: true,
    hLines: [{ y: 3, label: "target" }],
  });

  it("is a well-formed SVG with both series, labels and the reference line", () => {
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trim().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    for (const s of ["RDP", "PLD", "epsilon vs steps", "steps", "target"]) expect(svg).toContain(s);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it("writes SVG and PNG files", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "plot-"));
    await savePlot(path.join(dir, "a.svg"), svg);
    await savePlot(path.join(dir, "a.png"), svg);
    expect(readFileSync(path.join(dir, "a.svg"), "utf8")).toBe(svg);
    const png = readFileSync(path.join(dir, "a.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    await expect(savePlot(path.join(dir, "a.gif"), svg)).rejects.toThrow(/`plot` must end in .svg or .png/);
  });
});
