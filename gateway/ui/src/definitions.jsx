// The Definitions page: every defined event, searchable; edit, recolour, archive and restore.
// Search, the archived tab and the definition being edited live in the URL like every view.
import { useContext, useEffect, useState } from "preact/hooks";
import { EnvContext } from "./context.js";
import { PageHead } from "./page.jsx";
import { Preview, Swatches, nameTaken } from "./define.jsx";
import { patchQuery } from "./router.jsx";
import { fmtDate } from "./time.js";

// "click on button#buy with text “Buy” on /pricing" — one criteria object in words.
function criterionText(c) {
  if (c.definition_id) return "another definition";
  const parts = [c.kind ? `${c.kind}` : "any event"];
  if (c.name) parts.push(`named “${c.name}”`);
  if (c.selector) parts.push(`on ${c.selector}`);
  if (c.text) parts.push(`with text ${c.text.op === "equals" ? "" : `${c.text.op} `}“${c.text.value}”`);
  if (c.path) parts.push(`at ${c.path}`);
  if (c.domain) parts.push(`on ${c.domain}`);
  (c.properties || []).forEach((p) => parts.push(`where ${p.property} ${p.op}${p.value !== undefined ? ` “${p.value}”` : ""}`));
  return parts.join(" ");
}

export const criteriaText = (criteria) => (Array.isArray(criteria) ? criteria : [criteria]).map(criterionText).join(" or ");

const plain = (criteria) => (Array.isArray(criteria) ? criteria : [criteria]).every((c) => c && !c.definition_id);

function Editor({ definition, definitions, onSaved, onCancel }) {
  const { api } = useContext(EnvContext);
  const [name, setName] = useState(definition.name);
  const [color, setColor] = useState(definition.color || "#6c5ce7");
  const [category, setCategory] = useState(definition.category || "");
  const [description, setDescription] = useState(definition.description || "");
  const [criteriaJson, setCriteriaJson] = useState(JSON.stringify(definition.criteria, null, 2));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  let criteria = null;
  try {
    criteria = JSON.parse(criteriaJson);
  } catch {
    criteria = null;
  }
  const twin = !definition.archived && nameTaken(name, definitions, definition.id);
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim(), color, description, criteria, ...(category.trim() ? { category: category.trim() } : {}) };
      onSaved(await api.updateDefinition(definition.id, body));
    } catch (err) {
      const where = (err.details.errors || []).map((x) => `${x.field}: ${x.message}`).join("; ");
      setError(where ? `${err.message} — ${where}` : err.message);
      setBusy(false);
    }
  };
  return (
    <form class="definition-editor" onSubmit={save} data-testid="definition-editor" aria-label={`Edit ${definition.name}`}>
      <label class="field">Name<input value={name} onInput={(e) => setName(e.target.value)} data-testid="edit-name" /></label>
      {twin && <div class="warn-text" role="alert" data-testid="edit-duplicate">A definition named “{twin.name}” already exists.</div>}
      <div class="field">Colour<Swatches color={color} onChange={setColor} /></div>
      <label class="field">Category<input value={category} onInput={(e) => setCategory(e.target.value)} /></label>
      <label class="field">Description<input value={description} onInput={(e) => setDescription(e.target.value)} /></label>
      <label class="field">Criteria (JSON: one object, or a list meaning “any of”)
        <textarea rows={6} value={criteriaJson} onInput={(e) => setCriteriaJson(e.target.value)} spellcheck={false} data-testid="edit-criteria" /></label>
      {!criteria && <div class="error-text">The criteria are not valid JSON.</div>}
      {criteria && plain(criteria) && <Preview criteria={criteria} />}
      {error && <div class="error-text" role="alert" data-testid="edit-error">{error}</div>}
      <div class="row end">
        <button type="button" class="btn ghost small" onClick={onCancel}>Cancel</button>
        <button type="submit" class="btn primary small" disabled={busy || !criteria || !name.trim() || !!twin} data-testid="edit-save">Save</button>
      </div>
    </form>
  );
}

export function DefinitionsPage() {
  const { api, route, definitions: live, changedDefinitions } = useContext(EnvContext);
  const q = route.query;
  const archived = q.archived === "1";
  const [list, setList] = useState({ items: null, error: null });
  const [version, setVersion] = useState(0);
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    let on = true;
    api.definitions(archived ? "true" : "false").then((d) => on && setList({ items: d.definitions, error: null }))
      .catch((err) => on && setList({ items: null, error: err.message }));
    return () => { on = false; };
  }, [api, archived, version]);
  const changed = () => {
    setVersion((v) => v + 1);
    changedDefinitions();
  };
  const act = (promise) => promise.then(() => { setFailure(null); changed(); }).catch((err) => setFailure(err.message));
  const search = (q.q || "").trim().toLowerCase();
  const shown = (list.items || []).filter((d) => !search || `${d.name} ${d.category || ""} ${criteriaText(d.criteria)}`.toLowerCase().includes(search));
  return (
    <div data-testid="definitions-page">
      <PageHead title="Definitions" subtitle="Named, coloured events: they label raw events everywhere, past ones included" />
      <div class="toolbar">
        <input type="search" class="search" placeholder="Search definitions" aria-label="Search definitions" value={q.q || ""}
          onInput={(e) => patchQuery(route, { q: e.target.value || null }, { replace: true })} data-testid="definitions-search" />
        <div class="segmented" role="group" aria-label="Which definitions">
          <button class={!archived ? "on" : ""} aria-pressed={!archived ? "true" : "false"} onClick={() => patchQuery(route, { archived: null, edit: null })}
            data-testid="definitions-live">Live</button>
          <button class={archived ? "on" : ""} aria-pressed={archived ? "true" : "false"} onClick={() => patchQuery(route, { archived: "1", edit: null })}
            data-testid="definitions-archived">Archived</button>
        </div>
      </div>
      {list.error && <div class="banner error-state" role="alert">{list.error}</div>}
      {failure && <div class="banner error-state" role="alert" data-testid="definitions-error">{failure}</div>}
      {!list.items && !list.error && <div class="loading-state"><span class="spinner" /> Loading definitions…</div>}
      {list.items && shown.length === 0 && (
        <div class="state empty-state" data-testid="definitions-empty">
          {search ? "No definition matches this search." : archived ? "Nothing is archived." : "No definitions yet: define an event from a session's events."}
        </div>
      )}
      <ul class="definitions" aria-label="Definitions">
        {shown.map((d) => (
          <li class="card definition" data-testid="definition" data-definition-id={d.id}>
            <div class="definition-row">
              <span class="marker" style={{ background: d.color || "#6c5ce7" }} aria-hidden="true" />
              <div class="definition-main">
                <strong data-testid="definition-name">{d.name}</strong>
                <span class="muted small">{d.category ? `${d.category} · ` : ""}{criteriaText(d.criteria)}</span>
              </div>
              <span class="muted small">since {fmtDate(d.created_at)}</span>
              {!archived && <button class="btn small" onClick={() => patchQuery(route, { edit: q.edit === d.id ? null : d.id })}
                aria-expanded={q.edit === d.id ? "true" : "false"} data-testid="definition-edit">Edit</button>}
              {!archived && <button class="btn small" onClick={() => act(api.archive(d.id))} data-testid="definition-archive">Archive</button>}
              {archived && <button class="btn small" onClick={() => act(api.restore(d.id))} data-testid="definition-restore">Restore</button>}
            </div>
            {q.edit === d.id && !archived && (
              <Editor definition={d} definitions={live} onCancel={() => patchQuery(route, { edit: null })}
                onSaved={() => { patchQuery(route, { edit: null }); changed(); }} />
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
