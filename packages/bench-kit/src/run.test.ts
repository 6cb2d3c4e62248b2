import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitCommit, machine } from './machine.js';
import { BUSY_LOAD_1M, BusyMachineError, startRun } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'rg-bench-kit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Load averages that change between the start and the end of a run, as they do on a real machine. */
function loads(...readings: number[][]): () => number[] {
  let i = 0;
  return () => readings[Math.min(i++, readings.length - 1)];
}

describe('startRun: the load guard', () => {
  it('refuses a run whose 1-minute load is above 1.5, saying what to do', () => {
    expect(BUSY_LOAD_1M).toBe(1.5);
    const start = () => startRun({ cwd: root, allowBusy: false, loadavg: loads([2.345, 1, 0.5]) });
    expect(start).toThrow(BusyMachineError);
    expect(start).toThrow(
      'load average 2.35 at start (> 1.5): benchmarks need a quiet machine; --allow-busy to run anyway, the figures will be flagged',
    );
  });

  it('with allowBusy runs on and flags the record busy', () => {
    const run = startRun({ cwd: root, allowBusy: true, loadavg: loads([2.345, 1, 0.5], [3, 2, 1]) });
    expect(run.finish()).toMatchObject({ busy: true, load: { start: [2.35, 1, 0.5], end: [3, 2, 1] } });
  });

  it('on a quiet machine records the load at start and at finish, the machine and the time', () => {
    const run = startRun({ cwd: root, threads: 2, allowBusy: false, loadavg: loads([1.5, 0.25, 0.125], [1.9, 0.5, 0.25]) });
    const record = run.finish();
    expect(record).toMatchObject({ busy: false, load: { start: [1.5, 0.25, 0.13], end: [1.9, 0.5, 0.25] }, commit: null });
    expect(record.machine).toEqual({ cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, threads: 2, node: process.version });
    expect(Date.parse(record.started)).not.toBeNaN();
  });
});

describe('machine and gitCommit', () => {
  it('machine leaves threads out when the benchmark sets none', () => {
    expect(machine()).not.toHaveProperty('threads');
  });

  it('names the commit, +dirty once a tracked file changes; null outside a checkout', () => {
    const repo = join(root, 'repo');
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo, encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '-q', repo]);
    writeFileSync(join(repo, 'a.txt'), 'one');
    git('add', 'a.txt');
    git('commit', '-q', '-m', 'one');
    const head = git('rev-parse', '--short', 'HEAD');
    writeFileSync(join(repo, 'untracked.txt'), 'not part of the code');
    expect(gitCommit(repo)).toBe(head);
    writeFileSync(join(repo, 'a.txt'), 'two');
    expect(gitCommit(repo)).toBe(`${head}+dirty`);
    expect(gitCommit(join(root, 'missing'))).toBeNull();
  });
});
