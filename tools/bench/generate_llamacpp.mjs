// Peer for `rg bench generate --llamacpp`: llama.cpp through node-llama-cpp (its prebuilt CPU binary, no build, no
// download) on the same GGUF and prompt ids, greedy. Measured as tools/bench/generate_peer.py measures transformers:
// prefill = evaluating the prompt alone, tokens/s; decode = (N - 1) / (time to generate N tokens - prefill time),
// the first new token coming from the prefill; medians over runs after a warm-up, history cleared between requests.
// Its worker threads spin: measure on a quiet machine (see ../shared/ENVIRONMENT.md).
//
// Install once: npm i --prefix tools/bench/llamacpp --ignore-scripts
// Usage: node tools/bench/generate_llamacpp.mjs --gguf FILE --ids-file IDS.json --new 128 --runs 3 --threads 2
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    gguf: { type: 'string' },
    'ids-file': { type: 'string' },
    new: { type: 'string', default: '128' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
  },
});
if (!values.gguf || !values['ids-file']) {
  console.error('usage: node tools/bench/generate_llamacpp.mjs --gguf FILE --ids-file IDS.json [--new N] [--runs N] [--threads N]');
  process.exit(2);
}
const newTokens = Number(values.new);
const runs = Number(values.runs);
const threads = Number(values.threads);
const prompt = JSON.parse(readFileSync(values['ids-file'], 'utf8'));

const require = createRequire(join(import.meta.dirname, 'llamacpp', 'package.json'));
let entry;
try {
  entry = require.resolve('node-llama-cpp');
} catch {
  console.error('node-llama-cpp is not installed: npm i --prefix tools/bench/llamacpp --ignore-scripts');
  process.exit(3);
}
const { getLlama, LlamaLogLevel } = await import(entry);
const pkg = JSON.parse(
  readFileSync(join(entry.slice(0, entry.lastIndexOf('node-llama-cpp') + 'node-llama-cpp'.length), 'package.json'), 'utf8'),
);

const llama = await getLlama({ gpu: false, build: 'never', maxThreads: threads, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: values.gguf, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: prompt.length + newTokens + 16,
  batchSize: prompt.length,
  threads: { ideal: threads, min: threads },
});
const sequence = context.getSequence();

async function prefill() {
  await sequence.clearHistory();
  const t0 = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  return (performance.now() - t0) / 1000;
}

async function generate() {
  await sequence.clearHistory();
  const ids = [];
  const t0 = performance.now();
  // Greedy; N tokens whatever they are (an end-of-generation token does not stop it), as the other peers do.
  for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
    ids.push(token);
    if (ids.length === newTokens) break;
  }
  return { seconds: (performance.now() - t0) / 1000, ids };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

await prefill();
await generate();
const prefills = [];
for (let i = 0; i < runs; i++) prefills.push(await prefill());
const gens = [];
for (let i = 0; i < runs; i++) gens.push(await generate());
const pre = median(prefills);
const total = median(gens.map((g) => g.seconds));
console.log(
  JSON.stringify({
    peer: `llama.cpp via node-llama-cpp ${pkg.version} (CPU, prebuilt binary)`,
    prefillTokensPerSecond: prompt.length / pre,
    decodeTokensPerSecond: (newTokens - 1) / Math.max(total - pre, 1e-9),
    requestSeconds: total,
    generatedIds: gens[0].ids,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    threads,
  }),
);
await context.dispose();
await model.dispose();
await llama.dispose();
