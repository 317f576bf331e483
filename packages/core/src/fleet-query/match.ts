import type { CompareOp, FleetQueryLeaf, FleetQueryNode, FleetQueryValue, PatternPart } from './ast.js';
import type { IndexField } from './index-fields.js';

/**
 * Whether a thing's index rows satisfy a query (used for dynamic thing groups). The SQL
 * compiler in `sql.ts` must agree with it exactly; one differential test checks that.
 *
 * - A leaf holds when ANY row of its field satisfies it; `NOT x` holds whenever `x` does not,
 *   including when the thing has no such field.
 * - Terms and wildcards compare text and are case-sensitive for every field, thingName,
 *   thingTypeName and thingGroupNames included. The AWS guide says "search is case insensitive"
 *   but does not say for which fields (it is about words of free text); exact, case-sensitive
 *   matching is what both SQL back ends can do on an index, so Otter documents it this way.
 * - `*` matches any sequence, `?` one character (code point), newlines included.
 * - A numeric bound (an unquoted decimal) compares numerically with rows that have a number
 *   and never matches rows that do not; a string bound compares text in code-point order
 *   (the order of UTF-8 bytes, which is how SQLite and PostgreSQL's "C" collation sort).
 */
export function matchesFleetQuery(node: FleetQueryNode, fields: readonly IndexField[]): boolean {
  switch (node.kind) {
    case 'and':
      return node.operands.every((o) => matchesFleetQuery(o, fields));
    case 'or':
      return node.operands.some((o) => matchesFleetQuery(o, fields));
    case 'not':
      return !matchesFleetQuery(node.operand, fields);
    default:
      return fields.some((row) => row.field === node.field && leafMatches(node, row));
  }
}

function leafMatches(leaf: FleetQueryLeaf, row: IndexField): boolean {
  switch (leaf.kind) {
    case 'exists':
      return true;
    case 'term':
      if (row.text === null) return false;
      return leaf.match.kind === 'exact'
        ? row.text === leaf.match.value
        : patternRegExp(leaf.match.parts).test(row.text);
    case 'compare':
      return satisfies(row, leaf.op, leaf.value);
    case 'range': {
      const { lower, upper } = leaf;
      return (
        (lower === null || satisfies(row, lower.inclusive ? '>=' : '>', lower.value)) &&
        (upper === null || satisfies(row, upper.inclusive ? '<=' : '<', upper.value))
      );
    }
  }
}

function satisfies(row: IndexField, op: CompareOp, value: FleetQueryValue): boolean {
  let order: number;
  if (typeof value === 'number') {
    if (row.num === null) return false;
    order = Math.sign(row.num - value);
  } else {
    if (row.text === null) return false;
    order = compareCodePoints(row.text, value);
  }
  switch (op) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
  }
}

/**
 * Compares strings by code point rather than by UTF-16 unit: units of surrogate pairs (code
 * points above U+FFFF) must sort after U+E000–U+FFFF, as their UTF-8 bytes do.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return Math.sign(a.length - b.length);
}

function fixup(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

const regExps = new WeakMap<readonly PatternPart[], RegExp>();

function patternRegExp(parts: readonly PatternPart[]): RegExp {
  let re = regExps.get(parts);
  if (re === undefined) {
    const source = parts
      .map((p) => {
        if (p.kind === 'anyChars') return '[^]*';
        if (p.kind === 'anyChar') return '[^]';
        return p.text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      })
      .join('');
    re = new RegExp(`^${source}$`, 'u');
    regExps.set(parts, re);
  }
  return re;
}
