/**
 * Pull JSON out of model output. Small models wrap it in prose or code fences and break it in predictable ways:
 * trailing or missing commas, single quotes, unquoted keys, Python literals, output cut off by the token limit.
 * A lenient recursive-descent parser reads one value from a starting bracket and repairs those cases on the way;
 * anything it cannot read makes that start fail and the next bracket is tried.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface ExtractedJson {
  value: JsonValue;
  /** False when the text parsed as strict JSON; true when a repair was needed. */
  repaired: boolean;
  /** True when the value was cut off (e.g. by the token limit) and closed by the parser. */
  truncated: boolean;
}

export interface ExtractOptions {
  /** Only a value this predicate accepts counts (e.g. "an array", "an object with a question"). */
  accept?: (value: JsonValue) => boolean;
}

/** The first object or array in `text` that parses (strictly, else leniently) and that `accept` takes; null if none. */
export function extractJson(text: string, options: ExtractOptions = {}): ExtractedJson | null {
  const accept = options.accept ?? (() => true);
  for (const source of candidateSources(text)) {
    for (let i = 0; i < source.length; i++) {
      const c = source[i];
      if (c !== '{' && c !== '[') continue;
      const found = parseAt(source, i);
      if (found !== null && accept(found.value)) return found;
    }
  }
  return null;
}

/** Fenced code blocks first (the model's intended answer), then the whole text. */
function candidateSources(text: string): string[] {
  const fenced = [...text.matchAll(/```[a-zA-Z]*[ \t]*\r?\n?([\s\S]*?)(?:```|$)/g)].map((m) => m[1]);
  return [...fenced, text];
}

function parseAt(text: string, start: number): ExtractedJson | null {
  const end = strictEnd(text, start);
  if (end !== -1) {
    try {
      return { value: JSON.parse(text.slice(start, end)) as JsonValue, repaired: false, truncated: false };
    } catch {
      // fall through to the lenient parser
    }
  }
  try {
    const parser = new LenientParser(text, start);
    const value = parser.parseValue();
    if (value === undefined || (typeof value !== 'object' && !Array.isArray(value)) || value === null) return null;
    return { value, repaired: true, truncated: parser.truncated };
  } catch {
    return null;
  }
}

/** End offset of the bracket-balanced span from `start` (quotes respected), or -1 if it never closes. */
function strictEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

class ParseFailure extends Error {}

const BAREWORDS: Record<string, JsonValue> = {
  true: true,
  false: false,
  null: null,
  True: true,
  False: false,
  None: null,
};

/** Value marker for "input ended inside this value": the container drops it. */
const INCOMPLETE = Symbol('incomplete');

class LenientParser {
  truncated = false;
  private pos: number;

  constructor(
    private readonly text: string,
    start: number,
  ) {
    this.pos = start;
  }

  parseValue(): JsonValue | undefined {
    const v = this.value();
    return v === INCOMPLETE ? undefined : v;
  }

  private value(): JsonValue | typeof INCOMPLETE {
    this.skipSpace();
    if (this.atEnd()) return this.endOfInput();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"' || c === "'" || c === '\u201c') return this.string();
    if (/[-+\d.]/.test(c)) return this.number();
    const word = this.bareword();
    if (word !== null && word in BAREWORDS) return BAREWORDS[word];
    throw new ParseFailure(`unexpected ${JSON.stringify(c)} at ${this.pos}`);
  }

  private object(): JsonValue | typeof INCOMPLETE {
    this.pos++;
    const out: { [key: string]: JsonValue } = {};
    for (;;) {
      this.skipSeparators();
      if (this.atEnd()) return this.closeTruncated(out);
      const c = this.text[this.pos];
      if (c === '}' || c === ']') {
        this.pos++;
        return out;
      }
      const key = this.key();
      if (key === INCOMPLETE) return this.closeTruncated(out);
      this.skipSpace();
      if (this.atEnd()) return this.closeTruncated(out);
      if (this.text[this.pos] !== ':' && this.text[this.pos] !== '=') throw new ParseFailure(`expected ':' at ${this.pos}`);
      this.pos++;
      const v = this.value();
      // A string cut off part-way is dropped; a cut-off list keeps its complete elements.
      if (v === INCOMPLETE) return this.closeTruncated(out);
      out[key] = v;
      this.expectSeparatorOrClose();
    }
  }

