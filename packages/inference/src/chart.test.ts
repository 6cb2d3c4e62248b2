import { describe, expect, it } from 'vitest';
import { escapeXml, intervalChartSvg } from './chart.js';

const attr = (svg: string, tag: string, name: string) =>
  [...svg.matchAll(new RegExp(`<${tag} [^>]*\\b${name}="([^"]+)"`, 'g'))].map((m) => Number(m[1]));

describe('intervalChartSvg', () => {
  const rows = [
    { label: 'base', interval: { estimate: 0.25, low: 0.1, high: 0.4 } },
    { label: 'RAG', interval: { estimate: 0.75, low: 0.6, high: 0.9 } },
    { label: 'cluster k=50', note: 'n/a (k exceeds the documents)' },
  ];

  it('draws one dot per method with a score, at its place on a 0..1 axis, and prints the numbers', () => {
    const svg = intervalChartSvg(rows, { title: 'accuracy on 100 questions', axisLabel: 'accuracy (95% interval)' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const cx = attr(svg, 'circle', 'cx');
    expect(cx).toHaveLength(2);
    // The axis runs from the label column to the value column: 0.75 sits three times as far along as 0.25.
    const ticks = [...svg.matchAll(/text-anchor="middle">([\d.]+)<\/text>/g)].map((m) => m[1]);
    expect(ticks).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
    const zero = attr(svg, 'line', 'x1')[0];
    expect(cx[1] - zero).toBeCloseTo(3 * (cx[0] - zero), 0);
    expect(svg).toContain('>0.250 [0.100, 0.400]</text>');
    expect(svg).toContain('>0.750 [0.600, 0.900]</text>');
    expect(svg).toContain('>n/a (k exceeds the documents)</text>');
    expect(svg).toContain('<title id="chart-title">accuracy on 100 questions</title>');
  });

  it('widens the axis to fit intervals outside 0..1 and draws the reference line', () => {
    const svg = intervalChartSvg([{ label: 'RG - base', interval: { estimate: -0.1, low: -0.3, high: 0.05 } }], {
      title: 'difference',
      axisLabel: 'accuracy difference',
      reference: { value: 0, label: 'no difference' },
    });
    const ticks = [...svg.matchAll(/text-anchor="middle">(-?[\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    expect(ticks).toEqual([-0.5, 0, 0.5, 1]);
    expect(svg).toContain('stroke-dasharray="4 3"');
    expect(svg).toContain('>no difference</text>');
  });

  it('escapes every text, so a method name cannot break the document', () => {
    const svg = intervalChartSvg([{ label: `a<b & "c" 'd'`, interval: { estimate: 0.5, low: 0.5, high: 0.5 } }], {
      title: 'x > y',
      axisLabel: 'score',
    });
    expect(svg).toContain('>a&lt;b &amp; &quot;c&quot; &apos;d&apos;</text>');
    expect(svg).toContain('>x &gt; y</text>');
    expect(svg).not.toContain('a<b');
    expect(escapeXml('<&>')).toBe('&lt;&amp;&gt;');
  });
});
