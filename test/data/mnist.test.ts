import { describe, expect, it } from "vitest";
import { loadMnist } from "../../src/data/mnist.js";

describe("loadMnist", () => {
  it("loads the full splits with the known sizes and label counts", () => {
    const train = loadMnist({ split: "train" });
    const test = loadMnist({ split: "test" });
    expect(train.count).toBe(60000);
    expect(test.count).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    // The MNIST test set's published label counts.
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    let max = 0;
    for (let i = 0; i < 784 * 100; i++) max = Math.max(max, train.images[i]);
    expect(max).toBe(1);
  });

  it("slices and validates", () => {
    const s = loadMnist({ split: "test", start: 10, count: 5 });
    const all = loadMnist({ split: "test" });
    expect(s.count).toBe(5);
    expect(Array.from(s.labels)).toEqual(Array.from(all.labels.slice(10, 15)));
    expect(() => loadMnist({ split: "test", count: 10001 })).toThrow(/`count`/);
    expect(() => loadMnist({ split: "val" as never })).toThrow(/`split`/);
  });
});
