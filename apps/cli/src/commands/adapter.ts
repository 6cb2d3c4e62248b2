import { resolve } from 'node:path';
import {
  AdapterSelectionError,
  AdapterStore,
  AdapterStoreError,
  adapterLabel,
  describeEntry,
  exportedModel,
  type ManifestEntry,
  type ModelDims,
  selectAdapter,
  selectAdapters,
} from '@rg/adapter-store';
import { loadModelConfig, ModelFileError } from '@rg/engine';
import { ADAPTER_DTYPES, type AdapterDtype, adapterBytes, loraScale, parseModuleKey } from '@rg/lora';
import { type Command, Option } from 'commander';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { finiteNumber, positiveInt, positiveNumber } from '../parse.js';

/**
 * The `rg adapter` group. The store's commands (list/show/delete/verify/export/import) and the
 * trainer's (init/grad) attach to it in whatever order they register, so each asks for it here.
 */
export function adapterCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'adapter') ??
    program.command('adapter').description('LoRA adapters: create, train, inspect, move')
  );
}

/**
 * The store folder a command works on: --store, else RG_HOME/adapters. Only `create` commands
 * (import) make a new store: a read-only command on a mistyped path fails naming it.
 */
export function openAdapterStore(ctx: CliContext, cmd: Command, create = false): AdapterStore {
  const flags = cmd.optsWithGlobals() as { store?: string };
  const config = ctx.config(cmd.optsWithGlobals());
  const root = resolve(ctx.io.cwd, flags.store ?? resolve(config.home, 'adapters'));
  try {
    return AdapterStore.open(root, { create });
  } catch (e) {
    if (e instanceof AdapterStoreError && e.problem === 'no_store') throw new UsageError(`--store ${e.message}`);
    throw e;
  }
}

/** `body` on the command's store (openAdapterStore), closed after it. */
async function inStore<T>(ctx: CliContext, cmd: Command, body: (store: AdapterStore) => T | Promise<T>, create = false): Promise<T> {
  const store = openAdapterStore(ctx, cmd, create);
  try {
    return await body(store);
  } finally {
    store.close();
  }
}

/**
 * The dimensions of the model adapters must fit: `--for-model` (a known name, .gguf file or
 * folder), else the adapters' own model name when it resolves to a model here. Undefined, with a
 * note, when there is none to check against: shapes are then checked at inference.
 */
async function modelDims(ctx: CliContext, cmd: Command, forModel: string | undefined, name: string): Promise<ModelDims | undefined> {
  const config = ctx.config(cmd.optsWithGlobals());
  try {
    return (await loadModelConfig(forModel ?? name, { home: config.home })).config;
  } catch (e) {
    if (!(e instanceof ModelFileError)) throw e;
    if (forModel !== undefined) throw new UsageError(`--for-model: ${e.message}`);
    ctx.info(`rg: note: shapes not checked against model "${name}" (${e.message}); give --for-model to check them`);
    return undefined;
  }
}

interface SelectFlags {
  dataset?: string;
  rank?: number;
  alpha?: number;
  lr?: number;
  epochs?: number;
  base?: boolean;
  json?: boolean;
}

const STORE_OPTION = ['--store <dir>', 'adapter store folder (default: RG_HOME/adapters)'] as const;

function withSelectors(cmd: Command): Command {
  return cmd
    .option(...STORE_OPTION)
    .option('--dataset <name>', 'only adapters trained on this dataset')
    .option('--rank <r>', 'only this LoRA rank', positiveInt)
    .option('--alpha <a>', 'only this LoRA alpha', finiteNumber)
    .option('--lr <lr>', 'only this learning rate', finiteNumber)
    .option('--epochs <n>', 'only this number of epochs', finiteNumber)
    .option('--json', 'print JSON');
}

/** The store's selection of the flags; a selection that names several adapters is a usage error with the flags to narrow it. */
function selectOne(store: AdapterStore, id: string | undefined, flags: SelectFlags, model: string | undefined): ManifestEntry {
  try {
    return selectAdapter(store, { ...flags, id, model });
  } catch (e) {
    if (!(e instanceof AdapterSelectionError) || e.problem === 'none') throw e;
    if (e.problem === 'no_id') throw new UsageError('give an adapter id, or --base for the base_weight');
    throw new UsageError(`${e.message}: narrow it with --model, --dataset, --rank, --alpha, --lr or --epochs`);
  }
}

