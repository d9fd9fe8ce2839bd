// A visible pipeline: the banner when the feed is behind ingest, and the Ingestion page (warnings
// per kind with examples, bot traffic, rate limits). The gateway's /pipeline and /ingestion answer.
import { useContext, useEffect, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { useLoad } from "./hooks.js";
import { PageHead } from "./page.jsx";
import { Link, linkTo } from "./router.jsx";
import { count, fmtDuration, fmtFull, relative } from "./time.js";

// The lag is asked for this often (a link may set ?pipeline_ms=, for tests), never more than once a second.
const PIPELINE_MS = Math.min(Math.max(Number(new URLSearchParams(location.search).get("pipeline_ms")) || 15000, 1000), 120000);

const KIND_LABELS = {
  identity_refused: "Refused identities", alias_refused: "Refused aliases", properties_refused: "Refused properties",
  properties_dropped: "Properties dropped (over the limits)", time_clamped: "Event times in the future (clamped)",
  dead_lettered: "Items set aside (dead-lettered)",
};
const BOT_LABELS = { crawler: "Crawlers", headless: "Headless browsers", monitoring: "Monitoring agents", excluded_ip: "Excluded addresses" };

export function PipelineBanner() {
  const { api, route } = useContext(EnvContext);
  const [lag, setLag] = useState(null);
  useEffect(() => {
    let live = true;
    const ask = () => document.visibilityState !== "hidden"
      && api.pipeline().then((l) => live && setLag(l)).catch(() => live && setLag(null));
    ask();
    const timer = setInterval(ask, PIPELINE_MS);
    return () => { live = false; clearInterval(timer); };
  }, [api]);
  if (!lag || lag.status !== "behind") return null;
  return (
    <div class="banner warn-banner" role="status" data-testid="pipeline-behind">
      <strong>Events are {fmtDuration(lag.behind_s)} behind.</strong>
      <span>The feed shows what has been processed so far; newer events will appear as processing catches up.</span>
      <Link class="small" href={linkTo(route, "ingestion", null)}>Ingestion health</Link>
    </div>
  );
}

function Counts({ counts, labels, testid }) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return <p class="muted small">None.</p>;
  return (
    <dl class="props" data-testid={testid}>
      {entries.map(([k, n]) => (<><dt>{labels[k] || k}</dt><dd>{n.toLocaleString()}</dd></>))}
    </dl>
  );
}

function WarningKind({ group }) {
  return (
    <section class="card pad warning-kind" data-testid="warning-kind" data-kind={group.kind}>
      <h3>{KIND_LABELS[group.kind] || group.kind} <span class="count-badge">{group.count.toLocaleString()}</span></h3>
      <p class="muted small">Latest {relative(group.latest)}</p>
      <ul class="examples">
        {group.examples.map((w) => (
          <li data-testid="warning-example">
            <span>{w.message}</span>
            <span class="muted small" title={fmtFull(w.occurred_at)}> · {relative(w.occurred_at)}{w.subject ? ` · user ${w.subject}` : ""}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function IngestionPage() {
  const { api } = useContext(EnvContext);
  const { data, error } = useLoad(() => api.ingestion(), [api]);
  if (error) return <div class="state error-state" role="alert" data-testid="ingestion-error">Could not load ingestion health: {error}</div>;
  if (!data) return <div class="loading-state state"><span class="spinner" /> Loading ingestion health…</div>;
  const { warnings, bots, rate_limited: limited, pipeline } = data;
  const behind = pipeline.status === "behind";
  return (
    <div data-testid="ingestion-page">
      <PageHead title="Ingestion health" subtitle={`What was refused, dropped or set aside · last ${data.days} days`} />
      <div class="ingestion-grid">
        <section class="card pad" data-testid="ingestion-pipeline">
          <h2 class="col-title">Pipeline</h2>
          <p class={behind ? "warn-text" : ""}>
            {pipeline.status === "unknown" ? "The lag cannot be measured right now."
              : behind ? `Events are ${fmtDuration(pipeline.behind_s)} behind.` : "Live: the feed is up to date."}
          </p>
          {pipeline.last_stored && <p class="muted small">Last stored {relative(pipeline.last_stored)}.</p>}
        </section>
        <section class="card pad" data-testid="ingestion-bots">
          <h2 class="col-title">Bot traffic ({bots.action === "keep" ? "kept, flagged" : "dropped"} now)</h2>
          <h3 class="small">Dropped</h3>
          <Counts counts={bots.dropped} labels={BOT_LABELS} testid="bots-dropped" />
          <h3 class="small">Flagged (dropped or kept)</h3>
          <Counts counts={bots.flagged} labels={BOT_LABELS} testid="bots-flagged" />
        </section>
        <section class="card pad" data-testid="ingestion-rate-limited">
          <h2 class="col-title">Rate limit</h2>
          <p>{limited.events ? `${count(limited.events, "event")} refused (429)` : "No request was refused."}</p>
          <Counts counts={limited.by_day} labels={{}} testid="rate-limited-days" />
        </section>
      </div>
      <h2 class="section-title">Warnings</h2>
      {warnings.kinds.length === 0 && <div class="state empty-state" data-testid="no-warnings">No ingestion warning: everything sent was stored as sent.</div>}
      {warnings.kinds.map((group) => <WarningKind group={group} />)}
      {!warnings.complete && <p class="muted small">Counted over the newest {warnings.scanned.toLocaleString()} warnings.</p>}
    </div>
  );
}
