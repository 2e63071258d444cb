/**
 * The switching view: the BMRU's state of every unit (rows) at every step of one sequence (columns),
 * on a canvas. A unit holds +1 (red) or -1 (teal) until an input makes it switch; a white tick
 * marks each switch. The top row shows the input (flip-flop: set-1 up, set-0 down; copy-first-input:
 * the value's sign and size), so a visitor can see which inputs trigger the switches.
 */
import type { StateTrace } from './session.js';

const CELL_H = 10;
const INPUT_H = 18;

function colour(v: number): string {
  // -1 teal, 0 light grey, +1 red (not the models' orange and blue): a diverging scale, so a unit still between the attractors shows pale.
  const t = Math.max(-1, Math.min(1, v));
  const [hr, hg, hb] = t >= 0 ? [200, 50, 60] : [20, 140, 130];
  const f = Math.abs(t);
  const [r, g, b] = [238 + (hr - 238) * f, 238 + (hg - 238) * f, 238 + (hb - 238) * f];
  return `rgb(${r | 0},${g | 0},${b | 0})`;
}

/**
 * Draws a state trace into a canvas, sized to fit its width.
 *
 * @param canvas - The target (its height is set to fit the units).
 * @param trace - States and inputs of one sequence.
 */
export function drawStates(canvas: HTMLCanvasElement, trace: StateTrace): void {
  const { length, units, states, inputs } = trace;
  const features = inputs.length / length;
  const width = canvas.clientWidth || 480;
  const scale = globalThis.devicePixelRatio ?? 1;
  const height = INPUT_H + 4 + units * CELL_H;
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const cw = width / length;
  // The input row: a bar up or down from the middle line.
  ctx.fillStyle = '#555';
  ctx.fillRect(0, INPUT_H / 2, width, 0.5);
  for (let t = 0; t < length; t++) {
    const x = inputs[t * features];
    if (x === 0) continue;
    const h = Math.min(1, Math.abs(x)) * (INPUT_H / 2 - 1);
    ctx.fillStyle = x > 0 ? colour(1) : colour(-1);
    ctx.fillRect(t * cw, x > 0 ? INPUT_H / 2 - h : INPUT_H / 2, Math.max(1, cw - 1), h);
  }
  const top = INPUT_H + 4;
  for (let u = 0; u < units; u++) {
    for (let t = 0; t < length; t++) {
      const v = states[t * units + u];
      ctx.fillStyle = colour(v);
      ctx.fillRect(t * cw, top + u * CELL_H, Math.ceil(cw), CELL_H - 1);
      if (t > 0 && Math.sign(v) !== Math.sign(states[(t - 1) * units + u])) {
        ctx.fillStyle = '#fff';
        ctx.fillRect(t * cw, top + u * CELL_H + 2, Math.max(1, cw / 4), CELL_H - 5);
      }
    }
  }
}

/**
 * Counts the switches in a trace (sign changes of a unit between consecutive steps).
 *
 * @param trace - States of one sequence.
 * @returns The number of switches over all units.
 */
export function countSwitches(trace: StateTrace): number {
  let n = 0;
  for (let t = 1; t < trace.length; t++) {
    for (let u = 0; u < trace.units; u++) {
      if (Math.sign(trace.states[t * trace.units + u]) !== Math.sign(trace.states[(t - 1) * trace.units + u]))
        n++;
    }
  }
  return n;
}
