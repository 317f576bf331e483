import { OtterError } from '../errors.js';

/** Characters that end a word unless escaped with `\`. */
const SPECIAL = new Set(['\\', '(', ')', '[', ']', '{', '}', '"', ':', '<', '>']);
/** Characters that may directly follow AND, OR, NOT. */
const AFTER_KEYWORD = new Set(['(', ')']);

export const isQuerySpace = (ch: string): boolean => /^\s$/u.test(ch);
export const isQuerySpecial = (ch: string): boolean => SPECIAL.has(ch);

/** A run of unquoted characters; `escaped` marks the ones written after a backslash. */
export interface Word {
  readonly start: number;
  readonly chars: readonly { readonly ch: string; readonly escaped: boolean }[];
}

export function invalidQuery(message: string): OtterError {
  return new OtterError('InvalidQueryException', message);
}

/** Character-level reading of query text: words, quoted strings, escapes and keywords. */
export class QueryScanner {
  protected pos = 0;
  protected readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  /** The next code point, or undefined at the end. */
  protected peek(): string | undefined {
    const cp = this.text.codePointAt(this.pos);
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  protected eof(): boolean {
    return this.pos >= this.text.length;
  }

  protected skipSpace(): void {
    for (let ch = this.peek(); ch !== undefined && isQuerySpace(ch); ch = this.peek()) this.pos += ch.length;
  }

  /** Whether `kw` (AND, OR, NOT) stands here as a whole word. */
  protected keyword(kw: string): boolean {
    if (!this.text.startsWith(kw, this.pos)) return false;
    const next = this.text[this.pos + kw.length];
    return next === undefined || isQuerySpace(next) || AFTER_KEYWORD.has(next);
  }

  protected startsWord(): boolean {
    const ch = this.peek();
    return ch !== undefined && !isQuerySpace(ch) && (ch === '\\' || !SPECIAL.has(ch));
  }

  protected word(): Word {
    const start = this.pos;
    const chars: { ch: string; escaped: boolean }[] = [];
    for (let ch = this.peek(); ch !== undefined && !isQuerySpace(ch); ch = this.peek()) {
      if (ch === '\\') {
        this.pos += 1;
        chars.push({ ch: this.escaped(), escaped: true });
      } else if (SPECIAL.has(ch)) {
        break;
      } else {
        this.pos += ch.length;
        chars.push({ ch, escaped: false });
      }
    }
    return { start, chars };
  }

  /** A `"…"` string at the current position; `\` escapes any character. */
  protected quoted(): string {
    const open = this.pos;
    let value = '';
    this.pos += 1;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined)
        throw invalidQuery(`unterminated quoted string starting at character ${open + 1}`);
      this.pos += ch.length;
      if (ch === '"') return value;
      value += ch === '\\' ? this.escaped() : ch;
    }
  }

  /** Throws if the word holds an unescaped `*` or `?`, saying where. */
  protected noWildcards(word: Word, where: string): string {
    let pos = word.start;
    for (const { ch, escaped } of word.chars) {
      if (!escaped && (ch === '*' || ch === '?')) {
        throw invalidQuery(`wildcards are not allowed ${where} (character ${pos + 1})`);
      }
      pos += (escaped ? 1 : 0) + ch.length;
    }
    return word.chars.map((c) => c.ch).join('');
  }

  /** The character after a consumed backslash. */
  private escaped(): string {
    const ch = this.peek();
    if (ch === undefined) throw invalidQuery(`a '\\' at character ${this.pos} escapes nothing`);
    this.pos += ch.length;
    return ch;
  }
}
