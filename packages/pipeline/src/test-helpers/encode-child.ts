// A process that adds one document to a collection and is killed (SIGKILL) by process.test.ts while the document is
// being encoded: it says "encoding <jobId>" once its job is in the encode step, then keeps training.
import { openCollection } from '../collection.js';
import { loadRuntime } from '../runtime.js';
import { DOCUMENTS, until } from './fixtures.js';

const [folder, model, home] = process.argv.slice(2);
const runtime = await loadRuntime({ model, home, threads: 1 });
// Many epochs: the encode step outlasts the parent's kill.
const collection = await openCollection(folder, runtime, { create: { recipe: { epochs: 400 } } });
const { jobId } = collection.addDocument(DOCUMENTS[0]);
await until(() => collection.job(jobId)?.step === 'encode', 'the encode step');
process.stdout.write(`encoding ${jobId}\n`);
await collection.whenIdle();
process.stdout.write('done\n');
