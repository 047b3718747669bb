import type { RuleEnv } from './rules-fs.js';
import { SCRIPT_ALLOWED, shellScriptOperand } from './rules-exec.js';
import { scriptsWrittenThenRun } from './script-flow.js';
import { execEnvEntry, truncateText } from '../core/index.js';
import { progName, type View } from './argv.js';
import { builtinRule, KNOWN_BENIGN } from './builtins.js';
import { dryRunForm, helpForm, isKnownProgram, numericWord, readArguments, writeArguments } from './known-programs.js';
import { clip, extractScript, type Script, type SimpleCommand } from './extract.js';
import { withTree, type Parser } from './parser.js';
import { classifyRead, classifyWrite, mayBeSecretPath } from './paths.js';
import { knownFor, stillKnown } from './resolve.js';
import { catastrophicTarget } from './rules-fs.js';
import { INTERPRETERS, scanCode } from './rules-sys.js';
import {
  assignedNames,
  declaredNames,
  historyExpansion,
  sessionArgvRule,
  sessionNameFinding,
  textAssignments,
} from './session.js';
import { embeddedCode } from './shell-code.js';
import { mayRunStdin, readsOuterStdin, stdinRedirect, stdinUse } from './stdin.js';
import { finding, hardDeny, rank, type Finding } from './types.js';
import { staticEchoOutput } from './static-output.js';
import { ENV_INHERITING, SHELLS, unwrap, WRAPPER_PROGS, wrapperInfo } from './wrappers.js';
import { xargsRuns } from './xargs.js';
import type { KnownVars, Word } from './words.js';

/**
 * Turns a shell string into findings: parse, extract every command, unwrap wrappers and
 * re-parse shell strings (depth-limited), apply built-in and policy rules per argv, then join
 * commands with data-flow rules (network/decoder -> shell = deny, secrets -> network = deny).
 */
export interface AnalyzeOptions {
  parser: Parser;
  writeAllowed: readonly string[];
  /** What the built-in rules read from the policy (write roots, script paths, credential names, HTTP rules). */
  ruleEnv: RuleEnv;
  maxReparseDepth: number;
  maxTreeDepth: number;
  maxNodes: number;
  /** Policy command rule for one argv (user rules), if any matches. */
  userRule(v: View): Finding | undefined;
  /**
   * The judgment for an argv no rule has an opinion on: undefined when it is harmless (the known
   * table, the policy allowlist, a function defined in the line), else the unknown verdict of the
   * policy for this context, or approve (floor) when it depends on a run-time value.
   */
  judge(v: View, script: ScriptInfo): Finding | undefined;
  /** The policy's unknown verdict for this context, as a finding (an `allow` one where the context allows the unknown). */
  unknown(v: View, why: string): Finding;
  /** `defaults.sudo_requires_approval`. */
  sudoApproval: boolean;
  /**
   * Per decision (set by the engine from the caller's CommandInput, absent otherwise):
   * the caller's environment as this level's shell inherits it (src/guard/resolve.ts);
   */
  env?: ReadonlyMap<string, string>;
  /** this level's commands run with elevated privileges (inside sudo, doas, su …): their file writes are approve; */
  privileged?: boolean;
  /** this level's commands run in an interactive session's own shell (src/guard/session.ts); */
  session?: boolean;
  /** and, at the top level of a session line, the commands that read stdin read the terminal. */
  terminal?: boolean;
}

export interface ScriptInfo {
  functions: ReadonlySet<string>;
}

/** Control characters that shells and parsers may read differently (CR, NUL, …). */
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

/**
 * Nested analyses (shell strings, stdin scripts, xargs runs) one decision may make, and the bytes
 * they may parse: a line like `sh; sh; sh …` fed a script of `sh; sh; …` would otherwise multiply
 * its work at every level. Reset by every top-level call (the guard is synchronous).
 */
export const MAX_NESTED_ANALYSES = 256;
export const MAX_NESTED_BYTES = 1 << 20;
let nestedLeft = MAX_NESTED_ANALYSES;
let nestedBytesLeft = MAX_NESTED_BYTES;

/** Writes that keep nothing (`> /dev/null`, `2> /dev/stderr`). */
const NULL_SINK = /^\/dev\/(null|stdout|stderr|tty|fd\/\d+)$/;

