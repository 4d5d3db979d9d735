// Client-side routes live under /app/ so they never collide with API paths
// (the server answers any /app/... with index.html).
import { useEffect, useState } from "react";

// A page with work it would lose (the editor's unsaved canvas) asks before the app leaves it:
// a link, navigate(), or the browser's Back and Forward (the address is put back when the
// person stays). Closing or reloading the tab is the page's own beforeunload.
let leaveQuestion: (() => string | null) | null = null;
let shown = location.pathname;

function mayLeave(): boolean {
  const question = leaveQuestion?.();
  return !question || window.confirm(question);
}

/** While ``question`` is not null, leaving this page asks it first (confirm); the page stays
 *  when the person says no. */
export function useLeaveGuard(question: string | null): void {
  useEffect(() => {
    if (question === null) return;
    const ask = () => question;
    leaveQuestion = ask;
    return () => { if (leaveQuestion === ask) leaveQuestion = null; };
  }, [question]);
}

window.addEventListener("popstate", (e) => {
  if (!e.isTrusted || location.pathname === shown) { shown = location.pathname; return; }  // navigate()'s own
  if (!mayLeave()) {  // Back or Forward, and the person stays: the address goes back to this page
    history.pushState(null, "", shown);
    e.stopImmediatePropagation();
    return;
  }
  shown = location.pathname;
});

export function navigate(path: string, replace = false): void {
  if (path !== location.pathname && !mayLeave()) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  shown = location.pathname;
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return path;
}

export function Link({ to, children, className }: { to: string; children: React.ReactNode; className?: string }) {
  return (
    <a href={to} className={className} onClick={(e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey) return;
      e.preventDefault();
      navigate(to);
    }}>
      {children}
    </a>
  );
}
