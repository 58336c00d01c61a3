/**
 * How `npm run bench` prints: aligned tables, `best / median` cells, ratios, and the raw samples
 * (the disk of a shared VM is noisy; the spread says how much).
 */
import { formatBytes } from '../src/util/format.js';
import type { Stats } from './lib.js';

export { formatBytes };

/** Writes a line of the report (stdout). */
export function out(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export function heading(text: string): void {
  out();
  out(`== ${text} ${'='.repeat(Math.max(0, 96 - text.length))}`);
}

/** A table: the first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

/** Seconds with a precision that suits them: `0.004`, `0.52`, `12.3`. */
export function secs(x: number): string {
  return x < 0.1 ? x.toFixed(3) : x < 10 ? x.toFixed(2) : x.toFixed(1);
}

/** `best / median` seconds. */
export function bm(s: Stats): string {
  return `${secs(s.best)} / ${secs(s.median)}`;
}

/** `a / b` as a ratio, `0.93x`. */
export function ratio(a: number, b: number): string {
  if (!(b > 0)) return '-';
  const r = a / b;
  return `${r < 0.01 ? r.toFixed(3) : r.toFixed(2)}x`;
}

/** Throughput, `1.23 GB/s`. */
export function rate(bytes: number, s: number): string {
  return s > 0 ? `${formatBytes(bytes / s)}/s` : '-';
}

export function list(xs: number[]): string {
  return xs.map(secs).join(' ');
}

export function ms(x: number): string {
  return `${Math.round(x)} ms`;
}

/** One of the targets, judged from this run's numbers. */
export interface Verdict {
  target: string;
  /**
   * null: not measured in this run (a part skipped); 'info': a measurement the issue sets no target
   * for; 'edge': the estimates disagree, the difference is inside the noise.
   */
  met: boolean | null | 'info' | 'edge';
  detail: string;
}

export function verdictLine(v: Verdict): string {
  const tag = v.met === 'info' ? 'INFO' : v.met === 'edge' ? 'EDGE' : v.met === null ? 'n/a ' : v.met ? 'MET ' : 'MISS';
  return `${tag}  ${v.target}: ${v.detail}`;
}
