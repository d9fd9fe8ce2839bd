/** Page and campaign context, in Segment's `context.page` / `context.campaign` shape. */

export interface PageContext {
  url: string;
  path: string;
  search: string;
  hash: string;
  title: string;
  referrer: string;
}

export function pageContext(loc: Location = location, doc: Document = document): PageContext {
  return {
    url: loc.href,
    path: loc.pathname,
    search: loc.search,
    hash: loc.hash,
    title: doc.title,
    referrer: doc.referrer,
  };
}

const UTM_FIELDS: Record<string, string> = {
  utm_source: "source",
  utm_medium: "medium",
  utm_campaign: "name",
  utm_term: "term",
  utm_content: "content",
};

/** The five UTM parameters of a query string (docs/semantics.md: only these are parsed). */
export function campaignFrom(search: string): Record<string, string> | undefined {
  const params = new URLSearchParams(search);
  const out: Record<string, string> = {};
  for (const [utm, field] of Object.entries(UTM_FIELDS)) {
    const value = params.get(utm);
    if (value) out[field] = value;
  }
  return Object.keys(out).length ? out : undefined;
}
