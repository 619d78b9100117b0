import { createRequire } from 'node:module';

/**
 * The few DOM members read here. @xmldom/xmldom's own typings pull the browser's `dom` lib into the whole program
 * (its globals clash with Node's fetch types), so it is loaded untyped and described by these.
 */
export interface XNode {
  readonly nodeType: number;
  readonly firstChild: XNode | null;
  readonly nextSibling: XNode | null;
  readonly parentNode: XNode | null;
  readonly textContent: string | null;
}
export interface XElement extends XNode {
  readonly localName: string;
  readonly namespaceURI: string | null;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
}
export interface XDocument extends XNode {
  readonly documentElement: XElement | null;
}
type Element = XElement;
type Node = XNode;
type Document = XDocument;
const { DOMParser } = createRequire(import.meta.url)('@xmldom/xmldom') as { DOMParser: new (options: unknown) => { parseFromString(xml: string, mime: string): XDocument } };

/** XML namespaces of SAML 2.0 (saml-core §1.2) and XML Signature / metadata. */
export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
} as const;

export class XmlRefused extends Error {}

/**
 * Any DOCTYPE is refused before parsing: SAML never needs a DTD, and a DTD is how entity expansion ("billion
 * laughs") and external entities (XXE) get in (OWASP XML External Entity Prevention Cheat Sheet; saml-core does
 * not use DTDs). Processing instructions other than the XML declaration are refused for the same reason.
 */
export function parseXmlStrict(xml: string): Document {
  if (/<!DOCTYPE/i.test(xml) || /<!ENTITY/i.test(xml)) throw new XmlRefused('The XML has a DOCTYPE or an entity declaration.');
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: {
      error: (message: string) => errors.push(message),
      fatalError: (message: string) => errors.push(message),
    },
  }).parseFromString(xml, 'text/xml');
  if (errors.length > 0 || !doc?.documentElement) throw new XmlRefused(`The XML is not well-formed${errors[0] ? `: ${errors[0].slice(0, 200)}` : ''}.`);
  return doc;
}

/** The element children of `parent` named `ns`:`local`. */
export function children(parent: Node | null | undefined, ns: string, local: string): Element[] {
  const out: Element[] = [];
  if (!parent) return out;
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).localName === local && (n as Element).namespaceURI === ns) out.push(n as Element);
  }
  return out;
}

export const child = (parent: Node | null | undefined, ns: string, local: string): Element | undefined => children(parent, ns, local)[0];

/** Every descendant element named `ns`:`local`. */
export function descendants(root: Node, ns: string, local: string): Element[] {
  const out: Element[] = [];
  const walk = (n: Node) => {
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.nodeType !== 1) continue;
      const e = c as Element;
      if (e.localName === local && e.namespaceURI === ns) out.push(e);
      walk(e);
    }
  };
  walk(root);
  return out;
}

/**
 * The element's text when it is text only. A comment or an element inside a value is refused rather than read:
 * canonicalization drops comments, so `user@corp.example<!---->.evil.example` keeps a valid signature while a
 * reader that takes the first text node sees `user@corp.example` (CVE-2017-11428 class, "comment injection").
 */
export function textOnly(element: Element): string {
  let text = '';
  for (let n = element.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 3 || n.nodeType === 4) text += (n as unknown as { data: string }).data;
    else throw new XmlRefused(`<${element.localName}> holds something other than text (a comment or an element).`);
  }
  return text.trim();
}

/** The attribute's value, or null when absent (xmldom's getAttribute answers '' for an absent attribute). */
export const attr = (e: XElement | null | undefined, name: string): string | null => (e && e.hasAttribute(name) ? e.getAttribute(name) : null);
