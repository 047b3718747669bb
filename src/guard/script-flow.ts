import type { SimpleCommand } from './extract.js';
import { normalizePath } from './paths.js';
import { shellScriptOperand } from './rules-exec.js';
import { SHELLS } from './wrappers.js';

/**
 * A script written and run in the same line (issue 14 item 0): `echo 'CMD' > f; sh f`,
 * `printf '…' > f && chmod +x f && ./f`, `cat > f <<'EOF' … EOF` then `bash f`, `source f`, `. f`.
 * When what was written is known text, the run is judged as that script; when the line wrote text
 * the guard does not know (`curl … > f; sh f`), the run is approve in every context.
 */
export interface ScriptRun {
  /** The script's text, as the file holds it when the runner starts; undefined when the line wrote text the guard does not know. */
  text: string | undefined;
  /** The command that runs it. */
  runner: SimpleCommand;
  /** `source`/`.`: the script runs in this shell (its state changes are this shell's). */
  sameShell: boolean;
}

/** The file a command runs as a shell script, and whether in the same shell; undefined when it runs none. */
function runsScript(c: SimpleCommand): { path: string; sameShell: boolean } | undefined {
  const a = c.argv;
  const head = a[0];
  if (!head || head.dynamic) return undefined;
  const prog = head.text.slice(head.text.lastIndexOf('/') + 1);
  if (prog === 'source' || prog === '.') {
    const file = a[1];
    return file && !file.dynamic ? { path: file.text, sameShell: true } : undefined;
  }
  if (SHELLS.has(prog)) {
    const s = shellScriptOperand(a.slice(1));
    return s && !s.dynamic ? { path: s.text, sameShell: false } : undefined;
  }
  // `./f`, `/tmp/f`: the kernel runs it (a `#!` line or, without one, the shell).
  if (head.text.includes('/')) return { path: head.text, sameShell: false };
  return undefined;
}

/** Where a command writes its standard output to a file: the path and whether it appends. */
function writesStdout(c: SimpleCommand): { path: string; append: boolean } | undefined {
  for (const r of c.redirects) {
    if (
      !r.target ||
      r.target.dynamic ||
      !(r.fd === null || r.fd === '1') ||
      !(r.op === '>' || r.op === '>>' || r.op === '>|' || r.op === '&>' || r.op === '&>>')
    )
      continue;
    if (/^(\d+|-)$/.test(r.target.text)) continue;
    return { path: r.target.text, append: r.op.endsWith('>>') };
  }
  return undefined;
}

/**
 * The scripts `cmds` (one line's commands, in order) write and then run. `outputOf` gives what a
 * command prints when the guard knows it exactly (the analyzer's static output: echo, printf, cat
 * of a heredoc, tee of known stdin). Bounded: at most 16 runs.
 */
export function scriptsWrittenThenRun(
  cmds: readonly SimpleCommand[],
  outputOf: (c: SimpleCommand) => string | undefined,
): ScriptRun[] {
  const written = new Map<string, string | undefined>();
  const out: ScriptRun[] = [];
  for (const c of cmds) {
    const run = runsScript(c);
    if (run) {
      const key = normalizePath(run.path);
      if (written.has(key) && out.length < 16)
        out.push({ text: written.get(key), runner: c, sameShell: run.sameShell });
    }
    const w = writesStdout(c);
    if (w) {
      const key = normalizePath(w.path);
      const text = outputOf(c);
      const before = written.has(key) ? written.get(key) : '';
      // Unknown output (or appending to unknown text) makes the file unknown: no judgment from here.
      written.set(
        key,
        text === undefined || (w.append && before === undefined) ? undefined : (w.append ? (before ?? '') : '') + text,
      );
    }
    // `tee f` writes its (known) stdin to f too.
    if (c.argv[0]?.text === 'tee' && c.stdin && !c.stdin.dynamic) {
      const append = c.argv.some((x) => x.text === '-a' || x.text === '--append');
      for (const f of c.argv.slice(1))
        if (!f.text.startsWith('-') && !f.dynamic) {
          const key = normalizePath(f.text);
          const before = written.get(key);
          written.set(
            key,
            append
              ? before === undefined && written.has(key)
                ? undefined
                : (before ?? '') + c.stdin.text
              : c.stdin.text,
          );
        }
    }
  }
  return out;
}
