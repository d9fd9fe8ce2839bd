// The feed's search box: identity, email, name or user id, as you type. The URL keeps it (?q=),
// written a moment after the last key (debounced), so typing "grace" asks the feed once or twice,
// not five times; one character is too little to search (the gateway wants two) and is not sent.
import { useEffect, useRef, useState } from "preact/hooks";

export const MIN_SEARCH = 2;
const DEBOUNCE_MS = 250;

// What the feed is asked for: the typed text once it is long enough, else nothing.
export const searchOf = (raw) => {
  const q = (raw || "").trim().split(/\s+/).join(" ");
  return q.length >= MIN_SEARCH ? q : "";
};

export function SearchBox({ value, onChange }) {
  const [text, setText] = useState(value || "");
  const timer = useRef(null);
  const sent = useRef(value || "");
  // Back / Forward or opening a segment changes the URL: the box follows it (but not its own
  // writes, which may lag behind what is typed by now).
  useEffect(() => {
    if ((value || "") !== sent.current) {
      sent.current = value || "";
      setText(value || "");
    }
  }, [value]);
  useEffect(() => () => clearTimeout(timer.current), []);
  const type = (next) => {
    setText(next);
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      sent.current = searchOf(next);
      onChange(sent.current);
    }, DEBOUNCE_MS);
  };
  const short = text.trim().length > 0 && text.trim().length < MIN_SEARCH;
  return (
    <div class="search-box" data-testid="search">
      <input type="search" value={text} placeholder="Search name, email, identity or user id"
        aria-label="Search users" maxLength={200} data-testid="search-input"
        onInput={(e) => type(e.target.value)}
        onKeyDown={(e) => { if (e.key === "Escape" && text) { e.stopPropagation(); type(""); } }} />
      {short && <span class="muted small" data-testid="search-hint">Type {MIN_SEARCH} characters or more</span>}
    </div>
  );
}
