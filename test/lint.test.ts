import { describe, expect, it } from "vitest";
import { ESLint } from "eslint";
import { projectRoot } from "./helpers/cli.js";

// The randomness policy is a lint rule, so `npm test` (which runs lint) fails on a violation.
describe("lint: insecure randomness is refused in src/", () => {
  const eslint = new ESLint({ cwd: projectRoot });
  const lint = async (code: string, filePath: string) => {
    const [result] = await eslint.lintText(code, { filePath: `${projectRoot}/${filePath}` });
    return result.messages.map((m) => m.ruleId);
  };

  it("flags Math.random in src", async () => {
    expect(await lint("export const x = Math.random();\n", "src/mechanisms/bad.ts")).toContain("no-restricted-properties");
  });

  it("flags tf.randomNormal, tf.randomUniform and imported randomNormal in src", async () => {
    expect(await lint('import * as tf from "@tensorflow/tfjs";\nexport const x = tf.randomNormal([2]);\n', "src/dpsgd/bad.ts")).toContain(
      "no-restricted-properties",
    );
    expect(await lint('import * as tf from "@tensorflow/tfjs";\nexport const x = tf.randomUniform([2]);\n', "src/dpsgd/bad.ts")).toContain(
      "no-restricted-properties",
    );
    expect(
      await lint('import { randomNormal } from "@tensorflow/tfjs";\nexport const x = randomNormal([2]);\n', "src/dpsgd/bad.ts"),
    ).toContain("no-restricted-syntax");
  });

  it("flags Math.random under another name, and tfjs's random initializers (issue 12, defect 10)", async () => {
    expect(await lint("const M = Math;\nexport const x = M.random();\n", "src/mechanisms/bad.ts")).toContain("no-restricted-syntax");
    expect(await lint("const { random } = Math;\nexport const x = random();\n", "src/mechanisms/bad.ts")).toContain("no-restricted-syntax");
    expect(await lint("export const x = globalThis.Math.random();\n", "src/mechanisms/bad.ts")).toContain("no-restricted-syntax");
    expect(await lint('export const x = Math["random"]();\n', "src/mechanisms/bad.ts")).toContain("no-restricted-syntax");
    expect(
      await lint('import * as tf from "@tensorflow/tfjs";\nexport const i = tf.initializers.truncatedNormal({});\n', "src/dpsgd/bad.ts"),
    ).toContain("no-restricted-syntax");
    expect(
      await lint('import * as tf from "@tensorflow/tfjs";\nexport const i = tf.initializers.randomNormal({});\n', "src/dpsgd/bad.ts"),
    ).toContain("no-restricted-syntax");
    expect(
      await lint(
        'import * as tf from "@tensorflow/tfjs";\nexport const l = tf.layers.dense({ units: 1, kernelInitializer: "randomNormal" });\n',
        "src/dpsgd/bad.ts",
      ),
    ).toContain("no-restricted-syntax");
    // control: ordinary Math use passes
    expect(await lint("export const x = Math.max(1, Math.sqrt(2));\n", "src/mechanisms/good.ts")).toEqual([]);
  });

  it("flags random-js outside src/random", async () => {
    expect(
      await lint('import { MersenneTwister19937 } from "random-js";\nexport const e = MersenneTwister19937;\n', "src/ldp/bad.ts"),
    ).toContain("no-restricted-imports");
  });

  it("control: the secure samplers pass, and tests may use Math.random", async () => {
    expect(
      await lint('import { gaussianVector } from "../random/index.js";\nexport const x = gaussianVector(3, 1);\n', "src/dpsgd/good.ts"),
    ).toEqual([]);
    expect(await lint("export const x = Math.random();\n", "test/whatever.test.ts")).toEqual([]);
  });
});
