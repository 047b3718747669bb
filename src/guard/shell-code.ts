import { texts, type View } from './argv.js';

/**
 * Code that bash builtins carry in their arguments and run later or at once (issue 14 item 0:
 * embedded code never hides behind allow): `trap 'CMD' SIG`, `alias x='CMD'`, `bind -x '"k": CMD'`,
 * `bind '"k": "typed text"'`, `complete -C CMD`, `compgen -C CMD`. The analyzer judges each string
 * as a command line (or approves when it is only known at run time).
 */
export interface EmbeddedCode {
  text: string;
  /** The string is only known at run time. */
  dynamic: boolean;
  /** Runs in the shell that ran the builtin (its state changes are that shell's). */
  sameShell: boolean;
  what: string;
}

/** Bash key sequences in readline syntax: `"\C-x": …` or `keyname: …`. */
function bindValue(arg: string): string | undefined {
  const m = /^\s*(?:"(?:[^"\\]|\\.)*"|[^\s:"]+)\s*:\s*(.*)$/s.exec(arg);
  return m ? m[1] : undefined;
}

/** A readline macro's text as typed (`"rm -rf ~\n"` -> `rm -rf ~` and a line end). */
function macroText(v: string): string {
  const q = /^"((?:[^"\\]|\\.)*)"/.exec(v.trim());
  const body = q ? q[1] : v.trim();
  return body.replace(/\\(["'\\])/g, '$1').replace(/\\[nrCeM]-?./g, '\n').replace(/\\[nr]/g, '\n');
}

const NONE: EmbeddedCode[] = [];

export function embeddedCode(v: View): EmbeddedCode[] {
  const p = v.prog;
  if (p !== 'trap' && p !== 'alias' && p !== 'bind' && p !== 'complete' && p !== 'compgen') return NONE;
  const out: EmbeddedCode[] = [];
  if (p === 'trap') {
    // trap [-lp] [[ARG] SIGSPEC …]: ARG is run when a signal (or DEBUG/ERR/RETURN/EXIT) fires.
    let i = 0;
    while (i < v.args.length && /^-[lp]+$/.test(v.args[i].text)) i++;
    if (v.args[i]?.text === '--') i++;
    const rest = v.args.slice(i);
    if (rest.length >= 2) {
      const h = rest[0];
      if (h.text !== '-' && (h.text !== '' || h.dynamic)) out.push({ text: h.text, dynamic: h.dynamic, sameShell: true, what: 'trap handler' });
    }
    return out;
  }
  if (p === 'alias') {
    for (const w of v.args) {
      const eq = w.text.indexOf('=');
      if (eq > 0) out.push({ text: w.text.slice(eq + 1), dynamic: w.dynamic, sameShell: true, what: `alias ${w.text.slice(0, eq)}` });
      else if (w.dynamic) out.push({ text: w.text, dynamic: true, sameShell: true, what: 'alias' });
    }
    return out;
  }
  if (p === 'bind') {
    const a = texts(v.args);
    for (let i = 0; i < a.length; i++) {
      if (a[i] === '-x' || (/^-[A-Za-z]*x$/.test(a[i]) && !/[fqurmpPsSvVlX]/.test(a[i].slice(1, -1)))) {
        const val = bindValue(a[i + 1] ?? '');
        out.push({ text: val ?? a[i + 1] ?? '', dynamic: v.args[i + 1]?.dynamic ?? false, sameShell: true, what: 'bind -x key command' });
        i++;
        continue;
      }
      if (a[i] === '-m' || a[i] === '-f' || a[i] === '-q' || a[i] === '-u' || a[i] === '-r') { i++; continue; }
      if (a[i].startsWith('-')) continue;
      const val = bindValue(a[i]);
      // A macro (a quoted string) is text readline types into the line, which bash then runs.
      if (val !== undefined && val.trim().startsWith('"')) out.push({ text: macroText(val), dynamic: v.args[i].dynamic, sameShell: true, what: 'bind macro (typed text)' });
    }
    return out;
  }
  if (p === 'complete' || p === 'compgen') {
    for (let i = 0; i < v.args.length; i++) {
      const t = v.args[i].text;
      if (t === '-C') {
        const w = v.args[i + 1];
        if (w) out.push({ text: w.text, dynamic: w.dynamic, sameShell: false, what: `${p} -C command` });
        i++;
      } else if (/^-[A-Za-z]*C./.test(t)) out.push({ text: t.slice(t.indexOf('C') + 1), dynamic: v.args[i].dynamic, sameShell: false, what: `${p} -C command` });
    }
  }
  return out;
}
