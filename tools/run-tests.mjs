#!/usr/bin/env node
// Runs every project's tests through Nx, then prints one closing line for the whole workspace:
// "tests: N passed, N failed, N skipped" (from each project's vitest JSON report).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const projects = ['packages', 'apps', 'examples'].flatMap((dir) => readdirSafe(join(root, dir)).map((name) => join(root, dir, name)));
for (const p of projects) rmSync(join(p, '.vitest'), { recursive: true, force: true });

// The tests make their folders under os.tmpdir() (stores, models' copies, CLI runs) and many leave them there: the run
// gets a temporary folder of its own (TMPDIR, which every test process inherits), removed at the end, so that
// running the tests again and again does not fill /tmp.
const scratch = mkdtempSync(join(tmpdir(), 'rg-tests-'));
const nx = spawnSync('pnpm', ['exec', 'nx', 'run-many', '-t', 'test', '--output-style=stream', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: scratch },
});
rmSync(scratch, { recursive: true, force: true });

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const p of projects) {
  const report = join(p, '.vitest', 'results.json');
  if (!existsSync(report)) {
    // Only a project with tests must leave a report (examples/demo-pipeline, a pipeline of targets, has none).
    if (hasTests(p)) missing.push(p.slice(root.length + 1));
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
}
if (missing.length > 0) console.log(`no test report from: ${missing.join(', ')}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(nx.status ?? 1);

function hasTests(project) {
  const file = join(project, 'package.json');
  return existsSync(file) && Boolean(JSON.parse(readFileSync(file, 'utf8')).scripts?.test);
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
