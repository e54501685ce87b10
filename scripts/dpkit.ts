// Runs the CLI from source (used by tests and during development): `npx tsx scripts/dpkit.ts --help`.
import { main } from "../src/cli/main.js";

process.exitCode = await main(process.argv);
