#!/usr/bin/env node
// The fault suite of issue 17: every case in cases.json names the vitest tests that reproduce it.
// The tests live in the packages they exercise, so `pnpm test` (CI) runs them with everything else;
// this script runs only them, project by project, and first checks that every listed test exists.
//
//   node tools/faults/run.mjs           check the catalogue, then run the fault tests
//   node tools/faults/run.mjs --check   only check the catalogue (no tests run)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const { cases } = JSON.parse(readFileSync(join(import.meta.dirname, 'cases.json'), 'utf8'));

/** Listed tests whose file is missing or does not hold the title (the catalogue went stale). */
export function missingTests() {
  const missing = [];
  for (const c of cases) {
    for (const { file, test } of c.tests) {
      const path = join(root, file);
      if (!existsSync(path) || !readFileSync(path, 'utf8').includes(test)) missing.push(`${c.id}: ${file} › ${test}`);
    }
  }
  return missing;
}

/** The project folder (packages/x or apps/x) of a test file, and the file relative to it. */
function projectOf(file) {
  const parts = file.split('/');
  return { project: parts.slice(0, 2).join('/'), rel: parts.slice(2).join('/') };
}

function main() {
  const missing = missingTests();
  if (missing.length > 0) {
    console.error(`tools/faults/cases.json lists tests that do not exist:\n  ${missing.join('\n  ')}`);
    process.exit(1);
  }
  const listed = cases.reduce((n, c) => n + c.tests.length, 0);
  console.log(`${cases.length} cases, ${listed} listed tests, all present`);
  if (process.argv.includes('--check')) return;

  const files = new Map();
  for (const c of cases) {
    for (const { file } of c.tests) {
      const { project, rel } = projectOf(file);
      if (!files.has(project)) files.set(project, new Set());
      files.get(project).add(rel);
    }
  }
  let failed = 0;
  for (const [project, set] of files) {
    console.log(`\n== ${project}`);
    // -t "fault:" keeps to the fault describe blocks of files that also hold other tests; the
    // default reporter alone leaves the project's CI report (.vitest/results.json) untouched.
    const r = spawnSync('pnpm', ['exec', 'vitest', 'run', ...set, '-t', 'fault:', '--reporter=default'], {
      cwd: join(root, project),
      stdio: 'inherit',
    });
    if (r.status !== 0) failed++;
  }
  console.log(failed === 0 ? '\nfault suite: all passed' : `\nfault suite: ${failed} project(s) failed`);
  process.exit(failed === 0 ? 0 : 1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
