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

export const ExitCode = { ok: 0, failure: 1, usage: 2, notBuilt: 3, interrupted: 130 } as const;
