import { AugmentDataError, GeneratorSettingsError } from '@rg/augment';
import { BenchUsageError, BusyMachineError, FlagError } from '@rg/bench-kit';
import { ClusteringInputError } from '@rg/clustering';
import { IngestError } from '@rg/corpus';
import { QueueUnreachableError, QueueUrlError } from '@rg/encode-queue';
import { ModelFileError } from '@rg/engine';
import { PeerSetupError } from '@rg/engine/bench';
import { DatasetError } from '@rg/inference';
import { AdapterFormatError } from '@rg/lora';
import { NoChatTemplateError } from '@rg/lora-trainer';
import { ConfigError, IndexSettingsError, InferenceInputError, StepInputError, TrainerSettingsError, WarmupSplitError } from '@rg/pipeline';
import { BenchInputError } from '@rg/pipeline/bench';
import { IndexMissingError } from '@rg/retriever';

/** Bad flags, values or config: the user can fix it. Exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A step of the pipeline that is not built yet: said plainly rather than faked. Exit code 3. */
export class NotBuiltError extends Error {
  override name = 'NotBuiltError';
}

/** The user stopped a long job (Ctrl-C); what was done is kept and the job resumes when run again. Exit code 130. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
}

/**
 * The packages' errors that name an input the user gives (a file, a dataset, a flag's value, a busy machine): each
 * package throws its own, and the CLI reports them all as usage errors (exit 2) here, in one place.
 */
const USER_INPUT_ERRORS: ReadonlyArray<abstract new (...args: never[]) => Error> = [
  AdapterFormatError,
  AugmentDataError,
  BenchInputError,
  BenchUsageError,
  BusyMachineError,
  ClusteringInputError,
  ConfigError,
  DatasetError,
  FlagError,
  GeneratorSettingsError,
  IndexMissingError,
  IndexSettingsError,
  InferenceInputError,
  IngestError,
  ModelFileError,
  NoChatTemplateError,
  PeerSetupError,
  QueueUnreachableError,
  QueueUrlError,
  StepInputError,
  TrainerSettingsError,
  WarmupSplitError,
];

/** True for a UsageError and for a package's error about the user's input (USER_INPUT_ERRORS). */
export function isUsageError(e: unknown): e is Error {
  return e instanceof UsageError || USER_INPUT_ERRORS.some((c) => e instanceof c);
}

export const ExitCode = { ok: 0, failure: 1, usage: 2, notBuilt: 3, interrupted: 130 } as const;
