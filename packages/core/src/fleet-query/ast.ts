/**
 * The fleet query AST: frozen, `kind`-tagged nodes with one parser and several back ends (the
 * in-memory matcher and one SQL compiler per dialect). Build nodes only through the constructors
 * below: they normalise (flatten nested AND/OR, merge pattern literals, `field:*` → exists) so
 * that equal queries have deep-equal trees and `parse(print(node))` gives `node` back.
 */

/** A comparison or range value: a number when written as an unquoted decimal, else a string. */
export type FleetQueryValue = number | string;

export interface AndNode {
  readonly kind: 'and';
  readonly operands: readonly FleetQueryNode[];
}
export interface OrNode {
  readonly kind: 'or';
  readonly operands: readonly FleetQueryNode[];
}
export interface NotNode {
  readonly kind: 'not';
  readonly operand: FleetQueryNode;
}
/** `field:value` (exact, case-sensitive) or `field:pat*ter?n` (wildcard). */
export interface TermNode {
  readonly kind: 'term';
  readonly field: string;
  readonly match: TermMatch;
}
/** `field:[lo TO hi]`, `{lo TO hi}`, mixed brackets; a `null` bound is open (`*`). */
export interface RangeNode {
  readonly kind: 'range';
  readonly field: string;
  readonly lower: RangeBound | null;
  readonly upper: RangeBound | null;
}
/** `field>v`, `field>=v`, `field<v`, `field<=v`. */
export interface CompareNode {
  readonly kind: 'compare';
  readonly field: string;
  readonly op: CompareOp;
  readonly value: FleetQueryValue;
}
/** `field:*`: the thing has at least one value for the field. */
export interface ExistsNode {
  readonly kind: 'exists';
  readonly field: string;
}

export type FleetQueryNode = AndNode | OrNode | NotNode | TermNode | RangeNode | CompareNode | ExistsNode;
export type FleetQueryLeaf = TermNode | RangeNode | CompareNode | ExistsNode;

export const COMPARE_OPS = ['<', '<=', '>', '>='] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export interface RangeBound {
  readonly value: FleetQueryValue;
  readonly inclusive: boolean;
}

export type TermMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'wildcard'; readonly parts: readonly PatternPart[] };

/** One piece of a wildcard pattern: literal text, `*` (any sequence) or `?` (one character). */
export type PatternPart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'anyChars' }
  | { readonly kind: 'anyChar' };

const ANY_CHARS: PatternPart = Object.freeze({ kind: 'anyChars' });
const ANY_CHAR: PatternPart = Object.freeze({ kind: 'anyChar' });

export function and(operands: readonly FleetQueryNode[]): FleetQueryNode {
  return junction('and', operands);
}

export function or(operands: readonly FleetQueryNode[]): FleetQueryNode {
  return junction('or', operands);
}

export function not(operand: FleetQueryNode): NotNode {
  return Object.freeze({ kind: 'not', operand });
}

export function exists(field: string): ExistsNode {
  return Object.freeze({ kind: 'exists', field: checkField(field) });
}

/** An exact, case-sensitive `field:value` term. */
export function term(field: string, value: string): TermNode {
  return Object.freeze({
    kind: 'term',
    field: checkField(field),
    match: Object.freeze({ kind: 'exact', value }),
  });
}

/** A wildcard term; without any wildcard it is an exact term, and `*` alone is `exists`. */
export function wildcardTerm(field: string, parts: readonly PatternPart[]): TermNode | ExistsNode {
  const merged: PatternPart[] = [];
  for (const part of parts) {
    const last = merged.at(-1);
    if (part.kind === 'literal') {
      if (part.text === '') continue;
      if (last?.kind === 'literal') merged[merged.length - 1] = literal(last.text + part.text);
      else merged.push(literal(part.text));
    } else if (part.kind === 'anyChars') {
      if (last?.kind !== 'anyChars') merged.push(ANY_CHARS); // `**` means `*`
    } else {
      merged.push(ANY_CHAR);
    }
  }
  if (merged.every((p) => p.kind === 'literal')) return term(field, merged[0]?.text ?? '');
  if (merged.length === 1 && merged[0]?.kind === 'anyChars') return exists(field);
  return Object.freeze({
    kind: 'term',
    field: checkField(field),
    match: Object.freeze({ kind: 'wildcard', parts: Object.freeze(merged) }),
  });
}

export function literal(text: string): PatternPart {
  return Object.freeze({ kind: 'literal', text });
}
export const anyChars = (): PatternPart => ANY_CHARS;
export const anyChar = (): PatternPart => ANY_CHAR;

/** A range; with both bounds open it matches any value, so it is `exists`. */
export function range(
  field: string,
  lower: RangeBound | null,
  upper: RangeBound | null,
): RangeNode | ExistsNode {
  if (lower === null && upper === null) return exists(field);
  return Object.freeze({
    kind: 'range',
    field: checkField(field),
    lower: freezeBound(lower),
    upper: freezeBound(upper),
  });
}

export function bound(value: FleetQueryValue, inclusive: boolean): RangeBound {
  return Object.freeze({ value: checkValue(value), inclusive });
}

export function compare(field: string, op: CompareOp, value: FleetQueryValue): CompareNode {
  return Object.freeze({ kind: 'compare', field: checkField(field), op, value: checkValue(value) });
}

/** Calls `visit` on every leaf, left to right. */
export function forEachLeaf(node: FleetQueryNode, visit: (leaf: FleetQueryLeaf) => void): void {
  switch (node.kind) {
    case 'and':
    case 'or':
      for (const operand of node.operands) forEachLeaf(operand, visit);
      return;
    case 'not':
      forEachLeaf(node.operand, visit);
      return;
    default:
      visit(node);
  }
}

/** Matches what the parser and the index read as a number: a finite decimal, exponent allowed. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a string spells as a finite decimal, else `null` (`'075'` → 75, `'1e999'` → null). */
export function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const n = Number(text);
  if (!Number.isFinite(n)) return null;
  return n === 0 ? 0 : n; // no -0: SQL and String() would not keep it
}

function junction(kind: 'and' | 'or', operands: readonly FleetQueryNode[]): FleetQueryNode {
  const flat: FleetQueryNode[] = [];
  for (const operand of operands) {
    if (operand.kind === kind) flat.push(...operand.operands);
    else flat.push(operand);
  }
  const [first] = flat;
  if (first === undefined) throw new RangeError(`an ${kind} node needs at least one operand`);
  if (flat.length === 1) return first;
  return Object.freeze({ kind, operands: Object.freeze(flat) });
}

function freezeBound(b: RangeBound | null): RangeBound | null {
  return b === null ? null : bound(b.value, b.inclusive);
}

function checkField(field: string): string {
  if (field === '') throw new RangeError('a fleet query field name cannot be empty');
  return field;
}

function checkValue(value: FleetQueryValue): FleetQueryValue {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`fleet query numbers must be finite, not ${value}`);
    return value === 0 ? 0 : value;
  }
  return value;
}
