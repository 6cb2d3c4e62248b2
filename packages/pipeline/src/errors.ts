/**
 * A request the collection refuses because of what it asked (a method it does not serve, a reserved document id, ...):
 * the caller's to fix. `field` names the offending field as the request spells it (`method`, `adapters[1]`,
 * `metadata.year`), so an HTTP layer can answer 400 naming it rather than 500. It extends TypeError because these
 * checks were TypeErrors before it existed, and callers that catch those keep working.
 */
export class RequestError extends TypeError {
  override name = 'RequestError';
  constructor(
    /** `answer`, `addDocument` or `listDocuments`: the call that refused. */
    readonly operation: 'answer' | 'addDocument' | 'listDocuments',
    readonly field: string,
    /** What is wrong, without the field (the message carries both). */
    readonly reason: string,
  ) {
    super(`${operation}: ${field}: ${reason}`);
  }
}
