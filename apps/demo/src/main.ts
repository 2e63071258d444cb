/**
 * The demo page: picks a backend (WebGPU when the browser offers an adapter, the CPU backend
 * otherwise; `?backend=cpu` or `?backend=webgpu` forces one), trains both models a step at a time
 * while redrawing the loss chart and, every few steps, the BMRU's states, then scores both on
 * sequences ten times longer.
 *
 * The page publishes its progress on `window.mruDemo` (backend, status, losses, long-test results):
 * the browser test reads it rather than scraping the DOM. URL parameters `task`, `seed` and `steps`
 * preset the controls, so a link can share a run; `batch` sets the sequences per batch.
 */
import { getBackend, setBackend } from '@mru/core';
import { drawChart, windowMeans } from './chart.js';
import {
  DEMO_MODELS,
  DEMO_TASKS,
  type DemoModelName,
  DemoSession,
  type DemoTaskName,
  LONG_FACTOR,
  type LongResult,
} from './session.js';
import { countSwitches, drawStates } from './states.js';

/** What the page exposes for tests and the curious: everything the visitor sees, as data. */
interface DemoStatus {
  backend: 'webgpu' | 'cpu' | null;
  status: 'loading' | 'ready' | 'training' | 'trained' | 'testing' | 'tested' | 'error';
  task: DemoTaskName | null;
  seed: number | null;
  losses: Record<DemoModelName, number[]>;
  long: Record<DemoModelName, LongResult> | null;
  error: string | null;
  /** Milliseconds spent training, tracing the BMRU's states, and on the long test (with read-backs). */
  millis: { train: number; states: number; long: number };
}

const COLORS: Record<DemoModelName, string> = { bmru: '#e6781e', lru: '#286ec8' };
const LABELS: Record<DemoModelName, string> = { bmru: 'BMRU', lru: 'LRU' };
/** Steps between two redraws of the state view (stepping the network through a sequence costs a few steps' time). */
const STATES_EVERY = 10;
/** Steps per point of the long test's accuracy curve: one step's accuracy over 32 sequences is too noisy to read. */
const ACCURACY_WINDOW = 20;

const demo: DemoStatus = {
  backend: null,
  status: 'loading',
  task: null,
  seed: null,
  losses: { bmru: [], lru: [] },
  long: null,
  error: null,
  millis: { train: 0, states: 0, long: 0 },
};
(window as unknown as { mruDemo: DemoStatus }).mruDemo = demo;

function byId<T extends HTMLElement | SVGSVGElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

const ui = {
  task: byId<HTMLSelectElement>('task'),
  steps: byId<HTMLInputElement>('steps'),
  seed: byId<HTMLInputElement>('seed'),
  train: byId<HTMLButtonElement>('train'),
  stop: byId<HTMLButtonElement>('stop'),
  long: byId<HTMLButtonElement>('long'),
  status: byId<HTMLSpanElement>('status'),
  loss: byId<SVGSVGElement>('loss'),
  states: byId<HTMLCanvasElement>('states'),
  switches: byId<HTMLSpanElement>('switches'),
  results: byId<HTMLElement>('results'),
  resultsBody: byId<HTMLTableSectionElement>('results-body'),
  metricHead: byId<HTMLTableCellElement>('metric-head'),
  byStepFigure: byId<HTMLElement>('by-step-figure'),
  byStep: byId<SVGSVGElement>('by-step'),
};

let session: DemoSession | null = null;
let stopRequested = false;
/** Sequences per batch, from `?batch=` (no control on the page: the default suits a visitor). */
let batchSize: number | undefined;

function say(text: string): void {
  ui.status.textContent = text;
}

function fail(e: unknown): void {
  demo.status = 'error';
  demo.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  say(`Error: ${demo.error}`);
  console.error(e);
  setBusy(false);
}