  private array(): JsonValue | typeof INCOMPLETE {
    this.pos++;
    const out: JsonValue[] = [];
    for (;;) {
      this.skipSeparators();
      if (this.atEnd()) return this.closeTruncated(out);
      const c = this.text[this.pos];
      if (c === ']' || c === '}') {
        this.pos++;
        return out;
      }
      const v = this.value();
      // A record (object) cut off part-way is dropped: it is missing fields the model meant to write.
      if (v === INCOMPLETE || (this.truncated && typeof v === 'object' && v !== null && !Array.isArray(v))) {
        return this.closeTruncated(out);
      }
      out.push(v);
      this.expectSeparatorOrClose();
    }
  }

  /**
   * After a member: a comma, a closer, or (repair) the start of the next member on its own: models often
   * forget the comma between two objects or two key/value lines.
   */
  private expectSeparatorOrClose(): void {
    this.skipSpace();
    if (this.atEnd()) return;
    if (/[,}\]"'{[\u201c\w]/.test(this.text[this.pos])) return;
    throw new ParseFailure(`unexpected ${JSON.stringify(this.text[this.pos])} at ${this.pos}`);
  }

  private key(): string | typeof INCOMPLETE {
    const c = this.text[this.pos];
    if (c === '"' || c === "'" || c === '\u201c') {
      const s = this.string();
      return s === INCOMPLETE ? INCOMPLETE : s;
    }
    const word = this.bareword();
    if (word === null) throw new ParseFailure(`expected a key at ${this.pos}`);
    return word;
  }

  private string(): string | typeof INCOMPLETE {
    const open = this.text[this.pos];
    const close = open === '\u201c' ? '\u201d' : open;
    this.pos++;
    let out = '';
    while (!this.atEnd()) {
      const c = this.text[this.pos];
      if (c === '\\') {
        const next = this.text[this.pos + 1];
        if (next === undefined) break;
        this.pos += 2;
        if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos, this.pos + 4))) {
          out += String.fromCharCode(Number.parseInt(this.text.slice(this.pos, this.pos + 4), 16));
          this.pos += 4;
        } else out += ESCAPES[next] ?? next;
        continue;
      }
      if (c === close) {
        // An apostrophe inside a single-quoted string (It's): the string only ends before a structural character.
        if (close === "'" && !/^\s*([,:}\]]|$)/.test(this.text.slice(this.pos + 1, this.pos + 40))) {
          out += c;
          this.pos++;
          continue;
        }
        this.pos++;
        return out;
      }
      if (c === '\n' && close === '"') {
        // A raw newline inside a string: keep it, the model meant it as text.
        out += c;
        this.pos++;
        continue;
      }
      out += c;
      this.pos++;
    }
    this.truncated = true;
    return INCOMPLETE;
  }

  private number(): JsonValue {
    const m = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.text.slice(this.pos));
    if (m === null) throw new ParseFailure(`bad number at ${this.pos}`);
    this.pos += m[0].length;
    return Number(m[0]);
  }

  private bareword(): string | null {
    const m = /^[A-Za-z_$][\w$-]*/.exec(this.text.slice(this.pos));
    if (m === null) return null;
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpace(): void {
    while (!this.atEnd() && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private skipSeparators(): void {
    while (!this.atEnd() && /[\s,]/.test(this.text[this.pos])) this.pos++;
  }

  private atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private endOfInput(): typeof INCOMPLETE {
    this.truncated = true;
    return INCOMPLETE;
  }

  private closeTruncated<T extends JsonValue>(value: T): T {
    this.truncated = true;
    return value;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '/': '/', '\\': '\\', '"': '"', "'": "'" };
