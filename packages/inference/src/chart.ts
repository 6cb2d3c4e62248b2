import type { Interval } from './stats.js';

/** One row of the chart: a method and its score with interval, or a note (e.g. "n/a") where it has none. */
export interface ChartRow {
  label: string;
  interval?: Interval;
  note?: string;
}

export interface IntervalChartOptions {
  title: string;
  /** Under the x axis, e.g. "accuracy (95% bootstrap interval)". */
  axisLabel: string;
  /** A dashed vertical line through this value, named at its top (e.g. the base model's score). */
  reference?: { value: number; label: string };
  /** The x range before widening to fit every interval (default [0, 1]: scores are shares of questions). */
  domain?: [number, number];
  /** Decimals of the printed values (default 3). */
  digits?: number;
}

const ROW_HEIGHT = 26;
const TOP = 52;
const WIDTH = 720;
const VALUE_WIDTH = 170;
const COLOR = '#1f5fa8';

/**
 * A horizontal dot-and-whisker chart as a standalone SVG document: one row per method, the dot at its score, the
 * whisker across its interval, the numbers printed at the right so the chart can be read without the table.
 * Hand-written (no plotting dependency for one figure); every text is XML-escaped.
 */
export function intervalChartSvg(rows: ChartRow[], options: IntervalChartOptions): string {
  const digits = options.digits ?? 3;
  const ticks = niceTicks(...domainOf(rows, options));
  const [lo, hi] = [ticks[0], ticks.at(-1)!];
  const labelWidth = Math.max(80, 16 + 7 * Math.max(...rows.map((r) => r.label.length), 0));
  const left = labelWidth;
  const right = WIDTH - VALUE_WIDTH;
  const x = (v: number) => round(left + ((v - lo) / (hi - lo)) * (right - left));
  const plotBottom = TOP + rows.length * ROW_HEIGHT;
  const height = plotBottom + 48;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${escapeXml(options.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    '<g font-family="sans-serif" font-size="12" fill="#222">',
    `<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (const t of ticks) {
    parts.push(`<line x1="${x(t)}" y1="${TOP - 6}" x2="${x(t)}" y2="${plotBottom}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${x(t)}" y="${plotBottom + 16}" text-anchor="middle">${escapeXml(formatTick(t))}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${plotBottom}" x2="${right}" y2="${plotBottom}" stroke="#555"/>`);
  parts.push(`<text x="${round((left + right) / 2)}" y="${plotBottom + 36}" text-anchor="middle">${escapeXml(options.axisLabel)}</text>`);
  if (options.reference) {
    const rx = x(options.reference.value);
    parts.push(`<line x1="${rx}" y1="${TOP - 14}" x2="${rx}" y2="${plotBottom}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${rx}" y="${TOP - 18}" text-anchor="middle" fill="#555">${escapeXml(options.reference.label)}</text>`);
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT + ROW_HEIGHT / 2;
    parts.push(`<text x="${left - 10}" y="${y + 4}" text-anchor="end">${escapeXml(row.label)}</text>`);
    const iv = row.interval;
    if (!iv) {
      // In the plot area, where its whisker would be: a reason can be longer than the value column is wide.
      parts.push(`<text x="${left + 6}" y="${y + 4}" fill="#777">${escapeXml(row.note ?? 'n/a')}</text>`);
      return;
    }
    const [x1, x2] = [x(iv.low), x(iv.high)];
    parts.push(`<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="${COLOR}" stroke-width="2"/>`);
    for (const cap of [x1, x2])
      parts.push(`<line x1="${cap}" y1="${y - 5}" x2="${cap}" y2="${y + 5}" stroke="${COLOR}" stroke-width="2"/>`);
    parts.push(`<circle cx="${x(iv.estimate)}" cy="${y}" r="4.5" fill="${COLOR}"/>`);
    const text = `${iv.estimate.toFixed(digits)} [${iv.low.toFixed(digits)}, ${iv.high.toFixed(digits)}]`;
    parts.push(`<text x="${right + 10}" y="${y + 4}">${escapeXml(text)}</text>`);
  });
  parts.push('</g>', '</svg>');
  return `${parts.join('\n')}\n`;
}

/** Text and attribute values are safe once these five characters are entities. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function domainOf(rows: ChartRow[], options: IntervalChartOptions): [number, number] {
  let [lo, hi] = options.domain ?? [0, 1];
  const values = rows.flatMap((r) => (r.interval ? [r.interval.low, r.interval.high, r.interval.estimate] : []));
  if (options.reference) values.push(options.reference.value);
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi > lo ? [lo, hi] : [lo - 0.5, hi + 0.5];
}

/** Ticks at a 1, 2, 2.5 or 5 times power-of-ten step, about five, from at or below lo to at or above hi. */
function niceTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  // Multiples of the step, rounded, so 0.1 * 3 prints as 0.3 and -0 as 0.
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toFixed(10)) || 0);
}

function formatTick(t: number): string {
  return String(Number(t.toPrecision(6)));
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
