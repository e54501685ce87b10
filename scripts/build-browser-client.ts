// Builds the browser federated client (src/federated/client/browser/page.ts) into
// dist/browser/fl-client.js, which `dpkit server` serves at /fl-client.js. Run by `npm run build`.
import path from "node:path";
import { buildBrowserClientBundle } from "../src/federated/client/browser/assets.js";

const out = path.resolve(import.meta.dirname ?? ".", "../dist/browser/fl-client.js");
const js = await buildBrowserClientBundle(out);
console.log(`wrote ${out} (${(js.length / 1024).toFixed(0)} KiB)`);
