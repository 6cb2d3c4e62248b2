// Paired comparison of two runs' answers to the same questions (predict.json of rg infer / rg bench e2e), with the
// bootstrap rg bench e2e uses: each run's score with its 95% interval, and A minus B paired.
// Usage (after `pnpm build`): node tools/experiments/paired.mjs A/predict.json B/predict.json [seed]
import { readFileSync } from 'node:fs';
import { bootstrapMean, pairedBootstrapDifference } from '../../packages/inference/dist/index.js';

const [a, b, seedArg = '0'] = process.argv.slice(2);
if (!a || !b) throw new Error('usage: paired.mjs A/predict.json B/predict.json [seed]');
const read = (file) => new Map(JSON.parse(readFileSync(file, 'utf8')).map((p) => [p.id, p.score]));
const [x, y] = [read(a), read(b)];
const ids = [...x.keys()].filter((id) => y.has(id));
if (ids.length !== x.size || ids.length !== y.size) throw new Error(`${a} and ${b} answered different questions`);
const options = { seed: Number(seedArg) };
const [sa, sb] = [ids.map((id) => x.get(id)), ids.map((id) => y.get(id))];
const f = (iv) => `${iv.estimate.toFixed(3)} [${iv.low.toFixed(3)}, ${iv.high.toFixed(3)}]`;
console.log(
  JSON.stringify({
    questions: ids.length,
    a: f(bootstrapMean(sa, options)),
    b: f(bootstrapMean(sb, options)),
    aMinusB: f(pairedBootstrapDifference(sa, sb, options)),
  }),
);
