import { resolve } from 'node:path';
import { baseModelWarning, findNonFinite, findShapeMismatch } from '@rg/adapter-store';
import {
  AdapterMismatchError,
  type AdapterSet,
  checkAdapters,
  generate,
  type LoadedModel,
  type LoraTarget,
  loadModel,
  OrtCausalLM,
  WEIGHT_FORMATS,
  type WeightFormat,
} from '@rg/engine';
import { composeCat, type LoraAdapter, type LoraWeights, readPeftAdapter } from '@rg/lora';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext, GlobalFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { collect, finiteNumber, intList, nonNegativeInt, positiveInt, positiveNumber } from '../parse.js';
import { modelCommand } from './model.js';

interface PromptFlags {
  prompt?: string;
  ids?: number[];
  chat?: boolean;
  adapter?: string[];
  weights: WeightFormat;
  json?: boolean;
}

interface GenerateFlags extends PromptFlags {
  maxNewTokens: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed: number;
  stop?: string[];
}

interface LogitsFlags extends PromptFlags {
  top: number;
}

/** A model ready to run, with the request's adapters and prompt ids. */
export interface Prepared {
  model: LoadedModel;
  lm: OrtCausalLM;
  adapters: AdapterSet | null;
  promptIds: number[];
}

function addPromptOptions(cmd: Command): Command {
  return cmd
    .option('--prompt <text>', 'prompt text')
    .option('--ids <ids>', 'prompt token ids instead of --prompt, e.g. 1,2,3 (to compare with other implementations)', intList)
    .option('--chat', "wrap the prompt as one user turn with the model's chat template")
    .option('--adapter <dir>', 'PEFT adapter folder (repeatable: adapters are concatenated along the rank axis)', collect)
    .addOption(
      new Option(
        '--weights <format>',
        'projection weights: f32 (exact), q8 (8-bit blocks) or q4 (4-bit blocks); q8 and q4 compute with int8 activations',
      )
        .choices(WEIGHT_FORMATS)
        .default('f32'),
    )
    .option('--json', 'one JSON line with the prompt and output token ids');
}

interface AdapterFolder {
  dir: string;
  adapter: LoraAdapter;
}

/**
 * Read `--adapter` folders, refusing non-finite weights (they give NaN logits and empty answers
 * with exit 0 otherwise), each error naming the folder and module.
 */
export function readAdapterFolders(dirs: string[], cwd: string): AdapterFolder[] {
  return dirs.map((d) => {
    const dir = resolve(cwd, d);
    const adapter: LoraAdapter = readPeftAdapter(dir);
    const bad = findNonFinite(adapter);
    if (bad) throw new UsageError(`--adapter ${dir}: ${bad.message}`);
    return { dir, adapter };
  });
}

/**
 * Check each folder against the loaded model before they are concatenated (after which an error
 * could no longer say which folder is wrong), and warn when PEFT's base model names another model.
 */
export function checkAdapterFolders(ctx: CliContext, folders: AdapterFolder[], model: LoadedModel, modelName: string): void {
  for (const { dir, adapter } of folders) {
    const misfit = findShapeMismatch(adapter, model.config);
    if (misfit) throw new UsageError(`--adapter ${dir}: ${misfit.message}`);
    const warning = baseModelWarning(adapter, model.source.name ?? modelName, `--adapter ${dir}`);
    if (warning) ctx.info(`rg: warning: ${warning}`);
  }
}

/** Concatenate adapters (PEFT "cat"): scales folded into B. */
function concatenate(folders: AdapterFolder[]): LoraWeights | null {
  return folders.length === 0 ? null : composeCat(folders.map((f) => ({ adapter: f.adapter, weight: 1 })));
}

/** Load the model (pulling the default one on first use), its session and the request's inputs. */
export async function prepare(ctx: CliContext, flags: PromptFlags, globals: GlobalFlags): Promise<Prepared> {
  if ((flags.prompt === undefined) === (flags.ids === undefined)) throw new UsageError('give exactly one of --prompt or --ids');
  if (flags.ids && flags.chat) throw new UsageError('--chat applies to --prompt, not to --ids');
  const config = ctx.config(globals);
  const folders = readAdapterFolders(flags.adapter ?? [], ctx.io.cwd);
  const model: LoadedModel = await loadModel(config.model, { home: config.home, pull: true });
  checkAdapterFolders(ctx, folders, model, config.model);
  const lora = concatenate(folders);
  let promptIds: number[];
  if (flags.ids) {
    const bad = flags.ids.find((id) => id >= model.config.vocabSize);
    if (bad !== undefined) throw new UsageError(`--ids: token id ${bad} is outside the vocabulary (0..${model.config.vocabSize - 1})`);
    promptIds = flags.ids;
  } else if (flags.chat) {
    if (!model.tokenizer.chatTemplate) throw new UsageError(`--chat: model ${config.model} has no chat template`);
    promptIds = model.tokenizer.encodeChat([{ role: 'user', content: flags.prompt as string }]);
  } else {
    promptIds = model.tokenizer.encode(flags.prompt as string);
  }
  if (promptIds.length === 0) throw new UsageError('the prompt encodes to no tokens');
  // A graph with LoRA inputs only where this request has adapters: no adapter, no LoRA nodes.
  const loraTargets = (lora?.targets ?? []) as LoraTarget[];
  try {
    if (lora) checkAdapters(model.config, loraTargets, lora);
  } catch (e) {
    if (e instanceof AdapterMismatchError) throw new UsageError(`--adapter: ${e.message}`);
    throw e;
  }
  const lm = await OrtCausalLM.load(model.config, model.weights, { threads: config.threads, loraTargets, weightFormat: flags.weights });
  const adapters = lora ? await lm.prepareAdapters(lora) : null;
  return { model, lm, adapters, promptIds };
}

