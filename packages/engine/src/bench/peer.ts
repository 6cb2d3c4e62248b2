import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ModelSource } from '../model/load.js';

// The peers a benchmark compares with are separate programs (tools/bench/): PyTorch + transformers + PEFT in Python,
// llama.cpp through node-llama-cpp. Their messages name the flags that `rg bench` and the packages' bench targets share
// (--python, --no-peer, --llamacpp).

/** A peer that cannot run as asked (not installed, its script missing, a model it cannot load): the user can fix it. */
export class PeerSetupError extends Error {
  override name = 'PeerSetupError';
}

/** A Python peer: the interpreter with the peer's requirements (tools/.venv) and its script (tools/bench/*.py). */
export interface PythonPeer {
  python: string;
  script: string;
}

/** Fails before any timing when the interpreter or the script is missing: not after rg's minutes. */
export function checkPythonPeer(peer: PythonPeer): void {
  if (!existsSync(peer.python))
    throw new PeerSetupError(`--python ${peer.python}: not found (create tools/.venv, see tools/reference/README.md, or pass --no-peer)`);
  checkPeerScript(peer.script, '--no-peer');
}

/** `skip` says how to run without this peer (e.g. "--no-peer"). */
export function checkPeerScript(script: string, skip: string): void {
  if (!existsSync(script)) throw new PeerSetupError(`${script}: not found (run from the repository root, or pass ${skip})`);
}

/** The peers read the model from its GGUF file: a Hugging Face folder has none to give them. */
export function checkGgufForPeer(source: ModelSource, skip: string): void {
  if (source.kind !== 'gguf') throw new PeerSetupError(`the peers load GGUF files only: use a .gguf model or ${skip}`);
}

/** Runs a peer script, which prints its figures as one JSON line (the last of its stdout). */
export function runPeer<T>(what: string, command: string, args: string[]): T {
  const run = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) throw new Error(`peer ${what} failed (exit ${run.status}): ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string);
}
