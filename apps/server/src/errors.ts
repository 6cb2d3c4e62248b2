import type { RequestError } from '@rg/pipeline';

/** An error answered in OpenAI's shape ({error: {message, type, param, code}}), so its clients surface the message. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.statusCode === 401) return 'authentication_error';
    if (this.statusCode === 404) return 'not_found_error';
    if (this.statusCode === 429) return 'rate_limit_error';
    if (this.statusCode >= 500) return 'server_error';
    return 'invalid_request_error';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function badRequest(param: string, message: string, code = 'invalid_value'): HttpError {
  return new HttpError(400, `${param}: ${message}`, param, code);
}

/**
 * A request the collection refused (its own checks, past the schemas): the client's to fix, so a 400 naming the
 * field as the HTTP request spells it. answer()'s knobs travel in the `rg` object; addDocument's fields are the body's.
 */
export function requestErrorToHttp(error: RequestError): HttpError {
  const rgField = error.operation === 'answer' && /^(method|k|compose|adapters)\b/.test(error.field);
  return badRequest(rgField ? `rg.${error.field}` : error.field, error.reason);
}
