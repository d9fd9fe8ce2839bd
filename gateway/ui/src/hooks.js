// Small shared hooks: loading, dismissing popovers, trapping focus in dialogs, visibility.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

// {data, error} of an async load, reloaded when deps change; stale answers are dropped.
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    setState({ data: null, error: null });
    load().then((data) => live && setState({ data, error: null }))
      .catch((err) => live && setState({ data: null, error: err.message }));
    return () => { live = false; };
  }, deps);
  return state;
}

// The latest value of a callback, for listeners registered once.
export function useLatest(value) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

// A popover closes on Escape and on a click outside of `ref` (menus, the filter editor).
// Listening from the layout effect: the popover answers keys from the moment it is drawn.
export function useDismiss(ref, open, onClose) {
  const close = useLatest(onClose);
  useLayoutEffect(() => {
    if (!open) return undefined;
    const onKey = (e) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      close.current();
    };
    const onPointer = (e) => ref.current && !ref.current.contains(e.target) && close.current();
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onPointer);
    };
  }, [open]);
}

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea, [tabindex]:not([tabindex='-1'])";

const focusables = (box) => [...box.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);

// A dialog takes focus when it opens, keeps Tab inside, closes on Escape wherever focus is (in
// capture, so a player control cannot swallow it), and gives focus back to its opener.
export function useDialogFocus(ref, onClose) {
  const close = useLatest(onClose);
  useLayoutEffect(() => {
    const box = ref.current;
    const opener = document.activeElement;
    box.focus();
    const onKey = (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close.current();
      } else if (e.key === "Tab") {
        const items = focusables(box);
        if (!items.length) return e.preventDefault();
        const first = items[0];
        const last = items[items.length - 1];
        if (e.shiftKey && (document.activeElement === first || document.activeElement === box)) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && document.activeElement === last) {
          e.preventDefault();
          first.focus();
        }
      }
    };
    const onFocusIn = (e) => !box.contains(e.target) && box.focus();
    // A click into the replayed page moves focus into its iframe, whose keys never reach us: take
    // focus back so Escape still closes the dialog.
    const onBlur = () => setTimeout(() => {
      const active = document.activeElement;
      if (active && active.tagName === "IFRAME" && box.contains(active)) box.focus();
    });
    document.addEventListener("keydown", onKey, true);
    document.addEventListener("focusin", onFocusIn);
    window.addEventListener("blur", onBlur);
    return () => {
      document.removeEventListener("keydown", onKey, true);
      document.removeEventListener("focusin", onFocusIn);
      window.removeEventListener("blur", onBlur);
      if (opener && opener.isConnected && opener.focus) opener.focus();
    };
  }, []);
}

// Whether an element is on (or near) the screen: cards load their events only once seen.
export function useVisible(ref, margin = "300px") {
  const [visible, setVisible] = useState(false);
  useEffect(() => {
    if (visible || !ref.current) return undefined;
    if (typeof IntersectionObserver === "undefined") return setVisible(true);
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setVisible(true),
      { rootMargin: margin });
    observer.observe(ref.current);
    return () => observer.disconnect();
  }, [visible]);
  return visible;
}

export function useDebounced(value, ms) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
