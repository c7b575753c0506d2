/** Small DOM helpers for the demo pages. */

export function $(selector: string, root: ParentNode = document): HTMLElement {
  const found = root.querySelector<HTMLElement>(selector);
  if (!found) throw new Error(`no ${selector} on the page`);
  return found;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML templates. */
export function escape(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** A short notification (announced by screen readers: #toasts is an aria-live log). */
export function toast(text: string): void {
  const box = document.createElement('div');
  box.className = 'toast';
  box.textContent = text;
  $('#toasts').append(box);
  setTimeout(() => box.remove(), 8000);
}
