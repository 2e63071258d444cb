/**
 * The Chromium both browser tests launch, and how: a browser without WebGPU whose WebGL2 is ANGLE on
 * SwiftShader. See browser.test.ts for what each flag does and why.
 */

/** Debian's chromium, or the executable `MRU_CHROMIUM` names. */
export const CHROMIUM = process.env.MRU_CHROMIUM ?? '/usr/bin/chromium';

/** Launch flags: WebGPU off, WebGL2 on SwiftShader, no sandbox (CI runs as root), no network chatter. */
export const CHROMIUM_ARGS = [
  '--disable-features=WebGPU',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
