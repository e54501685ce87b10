/**
 * The list of subcommands. Each file registers one command on the program.
 * @module
 */
import type { Command } from "commander";
import { register as audit } from "./audit.js";
import { register as backend } from "./backend.js";
import { register as calibrate } from "./calibrate.js";
import { register as client } from "./client.js";
import { register as demo } from "./demo.js";
import { register as epsilon } from "./epsilon.js";
import { register as federated } from "./federated.js";
import { register as flDemo } from "./fl-demo.js";
import { register as flower } from "./flower.js";
import { register as linkage } from "./linkage.js";
import { register as noise } from "./noise.js";
import { register as rappor } from "./rappor.js";
import { register as secagg } from "./secagg.js";
import { register as server } from "./server.js";
import { register as train } from "./train.js";

/** Every subcommand's registration function, in help order. */
export const COMMANDS: ((program: Command) => void)[] = [
  demo,
  epsilon,
  calibrate,
  noise,
  rappor,
  train,
  federated,
  flower,
  secagg,
  server,
  client,
  flDemo,
  linkage,
  audit,
  backend,
];
