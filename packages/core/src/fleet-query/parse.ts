import {
  and,
  anyChar,
  anyChars,
  bound,
  type CompareOp,
  compare,
  type FleetQueryNode,
  type FleetQueryValue,
  literal,
  not,
  or,
  type PatternPart,
  parseDecimal,
  range,
  term,
  wildcardTerm,
} from './ast.js';
import { invalidQuery as invalid, isQuerySpace, QueryScanner, type Word } from './scanner.js';

/** Longest query string accepted (AWS: `queryString` length). */
export const FLEET_QUERY_MAX_LENGTH = 1000;
/** Most terms (leaves) a query may hold; AWS documents twelve, Otter allows more. */
export const FLEET_QUERY_MAX_TERMS = 50;
/** The field a bare term such as `abc` or `abc*` searches. */
export const FLEET_QUERY_DEFAULT_FIELD = 'thingName';

/**
 * Parses the AWS IoT fleet-indexing query syntax. Throws `InvalidQueryException` saying what is
 * wrong and at which character (counted from 1).
 */
export function parseFleetQuery(text: string): FleetQueryNode {
  if (text.length > FLEET_QUERY_MAX_LENGTH) {
    throw invalid(
      `the query is ${text.length} characters long; at most ${FLEET_QUERY_MAX_LENGTH} are allowed`,
    );
  }
  return new Parser(text).query();
}

class Parser extends QueryScanner {
  #terms = 0;

  query(): FleetQueryNode {
    this.skipSpace();
    if (this.eof()) throw invalid('the query is empty');
    const node = this.#or(null);
    this.skipSpace();
    if (!this.eof()) throw this.#unexpected();
    return node;
  }

  /** `field` is the field of an enclosing field group `field:( … )`, else null. */
  #or(field: string | null): FleetQueryNode {
    const operands = [this.#and(field)];
    while (this.keyword('OR')) {
      this.pos += 2;
      operands.push(this.#and(field, 'OR'));
    }
    return or(operands);
  }

  #and(field: string | null, after?: string): FleetQueryNode {
    const operands = [this.#unary(field, after)];
    for (;;) {
      this.skipSpace();
      if (this.keyword('AND')) {
        this.pos += 3;
        operands.push(this.#unary(field, 'AND'));
      } else if (!this.eof() && this.peek() !== ')' && !this.keyword('OR')) {
        operands.push(this.#unary(field)); // juxtaposition means AND
      } else {
        return and(operands);
      }
    }
  }

  #unary(field: string | null, after?: string): FleetQueryNode {
    this.skipSpace();
    if (this.keyword('NOT')) {
      this.pos += 3;
      return not(this.#unary(field, 'NOT'));
    }
    const next = this.text[this.pos + 1];
    if (this.peek() === '-' && next !== undefined && !isQuerySpace(next)) {
      this.pos += 1;
      return not(this.#unary(field, "'-'"));
    }
    return this.#primary(field, after);
  }

  #primary(field: string | null, after?: string): FleetQueryNode {
    this.skipSpace();
    const start = this.pos;
    if (this.eof()) {
      throw invalid(
        `expected a term${after ? ` after ${after}` : ''} at character ${start + 1}, found the end`,
      );
    }
    for (const kw of ['AND', 'OR']) {
      if (this.keyword(kw)) throw invalid(`unexpected ${kw} at character ${start + 1}: expected a term`);
    }
    if (this.peek() === '(') {
      this.pos += 1;
      const inner = this.#or(field);
      this.#close(start);
      return inner;
    }
    if (field !== null || !this.startsWord()) {
      return this.#value(
        field ?? FLEET_QUERY_DEFAULT_FIELD,
        after ? `a term after ${after}` : 'a term',
        start,
      );
    }
    const word = this.word();
    const ch = this.peek();
    if (ch === ':') {
      const name = this.noWildcards(word, 'in field names');
      this.pos += 1;
      this.skipSpace();
      if (this.peek() !== '(') return this.#value(name, `a value after '${name}:'`, start);
      const open = this.pos;
      this.pos += 1;
      const group = this.#or(name);
      this.#close(open);
      return group;
    }
    if (ch === '<' || ch === '>') {
      const name = this.noWildcards(word, 'in field names');
      const op = (this.text.startsWith('=', this.pos + 1) ? `${ch}=` : ch) as CompareOp;
      this.pos += op.length;
      this.skipSpace();
      const value = this.#scalar(`after '${op}'`);
      this.#count(start);
      return compare(name, op, value);
    }
    return this.#wordTerm(FLEET_QUERY_DEFAULT_FIELD, word, start);
  }

  /** A value for `field`: `"quoted"`, a range, or a word (with `*` and `?` wildcards). */
  #value(field: string, expected: string, leafStart: number): FleetQueryNode {
    const start = this.pos;
    const ch = this.peek();
    if (ch === '"') {
      const value = this.quoted();
      this.#count(leafStart);
      return term(field, value);
    }
    if (ch === '[' || ch === '{') return this.#range(field, leafStart);
    if (!this.startsWord()) {
      const at = `at character ${start + 1}`;
      if (ch === ':') throw invalid(`expected a field name before the ':' ${at}`);
      const found = ch === undefined ? 'the end' : `'${ch}'`;
      throw invalid(`expected ${expected} ${at}, found ${found}`);
    }
    return this.#wordTerm(field, this.word(), leafStart);
  }

  #wordTerm(field: string, word: Word, leafStart: number): FleetQueryNode {
    this.#count(leafStart);
    const parts: PatternPart[] = word.chars.map(({ ch, escaped }) => {
      if (!escaped && ch === '*') return anyChars();
      if (!escaped && ch === '?') return anyChar();
      return literal(ch);
    });
    return wildcardTerm(field, parts);
  }

