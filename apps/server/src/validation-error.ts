import { HttpError } from './errors.js';

/** The parts of an Ajv error that Fastify hands over on a failed schema check. */
export interface SchemaIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** `/messages/0/role` -> `messages[0].role`: the field as a client names it in its own code. */
export function fieldName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  let out = '';
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

/** One 400 naming the first bad field and what was expected there. */
export function schemaError(issues: SchemaIssue[], context: string): HttpError {
  const issue = issues[0];
  const where = context === 'body' ? '' : `${context} `;
  switch (issue.keyword) {
    case 'required': {
      const field = fieldName(issue.instancePath, String(issue.params.missingProperty));
      return new HttpError(400, `${where}${field}: required`, field, 'missing_field');
    }
    case 'additionalProperties': {
      const field = fieldName(issue.instancePath, String(issue.params.additionalProperty));
      return new HttpError(400, `${where}${field}: unknown field`, field, 'unknown_field');
    }
    case 'enum': {
      const field = fieldName(issue.instancePath) || '(body)';
      const allowed = (issue.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return new HttpError(400, `${where}${field}: expected one of ${allowed}`, field, 'invalid_value');
    }
    case 'type': {
      const field = fieldName(issue.instancePath) || '(body)';
      const types = String(issue.params.type).split(',').join(' or ');
      return new HttpError(400, `${where}${field}: expected ${types}`, field, 'invalid_type');
    }
    case 'pattern': {
      const field = fieldName(issue.instancePath) || '(body)';
      const expected =
        issue.params.pattern === '\\S'
          ? 'a non-blank string'
          : issue.params.pattern === '^[1-9][0-9]*$'
            ? 'a positive integer'
            : `a string matching ${String(issue.params.pattern)}`;
      return new HttpError(400, `${where}${field}: expected ${expected}`, field, 'invalid_value');
    }
    default: {
      const field = fieldName(issue.instancePath) || '(body)';
      return new HttpError(400, `${where}${field}: ${issue.message ?? 'invalid'}`, field, 'invalid_value');
    }
  }
}
