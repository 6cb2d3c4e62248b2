// A worker process for the tests: node child-worker.mjs BUILD_DIR MODEL_DIR QUEUE_URL [hold-ms]
// Prints "ready" once it listens and "start <jobId>" when it takes a job; with hold-ms it then waits that long
// before training, so the test can kill it mid-job.
const [build, modelDir, url, hold] = process.argv.slice(2);
const { startEncodeWorker, parseQueueUrl } = await import(`${build}/index.js`);
const { loadModel } = await import('@rg/engine');
const model = await loadModel(modelDir);
await startEncodeWorker({
  queue: parseQueueUrl(url),
  model,
  threads: 1,
  lock: { lockDurationMs: 2000, stalledIntervalMs: 1000 },
  name: `child:${process.pid}`,
  hooks: {
    async onJobStart({ jobId }) {
      process.stdout.write(`start ${jobId}\n`);
      if (hold) await new Promise((r) => setTimeout(r, Number(hold)));
    },
  },
});
process.stdout.write('ready\n');
