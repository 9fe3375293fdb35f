#!/usr/bin/env node
/** Entry point: `npm start` / `voxelgate`. */
import { runCli } from './server/cli.js';

await runCli(process.argv.slice(2));
