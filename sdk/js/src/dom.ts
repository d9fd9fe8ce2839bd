/** What autocapture records about an element: its hierarchy (target first), text and link. */

export interface HierarchyNode {
  tag: string;
  id?: string;
  classes: string[];
  attributes: Record<string, string>;
  nth: number; // 1-based position among element siblings, as in :nth-child
}

export const MAX_NODES = 30;
export const MAX_TEXT = 64; // Heap truncates node text to 64 UTF-16 units
const MAX_ATTRIBUTE = 256;
// Attributes that describe an element without carrying what the user typed (never `value`).
const KEPT_ATTRIBUTES = new Set(["name", "type", "role", "aria-label", "title", "alt", "href", "for", "action", "method"]);
const FORM_FIELDS = new Set(["input", "textarea", "select", "option"]);

export const IGNORE_ATTR = "data-footfall-ignore";
export const REDACT_TEXT_ATTR = "data-footfall-redact-text";

function attributesOf(el: Element): Record<string, string> {
  const out: Record<string, string> = {};
  for (const attr of Array.from(el.attributes)) {
    const name = attr.name.toLowerCase();
    const kept = KEPT_ATTRIBUTES.has(name) || (name.startsWith("data-") && !name.startsWith("data-footfall-"));
    if (kept) out[name] = attr.value.slice(0, MAX_ATTRIBUTE);
  }
  return out;
}

function nthChild(el: Element): number {
  let n = 1;
  for (let sib = el.previousElementSibling; sib; sib = sib.previousElementSibling) n++;
  return n;
}

export function describeNode(el: Element): HierarchyNode {
  const node: HierarchyNode = {
    tag: el.tagName.toLowerCase(),
    classes: Array.from(el.classList).slice(0, 20),
    attributes: attributesOf(el),
    nth: nthChild(el),
  };
  if (el.id) node.id = el.id;
  return node;
}

/** The element and its ancestors up to <html>, target first, at most MAX_NODES. */
export function hierarchy(target: Element): HierarchyNode[] {
  const nodes: HierarchyNode[] = [];
  for (let el: Element | null = target; el && nodes.length < MAX_NODES; el = el.parentElement) {
    nodes.push(describeNode(el));
  }
  return nodes;
}

const NO_TEXT = new Set(["script", "style", "noscript", "template"]);

function hidesText(el: Element): boolean {
  const tag = el.tagName.toLowerCase();
  return FORM_FIELDS.has(tag) || NO_TEXT.has(tag) || el.hasAttribute(REDACT_TEXT_ATTR) || el.hasAttribute(IGNORE_ATTR);
}

/** Text of the target, whitespace collapsed and capped; skips form fields and redacted or ignored parts. */
export function targetText(el: Element): string | undefined {
  if (el.closest(`[${REDACT_TEXT_ATTR}]`) || hidesText(el)) return undefined;
  let text = "";
  const walk = (node: Node) => {
    for (let child = node.firstChild; child && text.length <= MAX_TEXT * 4; child = child.nextSibling) {
      if (child.nodeType === 3) text += child.nodeValue;
      else if (child.nodeType === 1 && !hidesText(child as Element)) walk(child);
    }
  };
  walk(el);
  text = text.replace(/\s+/g, " ").trim();
  return text ? text.slice(0, MAX_TEXT) : undefined;
}

/** The link a click follows, if the target is inside one. */
export function targetHref(el: Element): string | undefined {
  const link = el.closest("a[href]");
  return link ? (link as HTMLAnchorElement).href : undefined;
}

export function isIgnored(el: Element): boolean {
  return el.closest(`[${IGNORE_ATTR}]`) !== null;
}

/** The Element an event happened on (text nodes answer their parent). */
export function eventElement(target: EventTarget | null): Element | null {
  const node = target as Node | null;
  if (!node) return null;
  return node.nodeType === 1 ? (node as Element) : node.parentElement;
}
