/**
 * Types of harness.js, the launcher and static server every browser test shares (see its header for
 * the Chromium flags and why each is there).
 */
import type { BrowserContext, Page } from 'playwright-core';

/** Debian's chromium, or the executable `MRU_CHROMIUM` names. */
export declare const CHROMIUM: string;

/** Launch flags for WebGPU on SwiftShader's Vulkan (plus no sandbox, no network chatter). */
export declare const WEBGPU_ARGS: readonly string[];

/** Launch flags for a browser without WebGPU whose WebGL2 is ANGLE on SwiftShader. */
export declare const WEBGL_ARGS: readonly string[];

/** A running headless Chromium with one page, whose console and errors collect in `log`. */
export interface LaunchedChromium {
  /** The persistent context (its profile is a fresh temporary directory). */
  readonly context: BrowserContext;
  /** The context's first page. */
  readonly page: Page;
  /** The page's console messages and uncaught errors, in order. */
  readonly log: string[];
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Options of {@link launchChromium}. */
export interface LaunchOptions {
  /** The page's viewport in CSS pixels (playwright's default, 1280x720, otherwise). */
  readonly viewport?: { readonly width: number; readonly height: number };
}

/**
 * Launches headless Chromium with `args`; throws, naming the path, when there is no browser.
 *
 * @param args - Launch flags, e.g. {@link WEBGPU_ARGS}.
 * @param options - The viewport.
 * @returns The browser, its page and the page's log.
 */
export declare function launchChromium(
  args: readonly string[],
  options?: LaunchOptions,
): Promise<LaunchedChromium>;

/**
 * Opens a test page that sets `window.mruLoaded` when its module has loaded, and
 * `window.mruLoadError` when loading failed; throws that error.
 *
 * @param page - The page.
 * @param url - What to open.
 */
export declare function openTestPage(page: Page, url: string): Promise<void>;

/** A running static server: its origin (`http://127.0.0.1:PORT`) and how to stop it. */
export interface StaticServer {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** Stops the server and drops its open connections. */
  close(): Promise<void>;
}

/**
 * Serves folders over http on 127.0.0.1 and a port the OS chooses. Each root maps a URL prefix
 * (ending in `/`) to a folder; the longest matching prefix wins, a path ending in `/` serves its
 * index.html, paths are checked to stay inside their root, and every response says `no-store`.
 *
 * @param roots - `[prefix, folder]` pairs, e.g. `['/core/', 'packages/core/dist']`.
 * @returns The server, once it listens.
 */
export declare function startServer(roots: ReadonlyArray<readonly [string, string]>): Promise<StaticServer>;

/**
 * Runs a browser test's setup once, in a `beforeAll`, and returns the guard each test calls first:
 * it rethrows the setup's error, so that every test fails (a throwing `beforeAll` would mark them
 * skipped, and CI must not read a broken browser run as green).
 *
 * @param setup - Starts the server and the browser and runs the page.
 * @param timeoutMs - The hook's time limit.
 * @returns The guard.
 */
export declare function setupOrFail(setup: () => Promise<void>, timeoutMs: number): () => void;
