/**
 * Commands that inline interpreter code runs, when they are literals the guard can read (issue 14
 * items 0 and 3): `os.system("…")`, `subprocess.run(["rm", "-rf", "/"])`, `` `…` `` in perl, ruby
 * and php, `child_process.execSync("…")`, `system("…")` in awk, php, R and C-like code,
 * `os.execute("…")`, `IO.popen("…")` and friends. The code as a whole stays approve (the
 * interpreter rules say so); what this finds is judged as well, so a catastrophe in a literal is
 * a deny. A call whose argument is not a plain literal (a variable, interpolation, concatenation)
 * is reported as `opaque`: nothing to judge, and the code is approve anyway.
 */
export interface CodeCommands {
  /** Shell command lines the code hands to a shell. */
  shell: string[];
  /** Argument vectors the code runs without a shell. */
  argv: string[][];
  /** A call runs something the guard cannot read (not a literal). */
  opaque: boolean;
}

/** Languages by interpreter name (a version suffix removed). */
export type Lang = 'python' | 'perl' | 'ruby' | 'node' | 'php' | 'lua' | 'r' | 'awk' | 'tcl' | 'other';

export function langOf(prog: string): Lang {
  const b = prog.replace(/[0-9.]+$/, '');
  if (/^(python|pypy)$/.test(b)) return 'python';
  if (b === 'perl') return 'perl';
  if (b === 'ruby' || b === 'irb') return 'ruby';
  if (/^(node|nodejs|deno|bun)$/.test(b)) return 'node';
  if (b === 'php') return 'php';
  if (/^(lua|luajit)$/.test(b)) return 'lua';
  if (b === 'Rscript' || b === 'R') return 'r';
  if (/^(awk|gawk|mawk|nawk|busybox-awk)$/.test(b)) return 'awk';
  if (b === 'tclsh' || b === 'wish' || b === 'expect') return 'tcl';
  return 'other';
}

/** A string literal at `i` in `code`: its value, where it ends, and whether it interpolates. */
interface Lit {
  value: string;
  end: number;
  dynamic: boolean;
}