/** Where bash evaluates names as arithmetic (their values included). */
const ARITH_CONTEXT = /\$\(\(|\(\(|\$\[|\blet\b|-(eq|ne|lt|gt|le|ge)\b|\b(declare|typeset|local)\s+-[A-Za-z]*i/;
/** An array subscript holding a command substitution (`a[$(cmd)]`, ``a[`cmd`]``). */
const SUBSCRIPT_CODE = /\[[^\]]*(\$\(|`)/;

/** Standard input whose content is unknown (the rest of a script being read from stdin). */
const UNKNOWN_STDIN: StdinText = { text: '', dynamic: true };
type StdinText = NonNullable<SimpleCommand['stdin']>;

export function analyze(text: string, depth: number, o: AnalyzeOptions, stdin?: StdinText): Finding[] {
  const out: Finding[] = [];
  if (depth === 0) {
    nestedLeft = MAX_NESTED_ANALYSES;
    nestedBytesLeft = MAX_NESTED_BYTES;
  } else if (--nestedLeft < 0 || (nestedBytesLeft -= text.length) < 0) {
    out.push(
      finding('approve', 'limits.work', 'the line nests too many shell strings or scripts to check', clip(text), {
        floor: true,
      }),
    );
    out.push(...rawScan(text.slice(0, 1 << 20)));
    return out;
  }
  let src = text;
  if (CONTROL.test(src)) {
    out.push(
      finding(
        'approve',
        'parse.control-chars',
        'the command contains control characters (e.g. CR) that shells and parsers may read differently',
        clip(JSON.stringify(text)),
        { floor: true },
      ),
    );
    src = src.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ');
  }
  // Bash evaluates a variable's VALUE as arithmetic wherever a name appears in `$(( ))`, `(( ))`,
  // `let`, `[[ … -eq … ]]` or a subscript, and an array subscript in that value expands its command
  // substitutions: `x='a[$(reboot)]'; echo $(( x ))` runs reboot. The quoted value hides the code
  // from the parse, so a line (or a caller value) holding subscript code in any arithmetic context
  // is approve: the guard does not follow values through arithmetic evaluation.
  if (
    ARITH_CONTEXT.test(src) &&
    (SUBSCRIPT_CODE.test(src) || [...(o.env?.values() ?? [])].some((v) => SUBSCRIPT_CODE.test(v)))
  ) {
    out.push(
      finding(
        'approve',
        'exec.arith-code',
        'a value holding an array subscript with a command substitution is evaluated as arithmetic, which runs it',
        clip(text),
        { floor: true },
      ),
    );
  }
  // The caller's variables this line cannot have changed are known values, and so are the line's
  // own top-level assignments for the words after them (src/guard/resolve.ts).
  const lk = o.env?.size ? knownFor(src, o.env) : undefined;
  let script: Script;
  try {
    script = extract(o, src, lk?.here, true);
    const names = knownNames(lk?.here, script.lineNames);
    if (names && !stillKnown(script.commands, names)) {
      // INVARIANT: a command here can assign a variable by a name the guard cannot see (eval,
      // source, read "$n" …): nothing is known, neither the caller's values nor the line's.
      script = extract(o, src, undefined, false);
      o = { ...o, env: undefined };
    } else if (lk && lk.passDown !== o.env) o = { ...o, env: lk.passDown.size ? lk.passDown : undefined };
  } catch {
    out.push(finding('approve', 'parse.error', 'the command could not be parsed', clip(text), { floor: true }));
    out.push(...rawScan(text));
    return out;
  }
  // Standard input: what the line receives (the caller's stdin, a heredoc fed to `bash -c`, or the
  // session's terminal) is what every command that reads the line's own descriptor 0 receives.
  // `exec <file` (no program) makes every later command read that file instead: unknown to the guard.
  let from: StdinText | undefined = stdin;
  let terminal = o.terminal === true;
  for (const c of script.commands) {
    if (from || terminal) {
      if (readsOuterStdin(c)) {
        if (from) c.stdin = from;
        else c.terminal = true;
      }
    }
    if (c.argv.length === 1 && c.argv[0]!.text === 'exec' && stdinRedirect(c)) {
      from = UNKNOWN_STDIN;
      terminal = false;
    }
  }
  pipeStaticText(script.commands);
  out.push(...script.findings);
  if (script.findings.some((f) => f.rule.startsWith('parse.') || f.rule.startsWith('limits.')))
    out.push(...rawScan(text));
  const info: ScriptInfo = { functions: script.functions.size ? new Set(script.functions.keys()) : NO_FUNCTIONS };
  if (script.functions.size)
    for (const [name, fn] of script.functions) {
      if (fn.recursive && fn.forks)
        out.push(
          hardDeny(
            'proc.fork-bomb',
            `function ${name} calls itself in the background or a pipe (fork bomb)`,
            clip(fn.text),
          ),
        );
    }
  if (o.session) sessionLine(text, script, depth, out);
  for (const c of script.commands) analyzeCommand(c, depth, o, info, out);
  // INVARIANT (issue 14 item 0): a script the line writes and then runs (`echo 'CMD' > f; sh f`, a
  // heredoc into f then `bash f`, `source f`, `./f`) is judged as the text it holds, so a payload the
  // guard denies on its own is denied here too (the sandbox's allow for unread scripts never
  // applies to one the line just wrote). Text the guard does not know (`curl … > f; sh f`) is approve.
  if (script.commands.length > 1) {
    for (const run of scriptsWrittenThenRun(script.commands, staticOutput)) {
      if (run.text === undefined)
        out.push(
          finding(
            'approve',
            'exec.script-written',
            'runs a script this line wrote with text the guard does not know',
            run.runner.text,
            { floor: true },
          ),
        );
      else recurse(run.text, run.runner, depth, o, out, undefined, run.sameShell);
    }
  }
  // Data flow needs two commands (a pipe, a substitution feeding another command, a variable or a
  // file handed from one to the next); a lone command has no partner, so flow() would find nothing.
  if (script.commands.length > 1) out.push(...flow(script.commands, script.commands.map(roleOf), depth, o));
  return out;
}

function extract(o: AnalyzeOptions, src: string, known: KnownVars | undefined, resolveLine: boolean): Script {
  return withTree(o.parser, src, (root) =>
    extractScript(root, src, { maxDepth: o.maxTreeDepth, maxNodes: o.maxNodes }, known, resolveLine),
  );
}

/** Every name resolved in the line (the caller's and the line's own), or undefined when none. */
function knownNames(env: KnownVars | undefined, line: ReadonlySet<string>): ReadonlySet<string> | undefined {
  if (!env && !line.size) return undefined;
  if (!line.size) return new Set(env?.values.keys());
  if (!env) return line;
  return new Set([...env.values.keys(), ...line]);
}

/**
 * A pipeline stage fed by one command whose output the guard knows (`echo …`, `printf …`, `cat`
 * of a heredoc or of known stdin) gets that text as its stdin, exactly as a heredoc would: the
 * same stdin rules then judge `echo 'rm -rf ~' | sh`, `echo 'import os…' | python3`,
 * `printf '/' | xargs rm -rf` and `cat <<EOF | psql`.
 */
function pipeStaticText(cmds: SimpleCommand[]): void {
  // Commands by (innermost) pipeline, built on the first stage that needs its feeder: most lines have none.
  let byPipe: Map<number, SimpleCommand[]> | undefined;
  for (const c of cmds) {
    // Its innermost pipeline (none: not a pipeline stage).
    const pipe = c.pipes[c.pipes.length - 1];
    if (c.stdin || !pipe) continue;
    if (pipe.stage === 0 || stdinRedirect(c)) continue;
    if (!byPipe) {
      byPipe = new Map();
      for (const x of cmds)
        for (const p of x.pipes) {
          const l = byPipe.get(p.id);
          if (l) l.push(x);
          else byPipe.set(p.id, [x]);
        }
    }
    let src: SimpleCommand | undefined;
    let count = 0;
    for (const x of byPipe.get(pipe.id) ?? []) {
      if (x !== c && x.pipes.some((p) => p.id === pipe.id && p.stage === pipe.stage - 1)) {
        src = x;
        count++;
      }
    }
    if (
      count !== 1 ||
      !src ||
      src.feeds !== undefined ||
      src.redirects.some((r) => r.op.includes('>') && (r.fd === null || r.fd === '1'))
    )
      continue;
    const text = staticOutput(src);
    if (text !== undefined) c.stdin = { text, dynamic: false };
  }
}

/** What a command prints, when the guard knows it exactly (echo/printf with literal words, cat/tee of known stdin). */
function staticOutput(c: SimpleCommand): string | undefined {
  const p = c.argv[0]?.text ?? '';
  if (p === 'echo' || p === 'printf') return staticEchoOutput(c.argv);
  // cat with no file prints its stdin; tee always does (its file arguments get copies).
  if ((p === 'cat' && c.argv.slice(1).every((w) => w.text === '-')) || p === 'tee')
    return c.stdin && !c.stdin.dynamic ? c.stdin.text : undefined;
  return undefined;
}

/** Line-wide session checks: history expansion, function definitions, assignments spelled in words. */
function sessionLine(text: string, script: Script, depth: number, out: Finding[]): void {
  if (depth === 0) {
    const h = historyExpansion(text);
    if (h !== undefined)
      out.push(
        finding(
          'approve',
          'session.history',
          `history expansion (${h}) re-runs text from earlier input the guard does not see`,
          clip(text),
        ),
      );
  }
  for (const [name, fn] of script.functions)
    out.push(
      finding(
        'approve',
        'session.function',
        `defines a function ${name}: a later command name would run its body`,
        clip(fn.text),
      ),
    );
  for (const n of textAssignments(text)) {
    const f = sessionNameFinding(n, 'assigns', clip(text));
    if (f) out.push(f);
  }
}

/** Shared empty function set for the (usual) script that defines no functions. Never mutated. */
const NO_FUNCTIONS: ReadonlySet<string> = new Set();

/** Conservative text scan for unparseable input: deny-class signatures only. */
export function rawScan(text: string): Finding[] {
  const out: Finding[] = [];
  const t = text.replace(/["'\\]/g, '');
  const m = clip(text);
  if (/\/dev\/(tcp|udp)\//.test(t)) out.push(hardDeny('net.dev-tcp', 'opens a network socket through /dev/tcp', m));
  if (/\/etc\/(g?shadow|sudoers)\b|\.ssh\/id_|\.aws\/credentials/.test(t))
    out.push(hardDeny('secrets.read', 'mentions a secret file in text that cannot be parsed', m));
  if (/\brm\s+(-[a-zA-Z-]+\s+)*(\/|~|\/\*|\$HOME)(\s|$|;|&|\||\))/.test(t) && /\s-[a-zA-Z]*[rR]|--recursive/.test(t))
    out.push(hardDeny('fs.rm-root', 'recursive delete of / or ~ in text that cannot be parsed', m));
  if (
    /\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b/.test(t) ||
    /base64\s+(-d|--decode)[^|]*\|\s*(ba|z|da)?sh\b/.test(t)
  )
    out.push(hardDeny('remote.pipe-to-shell', 'pipes a download or decoded data into a shell', m));
  if (/:\s*\(\s*\)\s*\{[^}]*:\s*\|\s*:/.test(t)) out.push(hardDeny('proc.fork-bomb', 'fork bomb', m));
  if (/\bmkfs(\.\w+)?\s+[^|;&]*\/dev\/|\bdd\b[^|;&]*\bof=\/dev\/(sd|nvme|hd|vd|xvd|mmcblk)/.test(t))
    out.push(hardDeny('disk.wipe', 'erases a disk', m));
  return out;
}

/** `PATH=$PATH:/opt/bin` only adds directories searched last: names that resolved before still do. */
const PATH_APPEND = /^["']?\$(\{PATH\}|PATH)["']?(:|$)/;

/** The finding for assigning an exec-env name in the line (src/core/exec-env.ts), if it is one. */
function hijackAssign(name: string, raw: string | undefined, how: string, matched: string): Finding | undefined {
  const e = execEnvEntry(name);
  if (!e || (name === 'PATH' && raw !== undefined && PATH_APPEND.test(raw))) return undefined;
  return finding('approve', 'exec.env-hijack', `${how} ${name}: ${e.reason}`, matched);
}

/** Prompt strings bash expands (command substitution included) before it prints them. */
const PROMPT_VARS = /^PS[0-4]$/;
/** A heredoc delimiter no prompt string is expected to hold; if one does, the value is not judged but approved. */
const PROMPT_EOF = '__GATEHOUSE_PROMPT_VALUE__';

/** Values that are code: `PROMPT_COMMAND=CMD`, `PS1='$(CMD)'` (judged as a prompt expands it). */
function hookValue(
  name: string,
  value: Word,
  c: SimpleCommand,
  depth: number,
  o: AnalyzeOptions,
  out: Finding[],
): void {
  const isPrompt = PROMPT_VARS.test(name);
  if (!isPrompt && name !== 'PROMPT_COMMAND') return;
  if (value.dynamic && !value.fields) {
    out.push(
      finding(
        'approve',
        'exec.dynamic-hook',
        `${name} is set to a value only known at run time, which bash runs or expands later`,
        c.text,
        { floor: true },
      ),
    );
    return;
  }
  if (!isPrompt) return recurse(value.text, c, depth, o, out, undefined, true);
  // A prompt string expands like a heredoc body (`$(…)`, backquotes, `${…}`; quotes stay text).
  if (value.text.includes(PROMPT_EOF))
    out.push(
      finding('approve', 'exec.dynamic-hook', `${name} holds text the guard cannot judge`, c.text, { floor: true }),
    );
  else recurse(`: <<${PROMPT_EOF}\n${value.text}\n${PROMPT_EOF}\n`, c, depth, o, out, undefined, true);
}

function analyzeCommand(c: SimpleCommand, depth: number, o: AnalyzeOptions, info: ScriptInfo, out: Finding[]): void {
  for (const a of c.assigns) {
    if (o.session) {
      // INVARIANT: a session line never changes a loader, shell-startup or prompt variable of the session's shell.
      const f = sessionNameFinding(a.name, 'assigns', c.text);
      if (f) out.push(f);
    }
    const h = hijackAssign(a.name, a.value.raw, 'sets', c.text);
    if (h) out.push(h);
    hookValue(a.name, a.value, c, depth, o, out);
    if (a.value.text.includes('/dev/tcp/') || a.value.text.includes('/dev/udp/'))
      out.push(hardDeny('net.dev-tcp', 'refers to /dev/tcp', c.text));
  }
  for (const r of c.redirects) {
    if (!r.target) continue;
    const t = r.target;
    if (/^[<>]?&$|^>&$|^<&$/.test(r.op) && /^(\d+|-)$/.test(t.text)) continue;
    if (t.raw.startsWith('>(') || t.raw.startsWith('<(')) continue;
    const m = `${r.fd ?? ''}${r.op} ${t.raw}`;
    if (r.op.includes('>')) {
      const f = classifyWrite(t, m, o.writeAllowed);
      if (f) out.push({ ...f, reason: `redirect: ${f.reason}` });
      // A file written by a shell running as root (`sudo sh -c '… > f'`) is written with root's
      // rights wherever the shell is: not the harmless new output file it is for the agent's user.
      else if (o.privileged && !NULL_SINK.test(t.text))
        out.push(finding('approve', 'priv.write', `writes ${t.raw} with elevated privileges`, m));
    } else {
      const f = classifyRead(t, m);
      if (f) out.push(f);
    }
  }
  if (c.declaration) {
    // `export X=$(…)`, `declare -x …`: substitutions were extracted and the assignments judged
    // above. Left: names set without a value there (`declare -n ref=PATH` makes `ref=…` set PATH).
    const d = declaredNames(c);
    const assigned = new Set(c.assigns.map((a) => a.name));
    // `unset PATH` removes an override rather than adding one: only a session cares (its prompt marker).
    const unset = c.argv[0]?.text === 'unset';
    for (const n of d.names) {
      if (assigned.has(n)) continue;
      const h = unset ? undefined : hijackAssign(n, undefined, 'declares', c.text);
      if (h) out.push(h);
      if (o.session) {
        const f = sessionNameFinding(n, 'declares', c.text);
        if (f) out.push(f);
      }
    }
    if (o.session && d.dynamic)
      out.push(
        finding('approve', 'session.dynamic-name', 'declares a variable whose name is only known at run time', c.text),
      );
    if (o.session && d.functions)
      out.push(finding('approve', 'session.function', 'exports or changes function definitions', c.text));
    // `export -p`, `declare -x` and friends print every variable: judged like any program.
    const head = c.argv[0];
    if (head) {
      const b = o.judge({ prog: head.text, path: head.text, args: c.argv.slice(1), sc: c, depth, text: c.text }, info);
      if (b) out.push(b);
    }
    return;
  }
  analyzeArgv(c.argv, c, depth, o, info, out);
}

/** Programs that only look at names or metadata: their arguments are not reads of the files they name. */
const READ_EXEMPT = new Set([
  'ls',
  'stat',
  'test',
  '[',
  '[[',
  'du',
  'realpath',
  'readlink',
  'dirname',
  'basename',
  'echo',
  'printf',
  'which',
  'type',
  'mkdir',
  'touch',
  'find',
  'locate',
  'cd',
  'pushd',
  'chmod',
  'chown',
  'chgrp',
  'rm',
  'shred',
  'unlink',
  'file',
  'ssh-keygen',
  'ssh-add',
  'ssh',
  'true',
  'false',
  ':',
  'git',
  'command',
  'mv',
]);

const MAX_WRAPPERS = 16;

/** Words with known split values (`$X` with X='a b') become the words bash builds from them. */
function expandFields(argv: Word[]): Word[] {
  let any = false;
  for (let i = 0; i < argv.length; i++)
    if (argv[i]!.fields !== undefined) {
      any = true;
      break;
    }
  if (!any) return argv;
  const out: Word[] = [];
  for (const w of argv) {
    if (!w.fields) {
      out.push(w);
      continue;
    }
    for (const f of w.fields) out.push({ text: f, dynamic: false, glob: false, raw: w.raw, vars: w.vars, prefix: f });
  }
  return out;
}

/**
 * Judges one argv and returns whether it was judged harmless (nothing above allow, and the table,
 * a policy rule or a read-only form vouched for it): `sudo` of a harmless command needs no approval.
 */
function analyzeArgv(
  argv0: Word[],
  c: SimpleCommand,
  depth: number,
  o: AnalyzeOptions,
  info: ScriptInfo,
  out: Finding[],
  viaUnknown = false,
  wraps = 0,
): boolean {
  const argv = expandFields(argv0);
  const name = argv[0];
  if (!name) return true;
  if (wraps > MAX_WRAPPERS) {
    // Bounded work: `sudo sudo sudo …` thousands deep would otherwise cost O(n²).
    out.push(
      finding('approve', 'limits.nesting', `more than ${MAX_WRAPPERS} nested wrapper programs`, c.text, {
        floor: true,
      }),
    );
    out.push(...rawScan(argv.map((w) => w.text).join(' ')));
    return false;
  }
  const args = argv.slice(1);
  if (name.dynamic || name.glob) {
    // INVARIANT: a program name only known at run time is never allowed (issue 14 item 4).
    out.push(
      finding('approve', 'exec.dynamic-command', `the program name (${name.raw}) is only known at run time`, c.text, {
        floor: true,
      }),
    );
    const cat = args.some((a) => /^-[a-zA-Z]*[rR]|^--recursive/.test(a.text))
      ? args.map(catastrophicTarget).find(Boolean)
      : undefined;
    if (cat) out.push(hardDeny('fs.rm-root', `a run-time command with recursive flags targets ${cat}`, c.text));
    for (const a of args) {
      const f = classifyRead(a, c.text);
      if (f?.decision === 'deny') out.push(f);
    }
    return false;
  }
  const prog = progName(name.text);
  const v: View = { prog, path: name.text, args, sc: c, depth, text: c.text };
  const own: Finding[] = [];
  const rule = builtinRule(prog);
  // `--help`, `--version`, `-h` alone and dry runs do nothing: the built-in rules' approvals of this
  // argv do not apply (their denies still do: a deny is never lowered).
  const readOnly = helpForm(v, !!rule || KNOWN_BENIGN.has(prog)) ?? dryRunForm(v);
  // A shell with no command string and no script reads its commands from its input. With no input
  // the caller sent (and no pipe, heredoc or redirect feeding it), those are commands the guard has
  // not seen: the context's unknown verdict (approve on SSH; the sandbox may allow). In a session
  // the later lines are typed into it and judged one by one, and stdin the caller sent is judged
  // as a script (src/guard/stdin.ts), so neither is flagged here.
  if (
    readOnly === undefined &&
    SHELLS.has(prog) &&
    !o.session &&
    !c.terminal &&
    c.stdin === undefined &&
    !c.pipes.some((p) => p.stage > 0) &&
    !c.redirects.some((r) => r.op.startsWith('<')) &&
    !args.some((a) => /^-[A-Za-z]*c/.test(a.text)) &&
    shellScriptOperand(args) === undefined
  ) {
    own.push(o.unknown(v, `${prog} with no command reads commands from an input the guard has not seen`));
  }
  if (rule) {
    const r = rule(v, o.ruleEnv);
    if (readOnly === undefined) own.push(...r);
    else for (const f of r) if (f.decision === 'deny') own.push(f);
  }
  // Arguments that name secret files are reads (except for programs that only look at metadata,
  // and words a program reads as text: a grep pattern, an awk program, a message).
  if (!READ_EXEMPT.has(prog) && !(wrapperInfo(prog)?.where !== 'elsewhere' && wrapperInfo(prog) !== undefined)) {
    const reads = readArguments(v) ?? args;
    for (let i = 0; i < reads.length; i++) {
      const w = reads[i]!;
      const a = w.dynamic ? (numericWord(w) ?? w) : w;
      // classifyRead only ever reports a glob or a text with a secret-looking part; the `@file` and
      // `--opt=value` forms below read a suffix of this text, which has such a part only if the
      // whole text does. So plain arguments skip the three pattern tests.
      if (!a.glob && !mayBeSecretPath(a.text)) continue;
      const k = reads === args ? i : args.indexOf(w);
      const prev = args[k - 1]?.text;
      if (prev === '-i' && (prog === 'scp' || prog === 'rsync' || prog === 'sftp')) continue;
      // The destination of a copy is written, not read.
      if (k === args.length - 1 && /^(cp|install|ln|rsync|scp)$/.test(prog) && args.length > 1) continue;
      let p = a;
      const at = /^(?:[A-Za-z_-]*=)?@(.+)$/.exec(a.text);
      if (at) p = { ...a, text: at[1]!, prefix: a.prefix.replace(/^[^@]*@/, '') };
      else if (/^--?[A-Za-z-]+=/.test(a.text)) {
        const val = a.text.slice(a.text.indexOf('=') + 1);
        p = { ...a, text: val, prefix: a.prefix.slice(a.prefix.indexOf('=') + 1) };
      }
      const f = classifyRead(p, c.text);
      if (f) own.push(f);
    }
  }
  // Files a known program writes through its own options (`sort -o F`, `curl -o F`, `tar czf F`).
  for (const w of writeArguments(v)) {
    const f = classifyWrite(w, c.text, o.writeAllowed);
    if (f) own.push({ ...f, reason: `${prog} writes ${w.raw}: ${f.reason}` });
    else if (o.privileged && !NULL_SINK.test(w.text))
      own.push(finding('approve', 'priv.write', `${prog} writes ${w.raw} with elevated privileges`, c.text));
  }
  for (const a of args)
    if (/\/dev\/(tcp|udp)\//.test(a.text) && !own.some((f) => f.rule === 'net.dev-tcp'))
      own.push(hardDeny('net.dev-tcp', 'refers to /dev/tcp or /dev/udp (network socket)', c.text));

  // eval / source: strings and files that the shell itself runs.
  if (prog === 'eval') {
    if (args.some((a) => a.dynamic))
      own.push(finding('approve', 'exec.eval-dynamic', 'eval of text only known at run time', c.text, { floor: true }));
    else recurse(args.map((a) => a.text).join(' '), c, depth, o, own, undefined, true);
  }
  if ((prog === 'source' || prog === '.') && args[0]?.dynamic)
    own.push(
      finding('approve', 'exec.source-dynamic', 'sources a file only known at run time', c.text, { floor: true }),
    );
  // Code builtins carry, variables they set, session state, what stdin is: only for the few
  // programs concerned, so the common argv pays one Set lookup.
  if (EXTRA_RULE_PROGS.has(prog) || o.session || c.stdin || c.terminal || c.redirects.length)
    extraRules(v, depth, o, own);

  const u = unwrap(v);
  let wrapper = false;
  let innerHarmless = true;
  if (u) {
    wrapper = u.argvs.length > 0 || u.scripts.length > 0;
    own.push(...u.findings);
    // A wrapper that may change or clear the environment hides the caller's variables from its program.
    const keep = !o.env || ENV_INHERITING.has(prog) || SHELLS.has(prog) ? o : { ...o, env: undefined };
    const inner = wrapperInfo(prog)?.where === 'privileged' && !keep.privileged ? { ...keep, privileged: true } : keep;
    for (const a of u.argvs) if (!analyzeArgv(a, c, depth, inner, info, out, false, wraps + 1)) innerHarmless = false;
    for (const s of u.scripts) {
      if (s.dynamic)
        own.push(
          finding('approve', 'exec.dynamic-script', `${prog} runs a shell string only known at run time`, c.text, {
            floor: true,
          }),
        );
      const sub: Finding[] = [];
      recurse(s.text, c, depth, inner, sub, c.stdin);
      if (sub.some((f) => f.decision !== 'allow')) innerHarmless = false;
      own.push(...sub);
    }
    if (wrapper) {
      const wi = wrapperInfo(prog);
      // sudo/doas of a command judged harmless runs unattended (issue 14 item 6) unless the policy
      // approves every sudo; su, runuser and sg start a login-like shell as another user: always a person.
      const exempt = (prog === 'sudo' || prog === 'doas') && innerHarmless && !o.sudoApproval;
      if (wi?.where === 'privileged' && !exempt && !own.some((f) => f.rule.startsWith('priv.'))) {
        own.push(
          finding(
            'approve',
            'priv.sudo',
            `${prog} runs a command with elevated privileges${o.sudoApproval ? ' (the policy approves every sudo)' : ''}`,
            c.text,
          ),
        );
      } else if (wi?.where === 'elsewhere' && readOnly === undefined) {
        // Where it runs, the guard sees nothing of the host, container or namespace: not a judgment it can make.
        own.push(o.unknown(v, `${prog} runs a command on another host, container or namespace`));
        innerHarmless = false;
      }
    }
  }

  const user = o.userRule(v);
  if (user) {
    // Precedence: built-in final denies and fail-closed floors stay; a matching user rule replaces
    // the remaining built-in verdicts for this argv (it may lower approve to allow).
    for (const f of own) if (f.final || f.floor) out.push(f);
    out.push(user);
    return user.decision === 'allow' && !own.some((f) => (f.final || f.floor) && f.decision !== 'allow');
  }
  if (own.some((f) => f.decision !== 'allow')) {
    out.push(...own);
    return false;
  }
  out.push(...own);
  // A script or project file the policy lets run (script_paths_allowed) is this argv's judgment.
  if (own.some((f) => f.rule === SCRIPT_ALLOWED)) return true;
  if (wrapper) return innerHarmless && own.length === 0;
  if (readOnly !== undefined) return true;
  if (
    !viaUnknown &&
    !isKnownProgram(prog) &&
    !SHELLS.has(prog) &&
    !INTERPRETERS.test(prog) &&
    !info.functions.has(prog)
  ) {
    // An unknown program whose arguments contain a dangerous argv may be a wrapper we do not know.
    for (let i = 0; i < args.length; i++) {
      const p = progName(args[i]!.text);
      if (!builtinRule(p) && !SHELLS.has(p) && !wrapperInfo(p) && p !== 'eval') continue;
      const sub: Finding[] = [];
      analyzeArgv(args.slice(i), c, depth, o, info, sub, true);
      const w = sub.reduce((m, f) => Math.max(m, rank(f.decision)), 0);
      if (w >= rank('approve')) {
        out.push(
          finding(
            'approve',
            'exec.embedded-command',
            `${prog} is not a known program and its arguments contain a command that needs approval (${truncateText(
              args
                .slice(i)
                .map((x) => x.text)
                .join(' '),
              80,
            )})`,
            c.text,
          ),
        );
        break;
      }
    }
  }
  const b = o.judge(v, info);
  if (!b) return true;
  out.push(b);
  return false;
}

/** Programs extraRules has a rule for (outside sessions and without stdin). */
const EXTRA_RULE_PROGS: ReadonlySet<string> = new Set([
  'trap',
  'alias',
  'bind',
  'complete',
  'compgen',
  'read',
  'printf',
  'mapfile',
  'readarray',
  'getopts',
  'wait',
  'let',
  'tmux',
  'screen',
]);

function extraRules(v: View, depth: number, o: AnalyzeOptions, own: Finding[]): void {
  const { prog, args, sc: c } = v;
  // Code that builtins run later or at once (trap handlers, aliases, key bindings, completions).
  for (const e of embeddedCode(v)) {
    if (e.dynamic)
      own.push(finding('approve', 'exec.dynamic-code', `${e.what} is only known at run time`, c.text, { floor: true }));
    else recurse(e.text, c, depth, o, own, undefined, e.sameShell);
  }
  if (assignsByName.has(prog)) {
    // `read PATH`, `printf -v PATH …`: a hijacking variable set by a builtin, as by `PATH=…`.
    for (const n of assignedNames(prog, args).names) {
      const h = hijackAssign(n, undefined, `${prog} sets`, c.text);
      if (h) own.push(h);
    }
  }
  // INVARIANT: in a session, what changes how later lines are read or run is never below approve.
  if (o.session) for (const f of sessionArgvRule(v)) own.push({ ...f, floor: true });
  // Typing into another terminal runs the text there, where no guard sees it.
  if (
    (prog === 'tmux' && args.some((a) => /^(send-keys|send|paste-buffer|pasteb)$/.test(a.text))) ||
    (prog === 'screen' && args.some((a) => a.text === 'stuff'))
  ) {
    own.push(
      finding(
        'approve',
        'exec.terminal-input',
        `${prog} types input into another terminal, where it runs unjudged`,
        c.text,
      ),
    );
  }
  judgeStdin(v, depth, o, own);
}

/** Builtins that assign a variable named by an argument (src/guard/session.ts assignedNames). */
const assignsByName: ReadonlySet<string> = new Set([
  'read',
  'printf',
  'mapfile',
  'readarray',
  'getopts',
  'wait',
  'let',
]);

/**
 * Re-parses `text` as a command line one level down. `sameShell`: it runs in the shell that ran
 * this line (eval, trap handlers, aliases), so session rules still apply; otherwise it runs in a
 * new shell, whose state changes end with it, and never reads the session's terminal.
 */
function recurse(
  text: string,
  c: SimpleCommand,
  depth: number,
  o: AnalyzeOptions,
  out: Finding[],
  stdin?: StdinText,
  sameShell = false,
): void {
  if (depth + 1 > o.maxReparseDepth) {
    out.push(
      finding('approve', 'limits.nesting', `shell strings nest deeper than ${o.maxReparseDepth} levels`, c.text, {
        floor: true,
      }),
    );
    out.push(...rawScan(text));
    return;
  }
  const inner =
    o.terminal || (o.session && !sameShell) ? { ...o, terminal: false, session: o.session && sameShell } : o;
  out.push(...analyze(text, depth + 1, inner, stdin));
}

/** Programs started in the background of a session line, or in a new terminal session. */
const DETACHING = /^(setsid|coproc|nohup|disown)$/;

/**
 * What standard input is to this program (src/guard/stdin.ts), judged: a script is parsed and
 * judged as bash, code the guard cannot read is approve, xargs builds commands from it.
 */
function judgeStdin(v: View, depth: number, o: AnalyzeOptions, out: Finding[]): void {
  const c = v.sc;
  if (!c.stdin && !c.terminal && !c.redirects.length) return;
  const use = stdinUse(v);
  if (use.kind === 'data') return;
  const what = use.kind === 'xargs' ? 'xargs' : use.what;
  if (c.terminal) {
    // The session's terminal: later sends. A nested shell reads them with its own options; a
    // program reading code from it in the background competes with the session's shell.
    if (use.kind === 'script')
      out.push(
        finding(
          'approve',
          'session.nested-shell',
          `${what} reads the session's later input as commands, outside the session's own shell`,
          c.text,
          { floor: true },
        ),
      );
    else if (c.background || c.argv.some((w) => DETACHING.test(w.text)))
      out.push(
        finding(
          'approve',
          'session.background-reader',
          `${what} reads the session's terminal in the background`,
          c.text,
          { floor: true },
        ),
      );
    return;
  }
  const src = c.stdin;
  if (!src) {
    const r = stdinRedirect(c);
    if (r && use.kind !== 'xargs' && !(r.target && !r.target.dynamic && r.target.text === '/dev/null')) {
      out.push(
        finding(
          'approve',
          'exec.stdin-file',
          `${what} runs code from ${r.target?.raw ?? 'another descriptor'}, which the guard cannot read`,
          c.text,
        ),
      );
    }
    return;
  }
  switch (use.kind) {
    case 'script':
      if (use.foreign)
        out.push(finding('approve', 'exec.stdin-script', `${what} runs standard input as a script`, c.text));
      if (src.dynamic) {
        out.push(
          finding(
            'approve',
            'exec.dynamic-script',
            `${what} runs a script from standard input that is only known at run time`,
            c.text,
            { floor: true },
          ),
        );
        if (src.scan) out.push(...rawScan(src.scan));
      } else {
        // Commands in the script that read stdin read the rest of the script: unknown to them.
        recurse(src.text, c, depth, o, out, UNKNOWN_STDIN, v.prog === 'source' || v.prog === '.');
      }
      return;
    case 'code':
      if (!src.dynamic && use.scan) out.push(...scanCode(src.text, what, v));
      else
        out.push(
          finding(
            'approve',
            'exec.stdin-code',
            `${what} runs standard input as code, which cannot be checked statically`,
            c.text,
          ),
        );
      if (src.dynamic && src.scan) out.push(...rawScan(src.scan));
      return;
    case 'sql':
      // The database rules (dbClientRule) read the statements and client commands in known text,
      // as for `psql -c`; unknown text is their `db.opaque` approve.
      if (src.dynamic && src.scan) out.push(...rawScan(src.scan));
      return;
    case 'xargs': {
      // xargs appends what it reads to its command: followed when the text is known.
      const runs = src.dynamic ? undefined : xargsRuns(v.args, src.text);
      if (!runs) return;
      for (const run of runs) recurse(run.map(shellQuote).join(' '), c, depth, o, out);
      return;
    }
  }
}

/* ---------------- data flow ---------------- */

interface Role {
  net: boolean;
  decoder: boolean;
  envDump: boolean;
  /** Runs or applies its stdin (bash with no script, python -, psql, tar x, …: src/guard/stdin.ts). */
  stdinCode: boolean;
  /** …and is a shell or interpreter, so network or decoded data into it is remote code execution. */
  stdinShell: boolean;
  /** Runs code in any way (for substitutions: `bash -c "$(…)"`, `source <(…)`). */
  codeSink: boolean;
  netSink: boolean;
  /** Static text it prints (echo/printf/cat <<EOF) for `echo … | sh`. */
  staticOut?: string;
  downloads: string[];
  prog: string;
  words: Word[];
}

/**
 * The argvs a command runs through its wrappers (`sudo nice curl …`: sudo's, nice's, curl's), up
 * to 8 deep. Shells end the chain: they run shell strings, not argvs (WRAPPER_PROGS has none).
 */
function effective(argv: Word[]): Word[][] {
  const chain: Word[][] = [argv];
  let cur = argv;
  for (let i = 0; i < 8; i++) {
    const head = cur[0];
    if (!head || !WRAPPER_PROGS.has(progName(head.text))) break;
    const sc: SimpleCommand = { argv: cur, assigns: [], redirects: [], text: '', pipes: [] };
    const v: View = { prog: progName(head.text), path: head.text, args: cur.slice(1), sc, depth: 0, text: '' };
    const next = unwrap(v)?.argvs[0];
    if (!next) break;
    cur = next;
    chain.push(cur);
  }
  return chain;
}

/* ---- roles: what each program does with data, one table of families ---- */

/** What a role family reads of one command (the program its wrappers run, `effective()`). */
interface RoleInput {
  prog: string;
  /** Its arguments' text. */
  a: string[];
  /** Its words, the program's first. */
  argv: Word[];
  c: SimpleCommand;
  /** The wrapper chain down to it (for code run through xargs or parallel). */
  chain: Word[][];
}

/** Sets what one family of programs does with data. A role starts all false; families only set fields. */
type RoleRule = (r: Role, x: RoleInput) => void;

/** Shells, interpreters, `source`, `.`, `eval`: they run code; through xargs or parallel, what they read is code. */
const codeSink: RoleRule = (r, x) => {
  r.codeSink = true;
  if (x.chain.some((w) => w[0] !== undefined && /^(xargs|parallel)$/.test(progName(w[0].text)))) r.stdinCode = true;
  r.stdinShell = r.stdinCode;
};

/**
 * Program name -> its role families. A name in several families gets each (nc is a network
 * client and a network sink; echo decodes and prints static text). Any other program has the
 * plain role: nothing flows into or out of it as code or secrets.
 */
const ROLES = new Map<string, RoleRule>();
const role = (names: string, rule: RoleRule): void => {
  for (const n of names.split(/\s+/)) {
    if (!n) continue;
    // Interpreters are a pattern (rules-sys.ts), not names: a listed one is a code sink besides.
    const prev = ROLES.get(n) ?? (INTERPRETERS.test(n) ? codeSink : undefined);
    ROLES.set(
      n,
      prev
        ? (r, x) => {
            prev(r, x);
            rule(r, x);
          }
        : rule,
    );
  }
};

/* ---- network clients ---- */

/** Copies that reach the network only when an operand names a host (`scp f host:d`). */
const REMOTE_COPY: ReadonlySet<string> = new Set(['scp', 'sftp', 'rsync']);

/** A network client; `transfers` finds what it downloads and whether it sends. Its output redirects are downloads. */
const netClient =
  (transfers: (r: Role, a: string[]) => void): RoleRule =>
  (r, x) => {
    r.net = !REMOTE_COPY.has(x.prog) || x.a.some((s) => s.includes(':'));
    transfers(r, x.a);
    for (const rd of x.c.redirects) {
      if (rd.op.includes('>') && rd.target && !/^\d+$/.test(rd.target.text)) r.downloads.push(base(rd.target.text));
    }
  };

/** curl options that send data (`-d x`, `--data=x`). */
const CURL_SENDS = /^(-d|--data|--data-binary|--data-raw|--data-urlencode|-F|--form|-T|--upload-file|--json)$/;
const CURL_SENDS_EQ = /^(--data|--data-binary|--upload-file|--json|--form)=/;

function curlTransfers(r: Role, a: string[]): void {
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t === '-o' || t === '--output') r.downloads.push(base(a[i + 1] ?? ''));
    if (t === '-O' || t === '--remote-name') r.downloads.push(...a.filter((s) => /^https?:/.test(s)).map(urlBase));
    if (CURL_SENDS.test(t) || CURL_SENDS_EQ.test(t)) r.netSink = true;
  }
}

function wgetTransfers(r: Role, a: string[]): void {
  const oi = a.findIndex((s) => s === '-O' || s === '--output-document' || /^-[a-zA-Z]*O$/.test(s));
  const out = oi >= 0 ? a[oi + 1] : undefined;
  if (out && out !== '-') r.downloads.push(base(out));
  else if (oi < 0) r.downloads.push(...a.filter((s) => /^https?:/.test(s)).map(urlBase));
  if (a.some((s) => /^--(post-file|post-data|body-file|body-data)/.test(s))) r.netSink = true;
}

/** A program that may send whatever it is given to the network. */
const sends = (r: Role): void => {
  r.netSink = true;
};
const sendingClient = netClient(sends);

role('curl', netClient(curlTransfers));
role('wget', netClient(wgetTransfers));
role('fetch http https xh aria2c lynx links w3m httpie nc ncat netcat socat telnet s_client gh', sendingClient);
role('scp sftp ftp tftp rsync', sendingClient);
role('openssl', (r, x) => {
  if (x.a[0] === 's_client') sendingClient(r, x);
});

/* ---- decoders ---- */

/** `\xHH`, `\NNN`, `\uHHHH`: escapes printf (and echo -e) turn into other characters. */
const hasEscapes = (a: string[]): boolean => a.some((s) => /\\x[0-9a-fA-F]|\\[0-7]{3}|\\u[0-9a-fA-F]{4}/.test(s));
const decodes = (r: Role): void => {
  r.decoder = true;
};

role('base64 base32 basenc gbase64', (r, x) => {
  if (x.a.some((s) => /^(-d|--decode|-D)$/.test(s) || /^-[a-zA-Z]*d/.test(s))) decodes(r);
});
role('xxd', (r, x) => {
  if (x.a.some((s) => /^-[a-zA-Z]*r/.test(s))) decodes(r);
});
// `openssl base64 -d`, `openssl enc -d …`: any openssl command given -d.
role('openssl', (r, x) => {
  if (x.a.includes('-d')) decodes(r);
});
role('uudecode rev zcat gunzip bzcat bunzip2 xzcat unxz zstdcat lzcat brotli unzstd', decodes);
role('gzip xz bzip2 zstd', (r, x) => {
  if (x.a.some((s) => /^-[a-zA-Z]*d|--decompress/.test(s))) decodes(r);
});
role('tr', (r, x) => {
  if (x.a.some((s) => /n-za-m|N-ZA-M/.test(s))) decodes(r);
});
role('printf', (r, x) => {
  if (hasEscapes(x.a)) decodes(r);
});
role('echo', (r, x) => {
  if (hasEscapes(x.a) && x.a.some((s) => /^-[a-zA-Z]*e/.test(s))) decodes(r);
});

/* ---- environment dumps ---- */

const dumpsEnv = (r: Role): void => {
  r.envDump = true;
};
role('env printenv set', (r, x) => {
  if (x.a.length === 0) dumpsEnv(r);
});
role('export declare typeset', (r, x) => {
  if (x.a.length <= 1 && x.a.some((s) => s === '-p' || s === '-x')) dumpsEnv(r);
});
role('compgen', (r, x) => {
  if (x.a.includes('-v')) dumpsEnv(r);
});

/* ---- code sinks (interpreters too: role() and roleRule()) ---- */

role([...SHELLS].join(' '), codeSink);
role('source . eval', codeSink);

/* ---- network sinks ---- */

role('mail mailx sendmail mutt ssh nc ncat netcat socat telnet', sends);

/* ---- static output (for `echo … | sh`) ---- */

role('echo', (r, x) => {
  const ws = x.argv.slice(1);
  if (ws.some((w) => w.dynamic)) return;
  // A leading -n/-e/-E is echo's option, not text.
  r.staticOut = ws
    .filter((w, i) => !(i === 0 && /^-[neE]+$/.test(w.text)))
    .map((w) => w.text)
    .join(' ');
});
role('printf', (r, x) => {
  if (!x.argv.slice(1).some((w) => w.dynamic)) r.staticOut = x.a.join(' ');
});
role('cat', (r, x) => {
  if (x.a.length === 0 && x.c.stdin && !x.c.stdin.dynamic) r.staticOut = x.c.stdin.text;
});

/** Every program name with a role family (interpreters aside: a pattern). */
export const ROLE_PROGS: ReadonlySet<string> = new Set(ROLES.keys());

/** A program's role families (an interpreter's by its pattern), or undefined: nothing flows into or out of it. */
function roleRule(prog: string): RoleRule | undefined {
  return ROLES.get(prog) ?? (INTERPRETERS.test(prog) ? codeSink : undefined);
}

/** The downloads of every program with no family (shared: never written). */
const NO_DOWNLOADS: string[] = [];

/** A role with no family's fields set. */
function newRole(prog: string, words: Word[], stdinCode: boolean, stdinShell: boolean, downloads: string[]): Role {
  return {
    net: false,
    decoder: false,
    envDump: false,
    stdinCode,
    stdinShell,
    codeSink: false,
    netSink: false,
    downloads,
    prog,
    words,
  };
}

function roleOf(c: SimpleCommand): Role {
  const chain = effective(c.argv);
  // The chain starts with c.argv, so it is never empty.
  const argv = chain[chain.length - 1] ?? c.argv;
  const head = argv[0];
  const prog = head ? progName(head.text) : '';
  // What it does with stdin matters only when something is piped into it.
  const piped = c.pipes.length > 0 || c.feedKind === 'file-out';
  const use =
    piped && head && mayRunStdin(prog)
      ? stdinUse({ prog, path: head.text, args: argv.slice(1), sc: c, depth: 0, text: '' }).kind
      : 'data';
  const stdinCode = use === 'script' || use === 'code' || use === 'sql';
  const rule = roleRule(prog);
  // NO_DOWNLOADS is only read (flow() iterates it); roles that download get their own array.
  if (!rule) return newRole(prog, argv, stdinCode, use === 'script', NO_DOWNLOADS);
  // A program with a family runs its stdin as a shell only as a code sink (codeSink sets it).
  const r = newRole(prog, argv, stdinCode, false, []);
  rule(r, { prog, a: argv.slice(1).map((w) => w.text), argv, c, chain });
  return r;
}

function base(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
function urlBase(u: string): string {
  const q = u.split(/[?#]/)[0]!;
  return base(q) || 'index.html';
}

/** One word, single-quoted for bash (an embedded quote closes, escapes and reopens). */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function samePipe(a: SimpleCommand, b: SimpleCommand): boolean {
  for (const p of a.pipes) for (const q of b.pipes) if (p.id === q.id && p.stage < q.stage) return true;
  return false;
}

/** Partners of a command outside any pipeline. Never mutated. */
const NO_PARTNERS: ReadonlySet<number> = new Set();

/**
 * The command (or role) at index `i` of the line's list. Pipe partners and substitution targets
 * are indices extract() gave out for this list, so a miss is a guard bug: thrown, as reading
 * through the missing entry would, so the engine fails closed (internal.error, approve).
 */
function at<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`guard: no command at index ${i} of ${xs.length}`);
  return x;
}

function flow(cmds: SimpleCommand[], roles: Role[], depth: number, o: AnalyzeOptions): Finding[] {
  const out: Finding[] = [];
  const tainted = new Set<string>();
  const downloaded = new Set<string>();
  // Index commands by pipeline so the pairwise check only visits real pipe partners.
  const byPipe = new Map<number, number[]>();
  cmds.forEach((c, i) => {
    for (const p of c.pipes) {
      const l = byPipe.get(p.id);
      if (l) l.push(i);
      else byPipe.set(p.id, [i]);
    }
  });
  const secret = new Map<number, boolean>();
  const isSecret = (j: number): boolean => {
    let v = secret.get(j);
    if (v === undefined) {
      v = isSecretReader(at(cmds, j));
      secret.set(j, v);
    }
    return v;
  };
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[i]!;
    const r = at(roles, i);
    // Sources flowing into this command through a pipe.
    const partners = c.pipes.length ? new Set<number>() : NO_PARTNERS;
    for (const p of c.pipes) for (const j of byPipe.get(p.id) ?? []) (partners as Set<number>).add(j);
    for (const j of partners) {
      const from = at(cmds, j);
      if (j === i || !samePipe(from, c)) continue;
      const s = at(roles, j);
      const m = `${from.text} | … ${c.text}`;
      if (r.stdinCode) {
        // Known text in the pipe (`echo … | sh`) was handed to this command as its stdin and judged
        // by the stdin rules (pipeStaticText); anything else it runs or applies is unseen.
        if (s.net || s.decoder) {
          const why = s.net
            ? `pipes data from the network (${s.prog}) into ${r.prog}`
            : `pipes decoded data (${s.prog}) into ${r.prog}`;
          if (r.stdinShell) out.push(hardDeny(s.net ? 'remote.pipe-to-shell' : 'remote.decode-to-shell', why, m));
          else out.push(finding('approve', 'exec.pipe-to-code', `${why}, which runs or applies it`, m));
        } else if (!c.stdin || c.stdin.dynamic)
          out.push(finding('approve', 'exec.pipe-to-shell', `pipes the output of ${s.prog} into ${r.prog} as code`, m));
      }
      if (s.envDump && (r.netSink || r.net))
        out.push(hardDeny('secrets.exfil', `sends the environment (${s.prog}) to the network (${r.prog})`, m));
      if ((r.netSink || r.net) && isSecret(j))
        out.push(hardDeny('secrets.exfil', `sends a secret file to the network (${r.prog})`, m));
    }
    // Substitutions: this command's output becomes another command's argument or file.
    if (c.feeds !== undefined && c.feeds >= 0) {
      const k = at(cmds, c.feeds);
      const kr = at(roles, c.feeds);
      const m = `${k.text}`;
      if (c.feedKind === 'file-out') {
        if (kr.net && r.stdinCode)
          out.push(hardDeny('remote.pipe-to-shell', `sends network data (${kr.prog}) into ${r.prog}`, m));
      } else {
        if ((r.net || r.decoder) && kr.codeSink)
          out.push(
            hardDeny(
              r.net ? 'remote.exec-download' : 'remote.decode-to-shell',
              `${kr.prog} runs ${r.net ? 'downloaded' : 'decoded'} code from ${r.prog}`,
              m,
            ),
          );
        else if (c.feedKind === 'file-in' && kr.codeSink && kr.prog !== 'eval')
          out.push(...substitutedScript(c, kr, k, depth, o));
        if ((r.envDump || isSecretReader(c)) && (kr.net || kr.netSink))
          out.push(
            hardDeny(
              'secrets.exfil',
              `sends ${r.envDump ? 'the environment' : 'a secret'} to the network (${kr.prog})`,
              m,
            ),
          );
      }
    }
    if (c.assignTo && (r.net || r.decoder)) tainted.add(c.assignTo);
    if (r.codeSink && tainted.size) {
      const uses = c.argv.some((w) => w.vars.some((x) => tainted.has(x))) || (c.stdin?.dynamic ?? false);
      if (uses)
        out.push(
          hardDeny(
            'remote.exec-download',
            `${r.prog} runs code held in a variable filled from the network or a decoder`,
            c.text,
          ),
        );
    }
    if (downloaded.size) {
      const names = r.words.map((w) => base(w.text));
      const head = r.words[0];
      const runs =
        (r.codeSink && names.slice(1).some((n) => downloaded.has(n))) ||
        (head?.text.includes('/') && downloaded.has(base(head.text)));
      if (runs)
        out.push(
          hardDeny(
            'remote.download-exec',
            `runs a file that was just downloaded (${names.find((n) => downloaded.has(n))})`,
            c.text,
          ),
        );
    }
    for (const d of r.downloads) if (d) downloaded.add(d);
  }
  return out;
}

/**
 * `bash <(…)`, `source <(…)`, `python3 <(…)`: the program runs what the substitution prints. When
 * that is known text (`<(echo …)`, `<(cat)` of known stdin) a shell's script is judged; anything
 * else runs code the guard cannot see.
 */
function substitutedScript(c: SimpleCommand, kr: Role, k: SimpleCommand, depth: number, o: AnalyzeOptions): Finding[] {
  const text = staticOutput(c);
  const shell = SHELLS.has(kr.prog) || kr.prog === 'source' || kr.prog === '.';
  if (text === undefined || !shell)
    return [
      finding(
        'approve',
        'exec.dynamic-script',
        `${kr.prog} runs code produced by ${c.text}, which the guard cannot read`,
        k.text,
        { floor: true },
      ),
    ];
  if (depth + 1 > o.maxReparseDepth)
    return [finding('approve', 'limits.nesting', 'shell strings nest too deep', k.text, { floor: true })];
  return analyze(
    text,
    depth + 1,
    { ...o, terminal: false, session: o.session && kr.prog !== 'bash' && !SHELLS.has(kr.prog) },
    UNKNOWN_STDIN,
  );
}

function isSecretReader(c: SimpleCommand): boolean {
  for (const w of c.argv.slice(1)) {
    const f = classifyRead(w, '');
    if (f) return true;
  }
  for (const r of c.redirects) if (r.op === '<' && r.target && classifyRead(r.target, '')) return true;
  return false;
}
