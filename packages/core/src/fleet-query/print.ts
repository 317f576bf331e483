import type { FleetQueryNode, FleetQueryValue, PatternPart, RangeNode } from './ast.js';
import { isQuerySpace, isQuerySpecial } from './scanner.js';

/**
 * Canonical query text: explicit `AND`, every term with its field, parentheses only where
 * precedence needs them (NOT > AND > OR). `parseFleetQuery(printFleetQuery(n))` deep-equals `n`.
 */
export function printFleetQuery(node: FleetQueryNode): string {
  switch (node.kind) {
    case 'and':
      return node.operands
        .map((o) => (o.kind === 'or' ? `(${printFleetQuery(o)})` : printFleetQuery(o)))
        .join(' AND ');
    case 'or':
      return node.operands.map(printFleetQuery).join(' OR ');
    case 'not': {
      const inner = printFleetQuery(node.operand);
      return node.operand.kind === 'and' || node.operand.kind === 'or' ? `NOT (${inner})` : `NOT ${inner}`;
    }
    case 'exists':
      return `${printField(node.field)}:*`;
    case 'term':
      return `${printField(node.field)}:${
        node.match.kind === 'exact' ? printExact(node.match.value) : node.match.parts.map(printPart).join('')
      }`;
    case 'range':
      return `${printField(node.field)}:${printRange(node)}`;
    case 'compare':
      return `${printField(node.field)}${node.op}${printScalar(node.value)}`;
  }
}

function printRange(node: RangeNode): string {
  const { lower, upper } = node;
  const open = lower === null || lower.inclusive ? '[' : '{';
  const close = upper === null || upper.inclusive ? ']' : '}';
  const lo = lower === null ? '*' : printScalar(lower.value);
  const hi = upper === null ? '*' : printScalar(upper.value);
  return `${open}${lo} TO ${hi}${close}`;
}

/** Numbers bare (they re-parse as numbers), strings always quoted (they re-parse as strings). */
function printScalar(value: FleetQueryValue): string {
  return typeof value === 'number' ? String(value) : quote(value);
}

function printExact(value: string): string {
  if (value === '' || [...value].some(isQuerySpace)) return quote(value);
  return escapeWord(value);
}

function printPart(part: PatternPart): string {
  switch (part.kind) {
    case 'anyChars':
      return '*';
    case 'anyChar':
      return '?';
    case 'literal':
      return escapeWord(part.text);
  }
}

/** A field name never starts with an unescaped `-`, which would read as negation. */
function printField(field: string): string {
  const escaped = escapeWord(field);
  return escaped.startsWith('-') ? `\\${escaped}` : escaped;
}

function escapeWord(text: string): string {
  let out = '';
  for (const ch of text) {
    out += isQuerySpecial(ch) || isQuerySpace(ch) || ch === '*' || ch === '?' ? `\\${ch}` : ch;
  }
  return out;
}

function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, '\\$&')}"`;
}
