/**
 * Safe HTML building for the report. Every value interpolated with the `html` tag is escaped
 * unless it is already SafeHtml (built by this module), so data from the database (file names,
 * reject reasons, service names in test samples) can never become markup.
 */
import { createHash } from 'node:crypto';

/** A fragment of HTML that is already safe to insert as is. */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/** What the `html` tag accepts: plain values are escaped, arrays are joined, null/undefined/false vanish. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function renderValue(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(renderValue).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<td>${name}</td>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (const [i, value] of values.entries()) out += renderValue(value) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/**
 * JSON that can sit inside a <script> element: `<`, `>` and `&` (and the two line separators
 * JavaScript once rejected) become \\u escapes, which JSON.parse reads back unchanged. So no
 * string can close the element (`</script>`) or open a comment (`<!--`).
 */
export function jsonForScript(data: unknown): string {
  const json = JSON.stringify(data, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)) ?? 'null';
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Data for the page's scripts: a non-executed JSON block, read with JSON.parse(element.textContent). */
export function jsonScriptTag(id: string, data: unknown): SafeHtml {
  return html`<script type="application/json" id="${id}">${new SafeHtml(jsonForScript(data))}</script>`;
}

/**
 * An inline (executed) script. Its source is trusted code of ours or of a bundled library, never
 * data; it is still checked not to contain anything that would end the element early.
 */
export function inlineScript(source: string): SafeHtml {
  if (/<\/script|<!--/i.test(source)) throw new Error('inline script contains "</script" or "<!--"; it cannot be inlined as is');
  return new SafeHtml(`<script>${source}</script>`);
}

/** The CSP source expression allowing exactly this inline script. */
export function scriptHash(source: string): string {
  return `'sha256-${createHash('sha256').update(source, 'utf8').digest('base64')}'`;
}
