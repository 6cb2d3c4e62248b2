import { type FetchPlan, timeStoreFetches } from './store-fetch.js';

// The store benchmark's reader process: `node store-reader.js '{"dir", "count", "k", "requests", "rank", "unleased"}'`
// times the fetches on a store another process wrote, as a server opening an existing store would, and prints the
// raw timings as one JSON line. No load guard: the parent that spawned it applied it.
const { dir, ...plan } = JSON.parse(process.argv[2]) as FetchPlan & { dir: string; unleased: boolean };
const times = await timeStoreFetches(dir, plan, (line) => process.stderr.write(`${line}\n`));
process.stdout.write(`${JSON.stringify(times)}\n`);
