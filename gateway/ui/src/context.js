// What every page of an environment shares: its API, its definitions (refreshed after a change),
// the labels version (bumped so open sessions relabel their events) and the view's window.
import { createContext } from "preact";

export const EnvContext = createContext(null);