/** Lets the browser paint between steps. */
function nextFrame(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function chooseBackend(wanted: string | null): Promise<'webgpu' | 'cpu'> {
  if (wanted !== 'cpu' && 'gpu' in navigator) {
    try {
      // Loaded on demand: a browser without WebGPU never downloads the WGSL kernels.
      const { webgpuBackend } = await import('@mru/backend-webgpu');
      await setBackend(await webgpuBackend());
      return 'webgpu';
    } catch (e) {
      if (wanted === 'webgpu') throw e;
      console.warn('WebGPU is unavailable, training on the CPU backend instead:', e);
    }
  } else if (wanted === 'webgpu') {
    throw new Error('this browser has no WebGPU (navigator.gpu is missing)');
  }
  const { cpuBackend } = await import('@mru/backend-cpu');
  await setBackend(cpuBackend());
  return 'cpu';
}

function setBusy(busy: boolean): void {
  ui.train.disabled = busy;
  ui.task.disabled = busy;
  ui.steps.disabled = busy;
  ui.seed.disabled = busy;
  ui.stop.disabled = !busy;
  ui.long.disabled = busy || session === null || session.steps === 0;
}

function drawLosses(total: number): void {
  drawChart(
    ui.loss,
    DEMO_MODELS.map((m) => ({ label: LABELS[m], color: COLORS[m], values: demo.losses[m] })),
    { log: true, xLabel: 'training step', yLabel: 'loss', xMax: total },
  );
}

async function drawStateView(): Promise<void> {
  if (!session) return;
  const t0 = performance.now();
  const trace = await session.bmruStates();
  demo.millis.states += performance.now() - t0;
  drawStates(ui.states, trace);
  const n = countSwitches(trace);
  ui.switches.textContent = `(${n} ${n === 1 ? 'switch' : 'switches'} in ${trace.length} steps)`;
}

async function train(): Promise<void> {
  const task = ui.task.value as DemoTaskName;
  const steps = Number(ui.steps.value);
  const seed = Number(ui.seed.value);
  session?.dispose();
  session = new DemoSession({ task, seed, ...(batchSize ? { batch: batchSize } : {}) });
  demo.task = task;
  demo.seed = seed;
  demo.losses = { bmru: [], lru: [] };
  demo.long = null;
  demo.millis = { train: 0, states: 0, long: 0 };
  demo.status = 'training';
  ui.results.hidden = true;
  stopRequested = false;
  setBusy(true);
  const started = performance.now();
  for (let s = 0; s < steps && !stopRequested; s++) {
    const t0 = performance.now();
    const losses = await session.trainStep();
    demo.millis.train += performance.now() - t0;
    for (const m of DEMO_MODELS) demo.losses[m].push(losses[m]);
    drawLosses(steps);
    if (s % STATES_EVERY === 0) await drawStateView();
    const rate = ((s + 1) / (performance.now() - started)) * 1000;
    say(
      `Step ${s + 1} / ${steps} on ${demo.backend} (${rate.toFixed(1)} steps/s): ` +
        `loss BMRU ${losses.bmru.toPrecision(3)}, LRU ${losses.lru.toPrecision(3)}`,
    );
    await nextFrame();
  }
  await drawStateView();
  demo.status = 'trained';
  say(`${ui.status.textContent} (done)`);
  setBusy(false);
}

function percent(x: number | undefined): string {
  return x === undefined ? '–' : `${(100 * x).toFixed(1)}%`;
}

async function testLong(): Promise<void> {
  if (!session) return;
  demo.status = 'testing';
  setBusy(true);
  ui.stop.disabled = true;
  say(`Testing on sequences of ${session.options.length * LONG_FACTOR} steps…`);
  await nextFrame();
  const t0 = performance.now();
  const results = await session.evaluateLong();
  demo.millis.long = performance.now() - t0;
  demo.long = results;
  const mse = session.task.metric === 'mse';
  ui.metricHead.textContent = mse ? 'mean squared error' : 'accuracy';
  ui.resultsBody.replaceChildren(
    ...DEMO_MODELS.map((m) => {
      const r = results[m].metrics;
      const row = document.createElement('tr');
      for (const text of [
        LABELS[m],
        mse ? (r.mse ?? r.loss).toPrecision(3) : percent(r.accuracy),
        mse ? '–' : percent(r.sequenceAccuracy),
        r.loss.toPrecision(3),
      ]) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }),
  );
  ui.byStepFigure.hidden = mse;
  if (!mse) {
    drawChart(
      ui.byStep,
      DEMO_MODELS.map((m) => ({
        label: LABELS[m],
        color: COLORS[m],
        values: windowMeans(results[m].accuracyByStep, ACCURACY_WINDOW),
      })),
      { yMin: 0, yMax: 1, xStep: ACCURACY_WINDOW, xLabel: 'time step', yLabel: 'accuracy' },
    );
  }
  ui.results.hidden = false;
  demo.status = 'tested';
  say(`Tested on ${session.options.length * LONG_FACTOR}-step sequences (${demo.backend}).`);
  setBusy(false);
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const task = params.get('task');
  if (task && (DEMO_TASKS as readonly string[]).includes(task)) ui.task.value = task;
  const batch = params.get('batch');
  if (batch !== null && /^\d+$/.test(batch)) batchSize = Number(batch);
  for (const name of ['steps', 'seed'] as const) {
    const v = params.get(name);
    if (v !== null && /^\d+$/.test(v)) ui[name].value = v;
  }
  demo.backend = await chooseBackend(params.get('backend'));
  demo.status = 'ready';
  say(
    `Ready: training runs on ${demo.backend === 'webgpu' ? 'WebGPU' : 'the CPU backend'} (${getBackend().name}).`,
  );
  ui.train.addEventListener('click', () => train().catch(fail));
  ui.stop.addEventListener('click', () => {
    stopRequested = true;
  });
  ui.long.addEventListener('click', () => testLong().catch(fail));
  setBusy(false);
  drawLosses(Number(ui.steps.value));
}

start().catch(fail);
