import type { CompareOp, FleetQueryLeaf, FleetQueryNode, FleetQueryValue, PatternPart } from './ast.js';

/**
 * What the compiler needs to know about a SQL back end: capability data only, so the compiler
 * never asks which database it is writing for.
 */
export interface SqlDialect {
  readonly name: string;
  /** `positional`: every parameter is `?`; `numbered`: `$1`, `$2`, … after the start offset. */
  readonly placeholders: 'positional' | 'numbered';
  /** Case-sensitive wildcard matching: the operator and how to spell a pattern for it. */
  readonly pattern: {
    readonly operator: string;
    /** Written after the pattern parameter, e.g. ` ESCAPE '\'`. */
    readonly escapeClause: string;
    readonly anyChars: string;
    readonly anyChar: string;
    /** How to write each character that is special to the operator when it is meant literally. */
    readonly literals: Readonly<Record<string, string>>;
  };
  /** Written after `value_text` in ordering comparisons so that text sorts by code point. */
  readonly textOrder: string;
}

/** SQLite: LIKE ignores ASCII case, so wildcards use GLOB, where `[*]` is a literal `*`. */
export const sqliteDialect: SqlDialect = Object.freeze({
  name: 'sqlite',
  placeholders: 'positional',
  pattern: Object.freeze({
    operator: 'GLOB',
    escapeClause: '',
    anyChars: '*',
    anyChar: '?',
    literals: Object.freeze({ '*': '[*]', '?': '[?]', '[': '[[]' }),
  }),
  textOrder: '', // BINARY collation: UTF-8 byte order
});

/** PostgreSQL: LIKE is case-sensitive; "C" collation makes `<` byte order, whatever the database default. */
export const postgresDialect: SqlDialect = Object.freeze({
  name: 'postgres',
  placeholders: 'numbered',
  pattern: Object.freeze({
    operator: 'LIKE',
    escapeClause: " ESCAPE '\\'",
    anyChars: '%',
    anyChar: '_',
    literals: Object.freeze({ '%': '\\%', _: '\\_', '\\': '\\\\' }),
  }),
  textOrder: ' COLLATE "C"',
});

export interface CompiledFleetQuery {
  /** A boolean expression over an outer table aliased `t` with a `t.thing_name` column. */
  where: string;
  params: unknown[];
}

export interface CompileOptions {
  /** Parameters already used by the enclosing statement (numbered placeholders start after them). */
  paramOffset?: number;
}

/**
 * Compiles a query to SQL over the `thing_index(thing_name, field, value_text, value_num)` table.
 * Every leaf becomes `t.thing_name IN (SELECT … WHERE field = ? AND …)`, which the
 * `(field, value_text, thing_name)` and `(field, value_num, thing_name)` indexes serve. Agrees
 * with `matchesFleetQuery` (see there for the semantics).
 */
export function compileFleetQuery(
  node: FleetQueryNode,
  dialect: SqlDialect,
  options: CompileOptions = {},
): CompiledFleetQuery {
  const params: unknown[] = [];
  const offset = options.paramOffset ?? 0;
  const param = (value: unknown): string => {
    params.push(value);
    return dialect.placeholders === 'numbered' ? `$${offset + params.length}` : '?';
  };

  const compileNode = (n: FleetQueryNode): string => {
    switch (n.kind) {
      case 'and':
      case 'or':
        return `(${n.operands.map(compileNode).join(n.kind === 'and' ? ' AND ' : ' OR ')})`;
      case 'not':
        return `NOT (${compileNode(n.operand)})`;
      default: {
        // Placeholders are numbered in the order they are written: field first, then the condition.
        const field = param(n.field);
        const condition = compileLeaf(n, dialect, param);
        const where = condition === '' ? `i.field = ${field}` : `i.field = ${field} AND ${condition}`;
        return `t.thing_name IN (SELECT i.thing_name FROM thing_index i WHERE ${where})`;
      }
    }
  };

  return { where: compileNode(node), params };
}

function compileLeaf(leaf: FleetQueryLeaf, dialect: SqlDialect, param: (value: unknown) => string): string {
  switch (leaf.kind) {
    case 'exists':
      return '';
    case 'term': {
      if (leaf.match.kind === 'exact') return `i.value_text = ${param(leaf.match.value)}`;
      const { operator, escapeClause } = dialect.pattern;
      return `i.value_text ${operator} ${param(toPattern(leaf.match.parts, dialect))}${escapeClause}`;
    }
    case 'compare':
      return comparison(leaf.op, leaf.value, dialect, param);
    case 'range': {
      const conditions: string[] = [];
      if (leaf.lower !== null) {
        conditions.push(comparison(leaf.lower.inclusive ? '>=' : '>', leaf.lower.value, dialect, param));
      }
      if (leaf.upper !== null) {
        conditions.push(comparison(leaf.upper.inclusive ? '<=' : '<', leaf.upper.value, dialect, param));
      }
      return conditions.join(' AND ');
    }
  }
}

/** Numbers compare with `value_num` (NULL for non-numeric rows, so they drop out); strings with text. */
function comparison(
  op: CompareOp,
  value: FleetQueryValue,
  dialect: SqlDialect,
  param: (value: unknown) => string,
): string {
  if (typeof value === 'number') return `i.value_num ${op} ${param(value)}`;
  return `i.value_text${dialect.textOrder} ${op} ${param(value)}`;
}

function toPattern(parts: readonly PatternPart[], dialect: SqlDialect): string {
  const { anyChars, anyChar, literals } = dialect.pattern;
  let out = '';
  for (const part of parts) {
    if (part.kind === 'anyChars') out += anyChars;
    else if (part.kind === 'anyChar') out += anyChar;
    else for (const ch of part.text) out += literals[ch] ?? ch;
  }
  return out;
}
