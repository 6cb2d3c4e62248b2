import { generate, WEIGHT_FORMATS, type WeightFormat } from '@rg/engine';
import { contextRoom, openPromptSession, PromptInputError, type PromptSession } from '@rg/pipeline';
import { type Command, Option } from 'commander';
import type { CliContext, GlobalFlags } from '../context.js';
import { UsageError } from '../errors.js';
import { collect, intList, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber } from '../parse.js';
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

function addPromptOptions(cmd: Command, weights: WeightFormat): Command {
  return cmd
    .argument('[prompt]', 'prompt text (as --prompt)')
    .option('--prompt <text>', 'prompt text')
    .option('--ids <ids>', 'prompt token ids instead of --prompt, e.g. 1,2,3 (to compare with other implementations)', intList)
    .option('--chat', "wrap the prompt as one user turn with the model's chat template")
    .option('--adapter <dir>', 'PEFT adapter folder (repeatable: adapters are concatenated along the rank axis)', collect)
    .addOption(
      new Option(
        '--weights <format>',
        "projection weights: q8 (8-bit blocks: ~3x faster decoding than f32, logits within ~3% of f32's range), q4 (4-bit blocks) or f32 (exact, as transformers and rg infer); q8 and q4 compute with int8 activations",
      )
        .choices(WEIGHT_FORMATS)
        .default(weights),
    )
    .option('--json', 'one JSON line with the prompt and output token ids');
}

/** A prompt session's input errors as usage errors naming the flag. */
function asUsage(e: unknown): unknown {
  if (!(e instanceof PromptInputError)) return e;
  if (e.field === 'adapter') return new UsageError(`--adapter ${e.reason}`);
  if (e.field === 'prompt') return new UsageError(e.reason);
  return new UsageError(`--${e.field}: ${e.reason}`);
}

/** Load the model (pulling the default one on first use), its session and the request's inputs. */
async function prepare(ctx: CliContext, prompt: string | undefined, flags: PromptFlags, globals: GlobalFlags): Promise<PromptSession> {
  if (prompt !== undefined && flags.prompt !== undefined) throw new UsageError('give the prompt once: as an argument or as --prompt');
  flags.prompt ??= prompt;
  if ((flags.prompt === undefined) === (flags.ids === undefined))
    throw new UsageError('give exactly one of a prompt (argument or --prompt) or --ids');
  if (flags.ids && flags.chat) throw new UsageError('--chat applies to --prompt, not to --ids');
  const config = ctx.config(globals);
  return openPromptSession({
    model: config.model,
    home: config.home,
    threads: config.threads,
    adapterDirs: flags.adapter,
    cwd: ctx.io.cwd,
    weightFormat: flags.weights,
    prompt: flags.ids ? { ids: flags.ids } : { text: flags.prompt as string, chat: flags.chat },
    onWarning: (w) => ctx.info(`rg: warning: ${w}`),
  }).catch((e) => {
    throw asUsage(e);
  });
}

/** --max-new-tokens cut down to what fits the context after the prompt, with a note. */
function capToContext(ctx: CliContext, maxNewTokens: number, promptTokens: number, context: number): number {
  try {
    const room = contextRoom(maxNewTokens, promptTokens, context);
    if (room.capped) {
      ctx.info(`rg: note: --max-new-tokens ${maxNewTokens} capped at ${room.tokens} (context ${context} tokens, prompt ${promptTokens})`);
    }
    return room.tokens;
  } catch (e) {
    throw asUsage(e);
  }
}

export function registerGenerate(program: Command, ctx: CliContext): void {
  addPromptOptions(program.command('generate').description('generate text with the model (and LoRA adapters), streaming to stdout'), 'q8')
    .option('--max-new-tokens <n>', "tokens to generate at most (capped at the model's context)", positiveInt, 128)
    .option('--temperature <t>', 'sampling temperature (absent or 0: greedy, as in OpenAI, llama.cpp and transformers)', nonNegativeNumber)
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', positiveNumber)
    .option('--top-k <k>', 'sample from the k most likely tokens', positiveInt)
    .option('--seed <n>', 'seed of the sampler', nonNegativeInt, 0)
    .option('--stop <text>', 'stop string (repeatable)', collect)
    .action(async (prompt: string | undefined, flags: GenerateFlags, cmd: Command) => {
      if (flags.topP !== undefined && flags.topP > 1) throw new UsageError('--top-p must be in (0, 1]');
      const session = await prepare(ctx, prompt, flags, cmd.optsWithGlobals());
      const { model, lm, adapters, promptIds } = session;
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
            weights: flags.weights,
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
        await session.dispose();
      }
    });

  // Logits are for comparing with other implementations: exact weights by default.
  addPromptOptions(modelCommand(program).command('logits').description("the last position's top-K next-token logits"), 'f32')
    .option('--top <k>', 'how many logits to show', positiveInt, 10)
    .action(async (prompt: string | undefined, flags: LogitsFlags, cmd: Command) => {
      const session = await prepare(ctx, prompt, flags, cmd.optsWithGlobals());
      const { model, lm, adapters, promptIds } = session;
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
        await session.dispose();
      }
    });
}