/** Reads a '…' or "…" literal (and python's r/b/f prefixes, JS template literals) starting at `i`. */
function literalAt(code: string, i: number, lang: Lang): Lit | undefined {
  let j = i;
  let prefix = '';
  while (j < code.length && /[rRbBuUfF]/.test(code.charAt(j)) && lang === 'python' && j - i < 2) prefix += code[j++];
  const q = code[j];
  if (q !== '"' && q !== "'" && !(q === '`' && lang === 'node')) return undefined;
  // Python triple quotes.
  const triple = lang === 'python' && code.startsWith(q.repeat(3), j);
  const close = triple ? q.repeat(3) : q;
  let k = j + close.length;
  let value = '';
  const raw = /[rR]/.test(prefix);
  while (k < code.length) {
    if (code.startsWith(close, k)) {
      const interpolates =
        /[fF]/.test(prefix) ||
        (q === '`' && value.includes('${')) ||
        (q === '"' && (lang === 'perl' || lang === 'php') && /[$@]\w|\$\{/.test(value)) ||
        (q === '"' && lang === 'ruby' && value.includes('#{')) ||
        (lang === 'tcl' && /[$[]/.test(value));
      return { value, end: k + close.length, dynamic: interpolates };
    }
    const c = code[k];
    if (c === '\\' && !raw && k + 1 < code.length) {
      const n = code[k + 1];
      // Single-quoted strings in perl, ruby and php keep backslashes except before \ and '.
      if (
        q === "'" &&
        (lang === 'perl' || lang === 'ruby' || lang === 'php' || lang === 'awk') &&
        n !== '\\' &&
        n !== "'"
      ) {
        value += c;
        k++;
        continue;
      }
      value += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      k += 2;
      continue;
    }
    if (c === '\n' && !triple && q !== '`') return undefined;
    value += c;
    k++;
  }
  return undefined;
}

function skipBlanks(code: string, i: number): number {
  while (i < code.length && /\s/.test(code.charAt(i))) i++;
  return i;
}

/** A list of literals `[ "a", 'b' ]` (or perl/ruby `("a", "b")` argument lists) at `i`. */
function literalList(
  code: string,
  i: number,
  lang: Lang,
  open: string,
  closeCh: string,
): { items: string[]; end: number; dynamic: boolean } | undefined {
  if (code[i] !== open) return undefined;
  let k = skipBlanks(code, i + 1);
  const items: string[] = [];
  let dynamic = false;
  while (k < code.length && code[k] !== closeCh) {
    const l = literalAt(code, k, lang);
    if (!l) return undefined;
    items.push(l.value);
    if (l.dynamic) dynamic = true;
    k = skipBlanks(code, l.end);
    if (code[k] === ',') k = skipBlanks(code, k + 1);
    else if (code[k] !== closeCh) return undefined;
  }
  return k < code.length ? { items, end: k + 1, dynamic } : undefined;
}

/** Call names that run a shell command line given as their first argument, per language. */
const SHELL_CALLS: Record<Lang, RegExp> = {
  python:
    /\b(os\.system|os\.popen|subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)|commands\.getoutput|commands\.getstatusoutput|pty\.spawn|system|popen|check_output|check_call|getoutput)\s*\(\s*/g,
  perl: /\b(system|exec|qx|readpipe)\s*(?:\(\s*)?/g,
  ruby: /\b(system|exec|spawn|IO\.popen|Open3\.(?:capture2e?|capture3|popen2e?|popen3|pipeline)|Kernel\.(?:system|exec|spawn)|PTY\.spawn)\s*(?:\(\s*)?/g,
  node: /\b(exec|execSync|spawn|spawnSync|execFile|execFileSync|fork)\s*\(\s*/g,
  php: /\b(system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(\s*/g,
  lua: /\b(os\.execute|io\.popen)\s*\(?\s*/g,
  r: /\b(system|system2|shell|pipe)\s*\(\s*/g,
  awk: /\b(system)\s*\(\s*/g,
  tcl: /\b(exec)\s+/g,
  other: /\b(system|exec|popen)\s*\(\s*/g,
};

/** Calls that take a program and a separate argument list (node spawn/execFile, R system2). */
const ARGV_CALLS = /^(spawn|spawnSync|execFile|execFileSync|system2|fork)$/;

/**
 * Commands run by `code` in `lang`, as far as literals show them. Bounded: at most 32 calls are
 * read (code is at most a command line's size anyway).
 */
export function codeCommands(code: string, lang: Lang): CodeCommands {
  const out: CodeCommands = { shell: [], argv: [], opaque: false };
  if (code.length > 1 << 16) {
    out.opaque = true;
    return out;
  }
  const re = new RegExp(SHELL_CALLS[lang].source, 'g');
  let calls = 0;
  for (let m = re.exec(code); m && calls < 32; m = re.exec(code)) {
    // Every SHELL_CALLS pattern is `\b(name)…`: group 1 always participates.
    const call = m[1]!;
    // A method of another object (`x.exec(…)`, `re.exec(s)` in JS) is not the process call,
    // except the module-qualified names the patterns list.
    const before = code[m.index - 1];
    if (before === '.' && !call.includes('.')) {
      if (
        lang !== 'node' ||
        !/child_process|cp|childProcess|\)\s*$/.test(code.slice(Math.max(0, m.index - 40), m.index - 1))
      )
        continue;
    }
    if (lang === 'node' && call === 'exec' && !/child_process/.test(code)) continue;
    if (lang === 'awk' && before === '.') continue;
    calls++;
    const at = m.index + m[0].length;
    const name = call.replace(/^.*\./, '');
    if (lang === 'tcl') {
      const [line = ''] = code.slice(at).split(/[\n;\]]/);
      const words = line.trim().split(/\s+/).filter(Boolean);
      if (words.length && !words.some((w) => /[$[{"\\]/.test(w))) out.argv.push(words);
      else out.opaque = true;
      continue;
    }
    // A list literal first: an argument vector (`subprocess.run(["rm", "-rf", "/"])`).
    const list = literalList(code, at, lang, '[', ']');
    if (list) {
      if (list.dynamic || !list.items.length) out.opaque = true;
      else out.argv.push(list.items);
      continue;
    }
    const l = literalAt(code, at, lang);
    if (!l) {
      // perl qx{…} / qx(…) / qx/…/ and readpipe of a non-literal.
      if (lang === 'perl' && name === 'qx') {
        const q = qxBody(code, at - (code[at - 1] === '(' ? 1 : 0));
        if (q) {
          if (/[$@]/.test(q)) out.opaque = true;
          else out.shell.push(q);
          continue;
        }
      }
      out.opaque = true;
      continue;
    }
    if (l.dynamic) {
      out.opaque = true;
      continue;
    }
    let k = skipBlanks(code, l.end);
    // More literal arguments after the first: a program and its arguments (`system("rm", "-rf", "/")`,
    // `spawn("rm", ["-rf", "/"])`).
    const rest: string[] = [];
    let restOk = true;
    while (code[k] === ',') {
      k = skipBlanks(code, k + 1);
      const arr =
        literalList(code, k, lang, '[', ']') ??
        (lang === 'r' ? literalList(code, k + (code.startsWith('c(', k) ? 1 : 0), lang, '(', ')') : undefined);
      if (arr) {
        if (arr.dynamic) restOk = false;
        rest.push(...arr.items);
        k = skipBlanks(code, arr.end);
        continue;
      }
      const n = literalAt(code, k, lang);
      if (!n || n.dynamic) {
        restOk = false;
        break;
      }
      rest.push(n.value);
      k = skipBlanks(code, n.end);
    }
    if (ARGV_CALLS.test(name) || (rest.length && (lang === 'perl' || lang === 'ruby' || lang === 'php'))) {
      if (!restOk) out.opaque = true;
      else out.argv.push([l.value, ...rest]);
    } else if (name === 'popen' && lang === 'python' && rest.length === 0) out.shell.push(l.value);
    else out.shell.push(l.value);
  }
  // Backticks run a shell in perl, ruby and php (not in JS, where they are template literals).
  if (lang === 'perl' || lang === 'ruby' || lang === 'php') {
    let n = 0;
    for (const b of code.matchAll(/`([^`]*)`/g)) {
      const body = b[1]!;
      if (++n > 32) break;
      if (/[$@]\w|#\{|\$\{/.test(body)) out.opaque = true;
      else out.shell.push(body);
    }
    if (lang === 'ruby')
      for (const x of code.matchAll(/%x([({[|!/])/g)) {
        const body = qxBody(code, (x.index ?? 0) + 2);
        if (body === undefined || /#\{/.test(body)) out.opaque = true;
        else out.shell.push(body);
      }
    if (lang === 'perl')
      for (const x of code.matchAll(/\bopen\s*\(?\s*[\w$]+\s*,\s*(["'])(\|[^"']*|[^"']*\|)\1/g)) {
        const body = x[2]!.replace(/^\|/, '').replace(/\|$/, '').trim();
        if (/[$@]/.test(body)) out.opaque = true;
        else out.shell.push(body);
      }
  }
  // Bun's shell: $`…`.
  if (lang === 'node')
    for (const b of code.matchAll(/\$`([^`]*)`/g)) {
      const body = b[1]!;
      if (body.includes('${')) out.opaque = true;
      else out.shell.push(body);
    }
  // awk pipes: print … | "cmd", "cmd" | getline, and gawk's |& coprocesses.
  if (lang === 'awk') {
    for (const p of code.matchAll(/\|&?\s*("(?:[^"\\]|\\.)*")|("(?:[^"\\]|\\.)*")\s*\|&?\s*getline/g)) {
      const lit = p[1] ?? p[2];
      if (lit === undefined) continue;
      const l = literalAt(lit, 0, 'awk');
      if (l) out.shell.push(l.value);
    }
    if (/\|&?\s*[A-Za-z_(]|[A-Za-z_)\]]\s*\|&?\s*getline/.test(code)) out.opaque = true;
  }
  return out;
}

/** The body of perl's qx{…}/qx(…)/qx/…/ or ruby's %x(…) starting at the delimiter. */
function qxBody(code: string, i: number): string | undefined {
  const open = code[i];
  if (!open || /[\w\s]/.test(open)) return undefined;
  const pairs: Record<string, string> = { '(': ')', '{': '}', '[': ']', '<': '>' };
  const close = pairs[open] ?? open;
  const end = code.indexOf(close, i + 1);
  return end < 0 ? undefined : code.slice(i + 1, end);
}
