/**
 * Plain-text and Markdown tables, and one-line metric summaries, for results printed to the terminal
 * and written to results.md. Columns are aligned on the widest cell; numbers are right-aligned.
 */
import type { Metrics } from '@mru/datasets';

/** A table: a header row and data rows of preformatted cells. */
export interface Table {
  /** Column titles. */
  readonly header: readonly string[];
  /** Rows of cells, each as long as the header. */
  readonly rows: readonly (readonly string[])[];
}

const numeric = (s: string) => /^[-+]?[\d.,]+(e[-+]?\d+)?[%sx]?$/i.test(s.trim());

function numericColumns(table: Table): boolean[] {
  return table.header.map((_, i) => {
    const cells = table.rows.map((r) => r[i] ?? '').filter((c) => c !== '-' && c !== '');
    return cells.length > 0 && cells.every(numeric);
  });
}

/** Renders a table for the terminal, with a rule under the header; numeric columns align right. */
export function formatTable(table: Table): string {
  const right = numericColumns(table);
  const widths = table.header.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join(
    '\n',
  );
}

/** Renders a table as GitHub Markdown. */
export function formatMarkdownTable(table: Table): string {
  const row = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const rule = numericColumns(table).map((right) => (right ? '---:' : '---'));
  return [row(table.header), row(rule), ...table.rows.map(row)].join('\n');
}

/** Formats a number with 4 significant digits (or `-` when absent). */
export function fmt(v: number | undefined | null, digits = 4): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '-';
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toPrecision(digits);
}

/** Formats a fraction as a percentage with one decimal. */
export function pct(v: number | undefined | null): string {
  return v === undefined || v === null || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(1)}%`;
}

/** One line: loss, mse, accuracy, sequence accuracy, whichever are present. */
export function formatMetrics(m: Metrics): string {
  const parts = [`loss ${fmt(m.loss)}`];
  if (m.mse !== undefined) parts.push(`mse ${fmt(m.mse)}`);
  if (m.accuracy !== undefined) parts.push(`accuracy ${pct(m.accuracy)}`);
  if (m.sequenceAccuracy !== undefined) parts.push(`sequence accuracy ${pct(m.sequenceAccuracy)}`);
  return parts.join(', ');
}
