#!/usr/bin/env node
/**
 * The `mru` executable: runs the command line through `main` and exits with its code. Kept separate
 * from `main.ts` so tests (and other programs) can import `main` without side effects.
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