function select(store: AdapterStore, id: string | undefined, flags: SelectFlags, model: string | undefined): ManifestEntry[] {
  return selectAdapters(store, { ...flags, id, model });
}

function modelFlag(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { model?: string }).model;
}

export function registerAdapter(program: Command, ctx: CliContext): void {
  const group = adapterCommand(program);

  withSelectors(group.command('list').description('adapters in the store (filter with --model, --dataset, --rank, ...)'))
    .option('--id <id>', 'only this document or cluster id')
    .action((flags: SelectFlags & { id?: string }, cmd: Command) =>
      inStore(ctx, cmd, (store) => {
        const entries = select(store, flags.id, flags, modelFlag(cmd));
        const bytes = entries.reduce((s, e) => s + e.bytes, 0);
        if (flags.json) ctx.json({ store: store.root, count: entries.length, bytes, adapters: entries });
        else {
          for (const e of entries) ctx.print(describeEntry(e));
          ctx.info(`${entries.length} adapters, ${bytes} bytes on disk, in ${store.root}`);
        }
      }),
    );

  withSelectors(group.command('show').description('one adapter: manifest entry and tensors (verified on load)'))
    .argument('[id]', 'document or cluster id')
    .option('--base', 'the base_weight instead of a document adapter')
    .action((id: string | undefined, flags: SelectFlags, cmd: Command) =>
      inStore(ctx, cmd, (store) => {
        const entry = selectOne(store, id, flags, modelFlag(cmd));
        const adapter = store.load(entry.key);
        const layers = new Set([...adapter.modules.keys()].map((k) => parseModuleKey(k).layer));
        const tensors = {
          modules: adapter.modules.size,
          layers: layers.size,
          targets: adapter.config.targetModules,
          scale: loraScale(adapter.config),
          fp32Bytes: adapterBytes(adapter),
        };
        if (flags.json) ctx.json({ ...entry, tensors });
        else {
          ctx.print(describeEntry(entry));
          ctx.print(`path\t${entry.path}`);
          ctx.print(`fingerprint\t${entry.modelFingerprint}`);
          ctx.print(`sha256\t${entry.contentHash}`);
          ctx.print(
            `tensors\t${tensors.modules} modules over ${tensors.layers} layers (${tensors.targets.join(', ')}), scale ${tensors.scale}`,
          );
          ctx.print(`training\t${JSON.stringify(entry.trainingConfig)}`);
        }
      }),
    );

  withSelectors(group.command('delete').description("remove adapters' manifest rows and files: how a document is unlearned"))
    .argument('[id]', 'document or cluster id')
    .option('--base', 'the base_weight instead of a document adapter')
    .option('--all', 'delete every adapter the selection matches (otherwise it must match exactly one)')
    .action((id: string | undefined, flags: SelectFlags & { all?: boolean }, cmd: Command) =>
      inStore(ctx, cmd, (store) => {
        const model = modelFlag(cmd);
        const entries = flags.all ? select(store, id, flags, model) : [selectOne(store, id, flags, model)];
        if (flags.all && id === undefined && !flags.base && !model && !flags.dataset) {
          throw new UsageError('--all needs an id, --base, --model or --dataset: refusing to empty the whole store');
        }
        for (const e of entries) store.delete(e.key);
        if (flags.json) ctx.json({ deleted: entries.map((e) => ({ key: e.key, path: e.path })) });
        else for (const e of entries) ctx.print(`deleted ${adapterLabel(e)} (${e.path})`);
      }),
    );

  withSelectors(
    group
      .command('verify')
      .description('re-read adapters from disk and check sizes, sha256s, format, finite weights and shapes (all by default)'),
  )
    .argument('[id]', 'document or cluster id (default: every adapter the other flags select)')
    .option('--base', 'the base_weight instead of a document adapter')
    .option('--fingerprint <fp>', 'also check the adapters were trained for this model fingerprint')
    .option('--for-model <model>', "check shapes against this model (default: each adapter's model name, when it resolves)")
    .action((id: string | undefined, flags: SelectFlags & { fingerprint?: string; forModel?: string }, cmd: Command) =>
      inStore(ctx, cmd, async (store) => {
        const entries = select(store, id, flags, modelFlag(cmd));
        if (entries.length === 0 && id !== undefined) throw new Error(`no adapter with id "${id}" in ${store.root}`);
        const dims = new Map<string, ModelDims | undefined>();
        for (const name of new Set(entries.map((e) => e.key.model))) dims.set(name, await modelDims(ctx, cmd, flags.forModel, name));
        const results = entries.map((e) => store.verify(e.key, { modelFingerprint: flags.fingerprint, model: dims.get(e.key.model) }));
        for (const r of results) for (const w of r.warnings) ctx.info(`rg: warning: ${w}`);
        const bad = results.filter((r) => !r.ok);
        if (flags.json) {
          ctx.json({
            store: store.root,
            checked: results.length,
            failed: bad.length,
            results: results.map((r) => ({
              path: r.entry.relPath,
              ok: r.ok,
              problem: r.problem,
              message: r.message,
              warnings: r.warnings,
            })),
          });
        } else {
          for (const r of bad) ctx.print(`FAIL\t${r.entry.relPath}\t${r.problem}\t${r.message}`);
          ctx.info(`${results.length - bad.length} of ${results.length} adapters ok`);
        }
        if (bad.length > 0) throw new Error(`${bad.length} of ${results.length} adapters failed verification`);
      }),
    );

  withSelectors(group.command('export').description('copy an adapter out as a PEFT folder (+ rg_adapter.json for rg adapter import)'))
    .argument('[id]', 'document or cluster id')
    .requiredOption('--out <dir>', 'new folder to write')
    .option('--base', 'the base_weight instead of a document adapter')
    .addOption(new Option('--dtype <dtype>', 'convert (int8 adapters load in PEFT only as fp32 or fp16)').choices(ADAPTER_DTYPES))
    .action((id: string | undefined, flags: SelectFlags & { out: string; dtype?: AdapterDtype }, cmd: Command) =>
      inStore(ctx, cmd, (store) => {
        const entry = selectOne(store, id, flags, modelFlag(cmd));
        const out = resolve(ctx.io.cwd, flags.out);
        store.exportTo(entry.key, out, { dtype: flags.dtype });
        if (flags.json) ctx.json({ key: entry.key, out, dtype: flags.dtype ?? entry.dtype });
        else ctx.print(`exported ${adapterLabel(entry)} -> ${out}`);
      }),
    );

  group
    .command('import')
    .description('put a PEFT LoRA folder into the store (an rg export carries its key; a bare PEFT folder needs --id etc.)')
    .argument('<dir>', 'PEFT adapter folder (adapter_config.json + adapter_model.safetensors)')
    .option(...STORE_OPTION)
    .option('--id <id>', 'document or cluster id')
    .option('--dataset <name>', 'dataset it was trained on')
    .option('--lr <lr>', 'learning rate it was trained with', positiveNumber)
    .option('--epochs <n>', 'epochs it was trained for', finiteNumber)
    .option('--fingerprint <fp>', 'fingerprint of the base model it was trained for')
    .option('--for-model <model>', "check shapes against this model (default: the adapter's model name, when it resolves)")
    .addOption(new Option('--dtype <dtype>', 'storage dtype in the store').choices(ADAPTER_DTYPES))
    .option('--json', 'print JSON')
    .action(
      async (
        dir: string,
        flags: {
          id?: string;
          dataset?: string;
          lr?: number;
          epochs?: number;
          fingerprint?: string;
          forModel?: string;
          dtype?: AdapterDtype;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const folder = resolve(ctx.io.cwd, dir);
        const given = Object.fromEntries(
          Object.entries({ model: modelFlag(cmd), id: flags.id, dataset: flags.dataset, lr: flags.lr, epochs: flags.epochs }).filter(
            ([, v]) => v !== undefined,
          ),
        );
        const name = (given.model as string | undefined) ?? exportedModel(folder);
        const model =
          name === undefined && flags.forModel === undefined ? undefined : await modelDims(ctx, cmd, flags.forModel, name ?? '');
        const entry = await inStore(
          ctx,
          cmd,
          (store) => store.importFrom(folder, { key: given, modelFingerprint: flags.fingerprint, dtype: flags.dtype, model }),
          true,
        );
        for (const w of entry.warnings) ctx.info(`rg: warning: ${w}`);
        if (flags.json) ctx.json(entry);
        else ctx.print(`imported ${adapterLabel(entry)} -> ${entry.path}`);
      },
    );
}