  #range(field: string, leafStart: number): FleetQueryNode {
    const open = this.pos;
    const lowerInclusive = this.peek() === '[';
    this.pos += 1;
    this.skipSpace();
    const lower = this.#bound();
    this.skipSpace();
    if (!(this.text.startsWith('TO', this.pos) && isQuerySpace(this.text[this.pos + 2] ?? ''))) {
      throw invalid(
        `expected 'TO' at character ${this.pos + 1} in the range starting at character ${open + 1}`,
      );
    }
    this.pos += 2;
    this.skipSpace();
    const upper = this.#bound();
    this.skipSpace();
    const close = this.peek();
    if (close !== ']' && close !== '}') {
      throw invalid(
        `expected ']' or '}' at character ${this.pos + 1} to close the range at character ${open + 1}`,
      );
    }
    this.pos += 1;
    this.#count(leafStart);
    return range(
      field,
      lower === null ? null : bound(lower, lowerInclusive),
      upper === null ? null : bound(upper, close === ']'),
    );
  }

  /** A range bound: `*` (open, returned as null) or a scalar. */
  #bound(): FleetQueryValue | null {
    if (this.peek() === '*') {
      const next = this.text[this.pos + 1] ?? ' ';
      if (isQuerySpace(next) || next === ']' || next === '}') {
        this.pos += 1;
        return null;
      }
    }
    return this.#scalar('in the range');
  }

  /** A comparison value or range bound: quoted → string; a decimal → number; else a string. */
  #scalar(where: string): FleetQueryValue {
    const start = this.pos;
    if (this.peek() === '"') return this.quoted();
    if (!this.startsWord()) {
      const ch = this.peek();
      const found = ch === undefined ? 'the end' : `'${ch}'`;
      throw invalid(`expected a value ${where} at character ${start + 1}, found ${found}`);
    }
    const text = this.noWildcards(this.word(), where);
    return parseDecimal(text) ?? text;
  }

  #close(open: number): void {
    this.skipSpace();
    if (this.peek() !== ')') {
      const where = this.eof() ? 'the end' : `character ${this.pos + 1}`;
      throw invalid(`missing ')' at ${where} to close the '(' at character ${open + 1}`);
    }
    this.pos += 1;
  }

  #count(start: number): void {
    this.#terms += 1;
    if (this.#terms > FLEET_QUERY_MAX_TERMS) {
      throw invalid(
        `the query has more than ${FLEET_QUERY_MAX_TERMS} terms (term ${this.#terms} starts at character ${start + 1})`,
      );
    }
  }

  /** Only a `)` can be left over once the top-level OR is done. */
  #unexpected(): Error {
    return invalid(`unexpected '${this.peek() ?? ''}' at character ${this.pos + 1}: no '(' to close`);
  }
}
