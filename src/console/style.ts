/**
 * The console's stylesheet, sent in a nonce'd <style> (the CSP allows no other). Calm and plain:
 * system fonts, one accent, light and dark from the system setting. No inline `style=""`
 * attributes anywhere (the CSP would block them).
 */
export const STYLESHEET = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1d2329; --muted: #5b6670; --line: #dde2e7;
  --accent: #2f6f5e; --accent-text: #ffffff; --deny: #a23b3b; --warn-bg: #fff6e0; --warn: #7a5600;
  --code-bg: #f0f2f4; --ok-bg: #e7f4ee; --ok: #23614f;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15191d; --panel: #1c2126; --text: #e4e8ec; --muted: #9aa5af; --line: #2e353c;
    --accent: #5fb39b; --accent-text: #0e1a16; --deny: #e07c7c; --warn-bg: #3a3018; --warn: #f1c96b;
    --code-bg: #12161a; --ok-bg: #183129; --ok: #8fd4bf;
  }
}
* { box-sizing: border-box; }
html { background: var(--bg); color: var(--text); }
body {
  margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
}
header.top {
  display: flex; align-items: center; gap: 1.5rem; padding: 0.75rem 1.5rem;
  border-bottom: 1px solid var(--line); background: var(--panel);
}
header.top .brand { font-weight: 600; letter-spacing: 0.01em; }
header.top nav { display: flex; gap: 1rem; flex: 1; }
header.top nav a { color: var(--muted); text-decoration: none; }
header.top nav a[aria-current="page"] { color: var(--text); font-weight: 600; }
header.top .who { color: var(--muted); font-size: 0.9em; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; font-weight: 600; }
h2 { font-size: 1.05rem; margin: 2rem 0 0.75rem; font-weight: 600; color: var(--muted); }
.card {
  background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem 1.25rem; margin: 0 0 1rem;
}
.card .meta { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; color: var(--muted); font-size: 0.9em; }
.card .meta strong { color: var(--text); font-weight: 600; }
pre {
  background: var(--code-bg); border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all;
  font: 13px/1.45 ui-monospace, "SF Mono", Menlo, Consolas, monospace;
}
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0.75rem 0; }
dt { color: var(--muted); }
dd { margin: 0; word-break: break-word; }
.actions { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-end; margin-top: 0.75rem; }
.actions form { display: flex; gap: 0.5rem; align-items: flex-end; }
.actions form.deny { flex: 1; min-width: 16rem; }
textarea, input[type="password"], input[type="text"] {
  font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.45rem 0.6rem; width: 100%;
}
textarea { min-height: 2.5rem; resize: vertical; }
button {
  font: inherit; border-radius: 6px; padding: 0.45rem 1rem; cursor: pointer;
  border: 1px solid var(--line); background: var(--panel); color: var(--text);
}
button.approve { background: var(--accent); border-color: var(--accent); color: var(--accent-text); font-weight: 600; }
button.deny { color: var(--deny); border-color: var(--deny); }
button.link { border: none; background: none; color: var(--muted); padding: 0; text-decoration: underline; }
.notice { border-radius: 8px; padding: 0.6rem 0.9rem; margin: 0 0 1rem; background: var(--warn-bg); color: var(--warn); }
.notice.ok { background: var(--ok-bg); color: var(--ok); }
.status { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em; font-weight: 600; }
.status.approved, .status.used { color: var(--ok); }
.status.denied, .status.tampered { color: var(--deny); }
.status.expired { color: var(--muted); }
.empty { color: var(--muted); padding: 2rem 0; text-align: center; }
.login { max-width: 28rem; margin: 4rem auto; }
.login form { display: grid; gap: 0.75rem; }
.muted { color: var(--muted); font-size: 0.9em; }
a { color: var(--accent); }
main.wide { max-width: 80rem; }
.heading { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
.heading h1 { flex: 1; }
.live { font-size: 0.85em; color: var(--muted); }
.live[data-state="on"]::before { content: "● "; color: var(--ok); }
.live[data-state="retrying"]::before { content: "● "; color: var(--warn); }
mark { background: var(--warn-bg); color: var(--warn); border-radius: 3px; padding: 0 0.1em; }
kbd {
  font: 12px ui-monospace, Menlo, Consolas, monospace; border: 1px solid var(--line); border-bottom-width: 2px;
  border-radius: 4px; padding: 0 0.3em; background: var(--panel);
}
.card:focus { outline: 2px solid var(--accent); outline-offset: 2px; }
.table { overflow-x: auto; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
tbody tr:last-child td { border-bottom: none; }
td.action { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.95em; word-break: break-all; }
.decision.allow { color: var(--ok); }
.decision.deny { color: var(--deny); }
.decision.approve { color: var(--warn); }
form.filters {
  display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: 0.5rem 0.75rem;
  margin: 0 0 1rem; align-items: end;
}
form.filters label { display: grid; gap: 0.2rem; font-size: 0.85em; color: var(--muted); }
form.filters label.wide { grid-column: 1 / -1; }
form.filters .buttons { display: flex; gap: 0.75rem; align-items: center; }
input[type="search"], select {
  font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: 0.45rem 0.6rem; width: 100%;
}
form.connect { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 0.75rem 1rem; }
form.connect label { display: grid; gap: 0.2rem; font-size: 0.9em; color: var(--muted); }
form.connect .buttons, form.connect .wide { grid-column: 1 / -1; }
form.set-value { display: flex; gap: 0.4rem; margin-top: 0.4rem; }
form.set-value input { width: auto; flex: 1; min-width: 6rem; }
form.inline { display: block; margin: 0.15rem 0 0; }
form.deny { display: flex; gap: 0.75rem; align-items: flex-end; }
form.verify { display: flex; gap: 0.75rem; align-items: center; margin: 0 0 1.25rem; }
code.anchor { word-break: break-all; font-size: 0.85em; }
pre.terminal {
  font: 13px/1.35 ui-monospace, Menlo, Consolas, monospace; background: #101418; color: #dfe6ec;
  border: 1px solid var(--line); border-radius: 8px; padding: 0.6rem 0.75rem; min-height: 20rem; max-height: 70vh;
  overflow: auto; white-space: pre; margin: 0.75rem 0 0.5rem;
}
pre.terminal:focus { outline: 2px solid var(--accent); outline-offset: 2px; }
pre.terminal[data-mine="yes"] { border-color: var(--accent); }
pre.terminal .cursor { background: #dfe6ec; color: #101418; }
form.return label { display: grid; gap: 0.2rem; font-size: 0.9em; color: var(--muted); min-width: 18rem; }
`;