/**
 * Tokens that still fit the model's context after the prompt: a larger --max-new-tokens is cut
 * down with a note (positions past the context are outside what the model was trained on, and the
 * KV cache would grow unbounded); a prompt that already fills the context is an error.
 */
export function capToContext(ctx: CliContext, maxNewTokens: number, promptTokens: number, context: number): number {
  const room = context - promptTokens;
  if (room <= 0) throw new UsageError(`the prompt has ${promptTokens} tokens, the model's context holds ${context}: shorten it`);
  if (maxNewTokens <= room) return maxNewTokens;
  ctx.info(`rg: note: --max-new-tokens ${maxNewTokens} capped at ${room} (context ${context} tokens, prompt ${promptTokens})`);
  return room;
}

export function registerGenerate(program: Command, ctx: CliContext): void {
  addPromptOptions(program.command('generate').description('generate text with the model (and LoRA adapters), streaming to stdout'))
    .option('--max-new-tokens <n>', "tokens to generate at most (capped at the model's context)", positiveInt, 128)
    .option('--temperature <t>', 'sampling temperature (absent or 0: greedy, as in OpenAI, llama.cpp and transformers)', nonNegativeNumber)
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', positiveNumber)
    .option('--top-k <k>', 'sample from the k most likely tokens', positiveInt)
    .option('--seed <n>', 'seed of the sampler', nonNegativeInt, 0)
    .option('--stop <text>', 'stop string (repeatable)', collect)
    .action(async (flags: GenerateFlags, cmd: Command) => {
      if (flags.topP !== undefined && flags.topP > 1) throw new UsageError('--top-p must be in (0, 1]');
      const { model, lm, adapters, promptIds } = await prepare(ctx, flags, cmd.optsWithGlobals());
      try {
        const maxNewTokens = capToContext(ctx, flags.maxNewTokens, promptIds.length, model.config.maxPositionEmbeddings);
        const decode = (ids: number[]) => model.tokenizer.decode(ids, { skipSpecialTokens: true });
        const start = performance.now();
        const out = await generate(lm, promptIds, {
          maxNewTokens,
          // 0 means greedy (argmax), as every other runtime reads it; the sampler wants it absent.
          temperature: flags.temperature === 0 ? undefined : flags.temperature,
          topP: flags.topP,
          topK: flags.topK,
          seed: flags.seed,
          stopStrings: flags.stop,
          decode,
          adapters,
          onToken: flags.json ? undefined : (_token, delta) => ctx.io.stdout(delta),
        });
        const seconds = (performance.now() - start) / 1000;
        if (flags.json) {
          ctx.json({
            promptIds,
            generatedIds: out.tokens,
            text: out.text,
            finishReason: out.finishReason,
            seconds: Number(seconds.toFixed(3)),
          });
        } else {
          ctx.print('');
          ctx.info(`${out.tokens.length} tokens in ${seconds.toFixed(2)} s (${out.finishReason})`);
        }
      } finally {
        await lm.dispose();
      }
    });

  addPromptOptions(modelCommand(program).command('logits').description("the last position's top-K next-token logits"))
    .option('--top <k>', 'how many logits to show', positiveInt, 10)
    .action(async (flags: LogitsFlags, cmd: Command) => {
      const { model, lm, adapters, promptIds } = await prepare(ctx, flags, cmd.optsWithGlobals());
      try {
        const { logits, cache } = await lm.forward({ ids: promptIds, adapters });
        lm.release(cache);
        const top = Array.from(logits.keys())
          .sort((a, b) => logits[b] - logits[a])
          .slice(0, flags.top)
          .map((id) => ({ id, token: model.tokenizer.idToToken(id) ?? null, logit: logits[id] }));
        if (flags.json) ctx.json({ promptIds, top });
        else for (const t of top) ctx.print(`${t.id}\t${t.logit.toFixed(4)}\t${JSON.stringify(t.token)}`);
      } finally {
        await lm.dispose();
      }
    });
}

/** A number >= 0 (commander value parser). */
function nonNegativeNumber(value: string): number {
  const n = finiteNumber(value);
  if (n < 0) throw new InvalidArgumentError('expected a number >= 0 (0 means greedy)');
  return n;
}
