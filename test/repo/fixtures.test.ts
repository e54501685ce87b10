// The vendored fixtures are what test/fixtures/README.md says they are: every file listed there
// exists with the recorded sha256, and every top-level file in test/fixtures (besides the README) is listed.
// A vendored copy edited in place (its provenance then no longer holds) fails here.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

const dir = path.join(projectRoot, "test", "fixtures");
const readme = readFileSync(path.join(dir, "README.md"), "utf8");

/** `file → sha256` from the README's table rows: | `name` | used by | `sha` |. */
function listed(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of text.matchAll(/^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$/gm)) rows.set(m[1], m[2]);
  return rows;
}
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("test/fixtures provenance", () => {
  const rows = listed(readme);
  it("lists every fixture file with its sha256", () => {
    // Folders (npy/) carry their own manifest.
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name !== "README.md")
      .map((e) => e.name);
    expect(files.length).toBeGreaterThan(0);
    expect([...rows.keys()].sort()).toEqual(files.sort());
  });
  for (const [file, sha] of rows) {
    it(`${file} has the recorded sha256`, () => {
      expect(sha256(path.join(dir, file))).toBe(sha);
    });
  }
  it("control: an edited copy does not match its recorded sha256", () => {
    const [file, sha] = [...rows][0];
    const edited = createHash("sha256")
      .update(Buffer.concat([readFileSync(path.join(dir, file)), Buffer.from("\n| added row |\n")]))
      .digest("hex");
    expect(edited).not.toBe(sha);
    expect(listed("| `a.md` | x | `" + "0".repeat(64) + "` |").get("a.md")).toBe("0".repeat(64));
  });
});
