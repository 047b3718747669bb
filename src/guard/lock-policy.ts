/**
 * Profile, then lock (issue 20 item 5): a policy file generated from what an agent was observed to
 * do, and the replay that shows what a policy would decide about recorded actions.
 *
 * The generated policy is a lock: `defaults.unknown_command` refuses what was not observed, HTTP
 * requests and file-tool paths not observed are refused by a last catch-all rule, and observed
 * actions become rules no wider than what was seen (the only widening: an argument or path part
 * that varied between ids, numbers, UUIDs or hashes becomes that class). Which argvs need a rule
 * is not guessed: each observed command is judged by the real engine with the policy as built so
 * far, and the argv a refusal names gets a rule, until every observed action gets what it got
 * then. What the built-in table already vouches for (ls, cat, git status…) needs none.
 *
 * INVARIANT: no rule the generator writes lets run unattended what needed a person, or allows a
 * shell, an interpreter, eval, or a command run on another host or as another user: rules for
 * those are approve, for exactly the arguments observed, and marked `# REVIEW:` (a rule cannot pin
 * the code they run). What the guard reads itself (`bash -c 'ls'`) needs no rule. Text from
 * agents' input reaches the file only as escaped scalars and one-line comments.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatehouseError, truncateText } from '../core/index.js';
import { analyze, type AnalyzeOptions } from './analyze.js';
import type { View } from './argv.js';
import { clip, type SimpleCommand } from './extract.js';
import {
  loadGuard,
  MAX_COMMAND_BYTES,
  MAX_NODES,
  MAX_REPARSE_DEPTH,
  MAX_TREE_DEPTH,
  type GuardEngine,
} from './engine.js';
import { compileGlobs } from './glob.js';
import { normalizeHttpPath } from './http.js';
import { writeArguments } from './known-programs.js';
import { loadBashParser, type Parser } from './parser.js';
import { normalizePath } from './paths.js';
import { INTERPRETERS } from './rules-sys.js';
import {
  finding,
  rank,
  type CommandInput,
  type GuardDecision,
  type GuardRunContext,
  type HttpRequestLike,
  type Verdict,
} from './types.js';
import type { Word } from './words.js';
import { SHELLS, wrapperInfo } from './wrappers.js';

/* ------------------------------------------------------------------------------------------------
 * What was observed, and the replay
 * ---------------------------------------------------------------------------------------------- */

/** What the guard judged in an observed action (what src/audit reads back from a record's payload). */
export type ObservedOperation =
  | ({ kind: 'command'; command: string; context: GuardRunContext } & CommandInput)
  | ({ kind: 'http' } & HttpRequestLike)
  | { kind: 'path'; op: 'read' | 'write'; path: string };

export interface ObservedAction {
  seq: number;
  ts: string;
  tokenName: string | null;
  tool: string;
  target: string | null;
  summary: string;
  operation: ObservedOperation;
  /** The verdict it got then. */
  decision: Verdict;
  rule: string | null;
  /** Set when it did not run: for `approve`, a person did not approve it. */
  outcome: string | null;
}

export interface ReplayChange {
  seq: number;
  ts: string;
  tool: string;
  target: string | null;
  tokenName: string | null;
  summary: string;
  from: { decision: Verdict; rule: string | null };
  to: GuardDecision;
  /** stricter: refused or held for a person where it was not before; looser: the other way. */
  direction: 'stricter' | 'looser';
}

export interface ReplayResult {
  policy: string;
  replayed: number;
  unchanged: number;
  stricter: number;
  looser: number;
  /** Every action whose decision would change, in the order they happened. */
  changes: ReplayChange[];
}

/** One observed action judged by `policy` (by name, so its applies_to does not matter) where it ran. */
export function judgeObserved(engine: GuardEngine, policy: string, a: ObservedAction): GuardDecision {
  const op = a.operation;
  const ctx = {
    policy,
    ...(a.target !== null ? { target: a.target } : {}),
    ...(a.tokenName !== null ? { token: a.tokenName } : {}),
  };
  if (op.kind === 'command') {
    const input: CommandInput | undefined =
      op.stdin !== undefined || op.env !== undefined || op.session
        ? {
            ...(op.stdin !== undefined ? { stdin: op.stdin } : {}),
            ...(op.env !== undefined ? { env: op.env } : {}),
            ...(op.session ? { session: true } : {}),
          }
        : undefined;
    return engine.checkCommand(op.command, { ...ctx, context: op.context }, input);
  }
  if (op.kind === 'http') {
    const { kind: _kind, ...req } = op;
    return engine.checkHttp(req, ctx);
  }
  return engine.checkPath(op.op, op.path, ctx);
}

/** Judges every observed action again with `policy` and lists those whose decision would change. */
export function replayObserved(engine: GuardEngine, policy: string, actions: readonly ObservedAction[]): ReplayResult {
  const out: ReplayResult = { policy, replayed: 0, unchanged: 0, stricter: 0, looser: 0, changes: [] };
  for (const a of actions) {
    const d = judgeObserved(engine, policy, a);
    out.replayed++;
    if (d.decision === a.decision) {
      out.unchanged++;
      continue;
    }
    const direction = rank(d.decision) > rank(a.decision) ? 'stricter' : 'looser';
    out[direction]++;
    out.changes.push({
      seq: a.seq,
      ts: a.ts,
      tool: a.tool,
      target: a.target,
      tokenName: a.tokenName,
      summary: a.summary,
      from: { decision: a.decision, rule: a.rule },
      to: d,
      direction,
    });
  }
  return out;
}

/* ------------------------------------------------------------------------------------------------
 * Generation
 * ---------------------------------------------------------------------------------------------- */

export interface LockPolicyOptions {
  /** The policy's name (letters, digits, - and _); not a built-in policy's. */
  name: string;
  /** `applies_to.tokens`: the tokens it binds to (none: it applies only where it is named). */
  tokens: readonly string[];
  /** `defaults.unknown_command`: deny (the lock) or approve (a person sees the unobserved). */
  unknown: 'deny' | 'approve';
  /** Where the observations came from, for the header (`token agent, since 1d`). */
  source: string;
  /** The audit filters as options (`--token agent --since 1d`), for the header's commands. */
  filters: string;
}

export interface LockPolicyResult {
  name: string;
  /** The policy file's text (YAML with comments). */
  text: string;
  stats: {
    actions: number;
    commandRules: number;
    httpRules: number;
    pathRules: number;
    /** Rules marked `# REVIEW:`. */
    review: number;
    /** Refused actions listed as commented-out rules. */
    refused: number;
  };
  /** The observed actions judged again with the generated policy. */
  replay: ReplayResult;
}

type Target = 'allow' | 'approve';
type Seen = { a: ObservedAction; target: Target | 'refused' };

/** What an observed action should get from the lock: what it got then; refused ones get no rule. */
function targetOf(a: ObservedAction): Target | 'refused' {
  if (a.decision === 'allow') return 'allow';
  if (a.decision === 'approve' && a.outcome === null) return 'approve';
  return 'refused';
}

/** One argv the guard judged inside an observed command (nested ones included). */
interface Argv {
  /** prog and args: what a command rule matches. */
  key: string;
  prog: string;
  path: string;
  args: string[];
  text: string;
  /** An argument only known at run time (`$X`): a rule on its text would not pin what runs. */
  dynamic: boolean;
  /** The audit record holds a scrubbed value here (the scrubber's replacement character). */
  scrubbed: boolean;
  /** Files it writes (redirects and known output options): for `paths.write_allowed`. */
  writes: string[];
  /** URLs' host names among its arguments. */
  hosts: string[];
}

/** Programs whose requests meet the policy's HTTP rules (src/guard/builtins.ts: curl, wget, httpie, xh). */
const HTTP_CLIENTS = ['curl', 'wget', 'http', 'https', 'httpie', 'xh', 'xhs'];
/** The write roots of the default policy (policies/default.yaml); the lock keeps those observed in use. */
const DEFAULT_WRITE_ROOTS = ['./**', '/tmp/**', '/var/tmp/**', '~/**'];
const NULL_SINK = /^\/dev\/(null|stdout|stderr|tty|fd\/\d+)$/;
/** What the audit log's scrubber and canonical form put where a value was (src/audit/canonical.ts). */
const SCRUBBED = '\uFFFD';
/** Rounds of "judge, add the argv a refusal names" before giving up on the rest. */
const MAX_ROUNDS = 48;

export async function generateLockPolicy(
  actions: readonly ObservedAction[],
  o: LockPolicyOptions,
): Promise<LockPolicyResult> {
  // The engine would refuse the file later, naming a temporary file: say it about the name here.
  const builtins = (await loadGuard()).policyNames();
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(o.name) || builtins.includes(o.name))
    throw new GatehouseError('policy_invalid', `cannot name the generated policy ${JSON.stringify(o.name)}`, {
      hint: `use letters, digits, - and _, and not a built-in policy's name (${builtins.join(', ')})`,
    });
  const parser = await loadBashParser();
  const seen: Seen[] = actions.map((a) => ({ a, target: targetOf(a) }));
  const commands = seen.filter((s) => s.a.operation.kind === 'command');
  const argvCache = new Map<string, Argv[]>();
  const argvsFor = (s: Seen): Argv[] => {
    const op = s.a.operation as Extract<ObservedOperation, { kind: 'command' }>;
    const k = JSON.stringify([op.command, op.context, op.stdin ?? null, op.env ?? null, op.session === true]);
    let v = argvCache.get(k);
    if (!v) argvCache.set(k, (v = argvsOf(parser, op)));
    return v;
  };

  // Where each argv of an action that ran was used, and what the action got then.
  const uses = new Map<string, { context: GuardRunContext; target: Target }[]>();
  const argvByKey = new Map<string, Argv>();
  for (const s of commands) {
    if (s.target === 'refused') continue;
    const ctx = (s.a.operation as { context: GuardRunContext }).context;
    for (const v of argvsFor(s)) {
      argvByKey.set(v.key, argvByKey.get(v.key) ?? v);
      const list = uses.get(v.key) ?? [];
      list.push({ context: ctx, target: s.target });
      uses.set(v.key, list);
    }
  }

  const plan: Plan = {
    o,
    needed: new Map(),
    writeRoots: writeRootsOf(seen, argvsFor),
    sudoApproval: !commands.some(
      (s) => s.target === 'allow' && argvsFor(s).some((v) => v.prog === 'sudo' || v.prog === 'doas'),
    ),
    parseError: commands.some((s) => s.target === 'approve' && s.a.rule?.startsWith('parse.')) ? 'approve' : 'deny',
    http: httpRulesOf(seen),
    paths: pathRulesOf(seen),
    decisionOf: (key) => decisionOf(uses.get(key) ?? []),
  };

  // Rounds: judge every observed command that ran with the rules so far; the argv a stricter
  // verdict names gets an exact rule. Each round adds at least one rule or ends. A command seen
  // many times with one verdict is judged once per round (the policy is named, so who and where
  // do not change the answer).
  const distinct = new Map<string, { a: ObservedAction; target: Target }>();
  for (const { a, target } of commands)
    if (target !== 'refused') distinct.set(JSON.stringify([a.operation, target]), { a, target });
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const engine = await engineFor(render(plan, { exact: true }).text);
    let added = false;
    for (const s of distinct.values()) {
      const d = judgeObserved(engine, o.name, s.a);
      if (rank(d.decision) <= rank(s.target)) continue;
      // Inner argvs come first (a wrapper's command before the wrapper): the narrowest rule first.
      const v = argvsFor(s).find(
        (x) => !plan.needed.has(x.key) && (x.text === d.matched || clip(x.text) === d.matched),
      );
      if (!v) continue;
      plan.needed.set(v.key, { argv: argvByKey.get(v.key) ?? v, why: new Map([[d.rule, d.reason]]) });
      added = true;
    }
    if (!added) break;
  }
  // Why each rule is there, from every verdict that named its argv (for the comments).
  {
    const skeleton = await engineFor(render({ ...plan, needed: new Map() }, { exact: true }).text);
    for (const s of distinct.values()) {
      const d = judgeObserved(skeleton, o.name, s.a);
      for (const v of argvsFor(s))
        if (v.text === d.matched || clip(v.text) === d.matched) plan.needed.get(v.key)?.why.set(d.rule, d.reason);
    }
  }

  // The refused argvs of each program: a generalised pattern must not reach them.
  plan.refusedArgs = new Map();
  for (const s of commands)
    if (s.target === 'refused')
      for (const v of argvsFor(s)) {
        if (uses.has(v.key)) continue;
        const set = plan.refusedArgs.get(v.prog) ?? new Set<string>();
        set.add(v.args.join(' '));
        plan.refusedArgs.set(v.prog, set);
      }

  let rendered = render(plan, { exact: false });
  let engine = await engineFor(rendered.text);
  let replay = replayObserved(engine, o.name, actionsThatRan(seen));
  // A write the narrowed roots missed (a program whose output file the guard knows and this
  // module did not see): keep every default root rather than ask for what ran unattended.
  if (
    replay.changes.some((c) => c.to.rule === 'fs.write-outside') &&
    plan.writeRoots.length < DEFAULT_WRITE_ROOTS.length
  ) {
    plan.writeRoots = [...DEFAULT_WRITE_ROOTS];
    rendered = render(plan, { exact: false });
    engine = await engineFor(rendered.text);
    replay = replayObserved(engine, o.name, actionsThatRan(seen));
  }
  // What was refused, as commented-out rules: judged by the lock, so the comment says whether a
  // rule could allow it at all.
  const refused = refusedEntries(seen, engine, o.name, argvsFor);
  const looser = replayObserved(
    engine,
    o.name,
    seen.filter((s) => s.target === 'refused').map((s) => s.a),
  ).changes.filter((c) => c.direction === 'looser');
  const hosts = hostsOf(seen, argvsFor);
  const text = header(plan, seen, replay, looser, hosts) + rendered.body(refused);
  return {
    name: o.name,
    text,
    stats: {
      actions: actions.length,
      commandRules: rendered.commandRules,
      httpRules: plan.http.rules.length,
      pathRules: plan.paths.rules.length,
      review: rendered.review,
      refused: refused.length,
    },
    replay,
  };
}

function actionsThatRan(seen: readonly Seen[]): ObservedAction[] {
  return seen.filter((s) => s.target !== 'refused').map((s) => s.a);
}

/** Per context the most permissive verdict it ran with; across contexts the strictest (a rule has no context). */
function decisionOf(list: readonly { context: GuardRunContext; target: Target }[]): Target {
  // Never observed running: nothing vouches for allow.
  if (!list.length) return 'approve';
  const by = new Map<GuardRunContext, Target>();
  for (const u of list) by.set(u.context, by.get(u.context) === 'allow' || u.target === 'allow' ? 'allow' : 'approve');
  return [...by.values()].includes('approve') ? 'approve' : 'allow';
}

/**
 * A guard engine with the bundled policies and `text` as a policy file. The engine reads policy
 * files from disk, so the text goes to a private temporary file for the duration of the load.
 */
async function engineFor(text: string): Promise<GuardEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
  try {
    const file = join(dir, 'lock.yaml');
    writeFileSync(file, text, { mode: 0o600 });
    return await loadGuard({ policyFiles: [file] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/* ---- argvs ---- */

/**
 * Every argv the guard judges in a command (nested shell strings, wrappers' commands, stdin
 * scripts and xargs runs included), as a command rule sees it: the analysis itself is run with a
 * rule hook that records each argv and judges nothing. Argvs the guard only scans inside an
 * unknown program's arguments (`mytool rm -rf x`) are not commands and are left out.
 */
function argvsOf(parser: Parser, op: Extract<ObservedOperation, { kind: 'command' }>): Argv[] {
  const out: Argv[] = [];
  const bySc = new Map<SimpleCommand, { prog: string; args: string[] }[]>();
  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(op.env ?? {})) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) env.set(k, v);
  const allow = (v: View) => finding('allow', 'observe', '', v.text);
  const o: AnalyzeOptions = {
    parser,
    writeAllowed: [],
    ruleEnv: { writeAllowed: [] },
    maxReparseDepth: MAX_REPARSE_DEPTH,
    maxTreeDepth: MAX_TREE_DEPTH,
    maxNodes: MAX_NODES,
    sudoApproval: false,
    unknown: allow,
    judge: () => undefined,
    userRule: (v) => {
      const args = v.args.map((a) => a.text);
      const same = bySc.get(v.sc) ?? [];
      const words = [v.path, ...args];
      // Scanned inside an earlier argv of the same simple command that is not a wrapper: embedded.
      const embedded = same.some(
        (p) =>
          !wrapperInfo(p.prog) &&
          !SHELLS.has(p.prog) &&
          p.args.length >= words.length &&
          words.every((w, i) => p.args[p.args.length - words.length + i] === w),
      );
      same.push({ prog: v.prog, args });
      bySc.set(v.sc, same);
      if (embedded) return undefined;
      out.push({
        key: `${v.prog}\0${args.join('\0')}`,
        prog: v.prog,
        path: v.path,
        args,
        text: v.text,
        dynamic: v.args.some((a) => a.dynamic),
        scrubbed: words.some((w) => w.includes(SCRUBBED)),
        writes: writesOf(v),
        hosts: args.flatMap((a) => {
          const h = urlHost(a);
          return h ? [h] : [];
        }),
      });
      return undefined;
    },
    ...(env.size ? { env } : {}),
    ...(op.session ? { session: true, terminal: true } : {}),
  };
  // As the engine takes it: stdin larger than a command may be is unknown text (not parsed).
  const stdin = !op.stdin
    ? undefined
    : Buffer.byteLength(op.stdin, 'utf8') > MAX_COMMAND_BYTES
      ? { text: '', dynamic: true }
      : { text: op.stdin, dynamic: false };
  try {
    analyze(op.command, 0, o, stdin);
  } catch {
    // What the guard cannot analyse has no argvs to learn from; its verdict (approve) is replayed.
  }
  return out;
}

function writesOf(v: View): string[] {
  const out: string[] = [];
  const add = (w: Word) => {
    if (w.dynamic && !w.glob) return;
    const t = w.glob ? w.prefix || '/' : w.text;
    if (!NULL_SINK.test(t)) out.push(t);
  };
  for (const r of v.sc.redirects) {
    if (!r.target || !r.op.includes('>')) continue;
    if (/^[<>]?&$|^>&$|^<&$/.test(r.op) && /^(\d+|-)$/.test(r.target.text)) continue;
    if (r.target.raw.startsWith('>(') || r.target.raw.startsWith('<(')) continue;
    add(r.target);
  }
  for (const w of writeArguments(v)) add(w);
  return out;
}

function urlHost(word: string): string | undefined {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(\[[0-9a-f:.]+\]|[^/?#:]+)/i.exec(word);
  return m ? m[1]!.toLowerCase() : undefined;
}

/* ---- write roots, HTTP and path rules ---- */

function writeRootsOf(seen: readonly Seen[], argvsFor: (s: Seen) => Argv[]): string[] {
  const targets: string[] = [];
  for (const s of seen) {
    if (s.target === 'refused') continue;
    const op = s.a.operation;
    if (op.kind === 'path' && op.op === 'write') targets.push(op.path);
    if (op.kind === 'command') for (const v of argvsFor(s)) targets.push(...v.writes);
  }
  return DEFAULT_WRITE_ROOTS.filter((root) => {
    const re = compileGlobs([root]);
    return targets.some((t) => {
      const n = normalizePath(t);
      return re.test(n) || (root === './**' && !n.startsWith('/') && !n.startsWith('~'));
    });
  });
}

interface GlobRule {
  id: string;
  methods?: string[];
  op?: 'read' | 'write';
  graphql?: 'mutation';
  paths: string[];
  decision: Verdict;
  message: string;
  comments: string[];
}
interface GlobRules {
  rules: GlobRule[];
  /** For each glob, where it was seen (`github 3×`). */
  where: Map<string, string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A path segment that names one record rather than a place: a number, a UUID, a hash, a long token. */
function isIdSegment(s: string): boolean {
  return (
    /^[0-9]+$/.test(s) ||
    UUID.test(s) ||
    /^(?=.*[0-9])(?=.*[a-f])[0-9a-f]{7,64}$/i.test(s) ||
    /^(?=.*[0-9])(?=.*[A-Za-z])[A-Za-z0-9_-]{20,}$/.test(s)
  );
}
/** Glob characters in an observed name stand for themselves only as `?` (one character): a little wider, never a pattern of the agent's making. */
const globSafe = (s: string) => s.replace(/[*?[\]{}]/g, '?');

/** An observed HTTP path as the rules match it (decoded, dot segments resolved, lower case), ids as `*`. */
function httpGlob(path: string): string {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  for (let i = 0; i < 4; i++) {
    try {
      const next = decodeURIComponent(p.replace(/\+/g, '%20'));
      if (next === p) break;
      p = next;
    } catch {
      break;
    }
  }
  const segs = normalizeHttpPath(p)
    .toLowerCase()
    .split('/')
    .map((s) => (isIdSegment(s) ? '*' : globSafe(s)));
  return segs.join('/') || '/';
}

function httpRulesOf(seen: readonly Seen[]): GlobRules {
  const byGlob = new Map<
    string,
    { methods: Set<string>; decision: Target; graphql: boolean; where: Map<string, number> }
  >();
  const mutations = new Map<string, Target>();
  for (const s of seen) {
    const op = s.a.operation;
    if (op.kind !== 'http' || s.target === 'refused') continue;
    const glob = httpGlob(op.path);
    const method = op.method.toUpperCase();
    const k = `${s.target}\0${glob}`;
    const e = byGlob.get(k) ?? {
      methods: new Set<string>(),
      decision: s.target,
      graphql: /graphql|\/gql([/;]|$)/.test(glob),
      where: new Map<string, number>(),
    };
    e.methods.add(method);
    const t = s.a.target ?? '(no target)';
    e.where.set(t, (e.where.get(t) ?? 0) + 1);
    byGlob.set(k, e);
    if (s.a.rule === 'http.graphql-mutation')
      mutations.set(glob, mutations.get(glob) === 'allow' || s.target === 'allow' ? 'allow' : 'approve');
  }
  const rules: GlobRule[] = [];
  const where = new Map<string, string>();
  // One rule per decision and set of methods; approve before allow (first match wins).
  const grouped = new Map<string, { decision: Target; methods: string[]; paths: string[]; graphql: string[] }>();
  for (const [k, e] of byGlob) {
    const glob = k.slice(k.indexOf('\0') + 1);
    const methods = [...e.methods].sort();
    const gk = `${e.decision === 'approve' ? 0 : 1}\0${methods.join(',')}`;
    const g = grouped.get(gk) ?? { decision: e.decision, methods, paths: [], graphql: [] };
    g.paths.push(glob);
    if (e.graphql && methods.some((m) => m !== 'GET' && m !== 'HEAD')) g.graphql.push(glob);
    grouped.set(gk, g);
    where.set(`${e.decision}\0${glob}`, whereText(e.where));
  }
  // GraphQL: a rule for the path would also let mutations through; those observed keep their
  // verdict, the others are refused, ahead of the rule that lets queries through.
  const gql = [...new Set([...grouped.values()].flatMap((g) => g.graphql))].sort();
  for (const glob of gql) {
    const m = mutations.get(glob);
    rules.push({
      id: `graphql-mutations-${rules.length + 1}`,
      methods: ['POST', 'PUT', 'PATCH', 'DELETE'],
      graphql: 'mutation',
      paths: [glob],
      decision: m === 'allow' ? 'allow' : m === 'approve' ? 'approve' : 'deny',
      message:
        m === undefined
          ? 'no GraphQL mutation was observed here while profiling'
          : 'GraphQL mutations here were observed while profiling',
      comments:
        m === 'allow' ? ['REVIEW: mutations ran unattended while profiling; approve keeps a person in the loop'] : [],
    });
  }
  const sorted = [...grouped.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  for (const [, g] of sorted) {
    const paths = g.paths.sort();
    const risky = g.decision === 'allow' && g.methods.some((m) => m === 'DELETE');
    rules.push({
      id: `${g.methods.map((m) => m.toLowerCase()).join('-')}${g.decision === 'approve' ? '-approve' : ''}`,
      methods: g.methods,
      paths,
      decision: g.decision,
      message:
        g.decision === 'allow'
          ? 'observed while profiling'
          : 'a person approved requests like this while profiling; they still need one',
      comments: risky ? ['REVIEW: DELETE ran unattended while profiling; the path glob covers every id'] : [],
    });
  }
  return { rules: dedupeIds(rules), where };
}

/** File-tool paths: ids as `*`, and files of one directory with one extension as `dir/*.ext` once two were seen. */
function pathRulesOf(seen: readonly Seen[]): GlobRules {
  const byKey = new Map<string, { op: 'read' | 'write'; decision: Target; paths: Map<string, Map<string, number>> }>();
  for (const s of seen) {
    const op = s.a.operation;
    if (op.kind !== 'path' || s.target === 'refused') continue;
    const n = normalizePath(op.path);
    const glob = n
      .split('/')
      .map((seg, i) => (i > 0 && isIdSegment(seg) ? '*' : globSafe(seg)))
      .join('/');
    const k = `${op.op}\0${s.target}`;
    const e = byKey.get(k) ?? { op: op.op, decision: s.target, paths: new Map() };
    const where = e.paths.get(glob) ?? new Map<string, number>();
    const t = s.a.target ?? '(no target)';
    where.set(t, (where.get(t) ?? 0) + 1);
    e.paths.set(glob, where);
    byKey.set(k, e);
  }
  const rules: GlobRule[] = [];
  const where = new Map<string, string>();
  for (const [, e] of [...byKey].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    // Two or more files with one extension in one directory: that directory's files of that kind.
    const byDir = new Map<string, string[]>();
    for (const p of e.paths.keys()) {
      const slash = p.lastIndexOf('/');
      const base = p.slice(slash + 1);
      const dot = base.lastIndexOf('.');
      if (slash < 0 || dot <= 0 || base.includes('*')) continue;
      const dk = `${p.slice(0, slash)}/*${base.slice(dot)}`;
      byDir.set(dk, [...(byDir.get(dk) ?? []), p]);
    }
    const paths = new Map(e.paths);
    for (const [glob, files] of byDir)
      if (files.length >= 2) {
        const sum = new Map<string, number>();
        for (const f of files) {
          for (const [t, n] of paths.get(f) ?? []) sum.set(t, (sum.get(t) ?? 0) + n);
          paths.delete(f);
        }
        paths.set(glob, sum);
      }
    for (const [p, w] of paths) where.set(`${e.op}\0${p}`, whereText(w));
    rules.push({
      id: `${e.op}${e.decision === 'approve' ? '-approve' : ''}`,
      op: e.op,
      paths: [...paths.keys()].sort(),
      decision: e.decision,
      message:
        e.decision === 'allow'
          ? `${e.op} observed while profiling`
          : `a person approved this ${e.op} while profiling; it still needs one`,
      comments: [],
    });
  }
  // Approve first (first match wins), then allow.
  rules.sort((a, b) => rank(b.decision) - rank(a.decision) || (a.id < b.id ? -1 : 1));
  return { rules: dedupeIds(rules), where };
}

/** `box 3×, web 1×`: where a path was seen. */
function whereText(w: ReadonlyMap<string, number>): string {
  return [...w]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([t, n]) => `${t} ${n}×`)
    .join(', ');
}

function dedupeIds<T extends { id: string }>(rules: T[]): T[] {
  const used = new Map<string, number>();
  for (const r of rules) {
    const n = (used.get(r.id) ?? 0) + 1;
    used.set(r.id, n);
    if (n > 1) r.id = `${r.id}-${n}`;
  }
  return rules;
}

/* ---- command rules: grouping ---- */

interface Needed {
  argv: Argv;
  /** The verdicts that named it without a rule: why it needs one. */
  why: Map<string, string>;
}

interface Plan {
  o: LockPolicyOptions;
  needed: Map<string, Needed>;
  writeRoots: string[];
  sudoApproval: boolean;
  parseError: 'approve' | 'deny';
  http: GlobRules;
  paths: GlobRules;
  decisionOf(key: string): Target;
  /** Per program, the argument texts of argvs seen only in refused actions. */
  refusedArgs?: Map<string, Set<string>>;
}

/** Why a rule for this argv cannot be trusted to stay what was observed (kept at approve), or undefined. */
function mustReview(v: Argv): string | undefined {
  if (SHELLS.has(v.prog) || INTERPRETERS.test(v.prog) || v.prog === 'eval' || v.prog === 'source' || v.prog === '.')
    return `${v.prog} runs code a rule cannot pin (a shell or an interpreter)`;
  const w = wrapperInfo(v.prog);
  if (w?.where === 'elsewhere') return `${v.prog} can run commands on another host or in a container`;
  if (w?.where === 'privileged') return `${v.prog} runs a command as another user`;
  if (v.dynamic) return 'an argument is only known at run time';
  if (v.scrubbed) return 'the audit record holds a scrubbed value here, not what ran';
  return undefined;
}

const PACKAGE_RUNNERS: ReadonlySet<string> = new Set(['npx', 'pnpx', 'bunx', 'uvx', 'pipx']);

/** A note for a rule kept at the observed verdict that a person should still look at. */
function noteFor(v: Argv, why: ReadonlyMap<string, string>, decision: Target): string[] {
  const out: string[] = [];
  if (why.has('exec.script-file'))
    out.push(
      `REVIEW: ${v.prog} runs code from a file the guard does not read; the file's content is not locked (commands.script_paths_allowed names such files)`,
    );
  if (PACKAGE_RUNNERS.has(v.prog))
    out.push(`REVIEW: ${v.prog} fetches and runs a package's code by name; the rule pins the name, not the code`);
  if (v.path.includes('/'))
    out.push(`REVIEW: run as ${v.path}; a rule matches any program named ${v.prog}, wherever it is`);
  if (decision === 'allow')
    for (const r of why.keys())
      if (!r.startsWith('policy:') && !r.startsWith('user:') && r !== 'exec.script-file')
        out.push(`REVIEW: ran unattended while profiling although the built-in rule ${r} asks a person`);
  return out;
}

type Bucket = 'review' | 'approve' | 'allow';
/** A pattern: per position the alternatives (regex sources), and the observed argument lists it stands for. */
interface Pattern {
  pos: string[][];
  members: string[][];
}

/**
 * Characters that must not reach a file a person reads as they are: C0 and C1 controls, bidi
 * overrides and isolates, zero-width characters, line and paragraph separators, BOM (the set
 * src/cli/terminal.ts keeps from terminals). In scalars and regexes they are written as `\uXXXX`.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const u4 = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(UNSAFE, u4);

const ID_CLASSES: { test: RegExp; source: string }[] = [
  { test: /^[0-9]+$/, source: '[0-9]+' },
  { test: UUID, source: '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' },
  { test: /^(?=.*[0-9])(?=.*[a-f])[0-9a-f]{7,64}$/, source: '[0-9a-f]{7,64}' },
];
const DELIMS = /([/=:?&,@.])/;
const idClass = (seg: string) => ID_CLASSES.findIndex((c) => c.test.test(seg));
/** A word with its id parts replaced by their class: words of one shape differ only in ids. */
const shapeOf = (w: string) =>
  w
    .split(DELIMS)
    .map((seg, i) => (i % 2 === 0 && idClass(seg) >= 0 ? `\0${idClass(seg)}` : seg))
    .join('');

/** The regex source for one position's values, all of one shape: varying id parts become their class. */
function positionSource(values: readonly string[]): string {
  if (values.length === 1) return escapeRe(values[0]!);
  const split = values.map((v) => v.split(DELIMS));
  return split[0]!
    .map((seg, i) => {
      if (i % 2 === 1) return escapeRe(seg);
      const all = new Set(split.map((s) => s[i]!));
      return all.size === 1 ? escapeRe(seg) : ID_CLASSES[idClass(seg)]!.source;
    })
    .join('');
}

const render1 = (p: Pattern) =>
  `^${p.pos.map((alts) => (alts.length === 1 ? alts[0] : `(?:${alts.join('|')})`)).join(' ')}$`;
const exactPattern = (args: string[]): Pattern => ({ pos: args.map((a) => [escapeRe(a)]), members: [args] });

/**
 * Observed argument lists as few patterns as possible, no wider than what was seen: positions
 * whose values differ only in ids (seen varying) become the id's class; lists that differ in one
 * position only become one pattern with the alternatives there (a union, never a cross product
 * of unseen combinations).
 */
function generalize(lists: readonly string[][], forbidden: ReadonlySet<string>): Pattern[] {
  const byShape = new Map<string, string[][]>();
  for (const l of lists) {
    const k = `${l.length}\0${l.map(shapeOf).join('\0')}`;
    byShape.set(k, [...(byShape.get(k) ?? []), l]);
  }
  let patterns: Pattern[] = [...byShape.values()].map((members) => ({
    pos: members[0]!.map((_, i) => [positionSource([...new Set(members.map((m) => m[i]!))])]),
    members,
  }));
  const maxLen = Math.max(0, ...lists.map((l) => l.length));
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < maxLen; i++) {
      const byRest = new Map<string, Pattern[]>();
      for (const p of patterns) {
        const k =
          p.pos.length <= i ? `!${JSON.stringify(p.pos)}` : JSON.stringify(p.pos.map((a, j) => (j === i ? null : a)));
        byRest.set(k, [...(byRest.get(k) ?? []), p]);
      }
      const next: Pattern[] = [];
      for (const group of byRest.values()) {
        if (group.length === 1) {
          next.push(group[0]!);
          continue;
        }
        changed = true;
        const pos = group[0]!.pos.map((a, j) => (j === i ? [...new Set(group.flatMap((g) => g.pos[i]!))].sort() : a));
        next.push({ pos, members: group.flatMap((g) => g.members) });
      }
      patterns = next;
    }
  }
  // A pattern that reaches an argv seen only refused (or one a stricter rule must keep) falls back to its members, exactly.
  const out: Pattern[] = [];
  for (const p of patterns) {
    const re = new RegExp(render1(p));
    if ([...forbidden].some((f) => re.test(f))) out.push(...p.members.map(exactPattern));
    else out.push(p);
  }
  return out.sort((a, b) => (render1(a) < render1(b) ? -1 : 1));
}

interface CommandRuleOut {
  id: string;
  prog: string;
  args: string[];
  decision: Target;
  message: string;
  comments: string[];
}

function commandRules(plan: Plan, exact: boolean): CommandRuleOut[] {
  const byProg = new Map<string, Map<Bucket, { lists: string[][]; notes: Set<string>; why: Map<string, string> }>>();
  for (const [key, n] of plan.needed) {
    const v = n.argv;
    const review = mustReview(v);
    const decision = plan.decisionOf(key);
    const bucket: Bucket = review ? 'review' : decision;
    const m = byProg.get(v.prog) ?? new Map();
    const b = m.get(bucket) ?? { lists: [], notes: new Set<string>(), why: new Map() };
    b.lists.push(v.args);
    if (review)
      b.notes.add(`REVIEW: ${review}; kept at approve (observed ${decision === 'allow' ? 'allowed' : 'approved'})`);
    else for (const x of noteFor(v, n.why, decision)) b.notes.add(x);
    for (const [r, why] of n.why) b.why.set(r, why);
    m.set(bucket, b);
    byProg.set(v.prog, m);
  }
  const out: CommandRuleOut[] = [];
  for (const prog of [...byProg.keys()].sort()) {
    const m = byProg.get(prog)!;
    for (const bucket of ['review', 'approve', 'allow'] as const) {
      const b = m.get(bucket);
      if (!b) continue;
      // A generalised approve pattern must not take an allowed argv (approve comes first), and no
      // pattern may reach an argv that was only ever refused.
      const forbidden = new Set(plan.refusedArgs?.get(prog) ?? []);
      if (bucket === 'approve') for (const l of m.get('allow')?.lists ?? []) forbidden.add(l.join(' '));
      for (const l of b.lists) forbidden.delete(l.join(' '));
      const patterns =
        exact || bucket === 'review'
          ? b.lists.map(exactPattern).sort((x, y) => (render1(x) < render1(y) ? -1 : 1))
          : generalize(b.lists, forbidden);
      // One rule per subcommand (a first word that is one) for readability; the rest together.
      const bySub = new Map<string, Pattern[]>();
      for (const p of patterns) {
        const first = p.pos[0];
        const sub = first?.length === 1 && /^[a-z][a-z0-9-]*$/.test(first[0]!) ? first[0]! : '';
        bySub.set(sub, [...(bySub.get(sub) ?? []), p]);
      }
      for (const sub of [...bySub.keys()].sort()) {
        const ps = bySub.get(sub)!;
        const decision: Target = bucket === 'allow' ? 'allow' : 'approve';
        const comments = [
          ...[...b.why].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([r, why]) => `needed because ${r}: ${why}`),
          ...[...b.notes].sort(),
        ];
        out.push({
          id: `${slug(prog)}${sub ? `-${sub}` : ''}${bucket === 'allow' ? '' : `-${bucket}`}`,
          prog,
          args: ps.map(render1),
          decision,
          message:
            bucket === 'review'
              ? 'kept at approve by the lock policy: a person reviews this'
              : decision === 'allow'
                ? 'observed while profiling'
                : 'a person approved this while profiling; it still needs one',
          comments,
        });
      }
    }
  }
  return dedupeIds(out);
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+|-+$/g, '') || 'cmd';

/* ---- rendering ---- */

/** A YAML double-quoted scalar (JSON's escapes are YAML's; line and paragraph separators escaped too). */
const q = (s: string) => JSON.stringify(s).replace(UNSAFE, u4);

/**
 * Text from agents' input made one harmless comment line: line breaks and other control or
 * separator characters shown escaped (a comment ends at a line break, and what follows one would be
 * read as policy), cut to a length.
 */
function commentText(s: string, max = 160): string {
  return truncateText(
    s.replace(UNSAFE, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : u4(c))),
    max,
  );
}

interface Rendered {
  text: string;
  body(refused: readonly RefusedEntry[]): string;
  commandRules: number;
  review: number;
}

function render(plan: Plan, opts: { exact: boolean }): Rendered {
  const o = plan.o;
  const cmds = commandRules(plan, opts.exact);
  const lines = (refused: readonly RefusedEntry[]): string[] => {
    const L: string[] = [];
    L.push('version: 1', `name: ${q(o.name)}`);
    L.push(
      `description: ${q(`Lock generated from what was observed (${o.source}); what was not observed is refused.`)}`,
    );
    if (o.tokens.length) L.push('applies_to:', `  tokens: [${o.tokens.map(q).join(', ')}]`);
    else
      L.push(
        '# applies_to: none. Bind it to a token here (applies_to: { tokens: [NAME] }) or with',
        '# `gatehouse token create --policy NAME`.',
      );
    L.push('defaults:');
    L.push(
      o.unknown === 'deny'
        ? '  # Not observed and not vouched for by the built-in table: refused. approve would send every new'
        : '  # Not observed and not vouched for by the built-in table: a person decides (generated with --unknown approve).',
    );
    if (o.unknown === 'deny')
      L.push(
        '  # command to a person, and a stream of prompts is approved by habit; profile again instead.',
        '  # Built-in denies stay denied and built-in approvals (rm, sudo, git push …) still ask a person.',
      );
    L.push(`  unknown_command: ${o.unknown}`);
    L.push(
      `  parse_error: ${plan.parseError}${plan.parseError === 'approve' ? '   # a command the guard could not parse was approved while profiling' : ''}`,
    );
    L.push(`  http_unknown_write: ${o.unknown}   # writes with no rule below (the last HTTP rule takes the rest too)`);
    L.push(
      `  sudo_requires_approval: ${plan.sudoApproval}${plan.sudoApproval ? '' : '   # sudo of a read-only command ran unattended while profiling'}`,
    );
    L.push('commands:', '  rules:');
    for (const r of cmds) {
      for (const c of r.comments) L.push(`    # ${commentText(c, 200)}`);
      L.push(
        `    - id: ${q(r.id)}`,
        `      commands: [${q(r.prog)}]`,
        '      args:',
        ...r.args.map((a) => `        - ${q(a)}`),
        `      decision: ${r.decision}`,
        `      message: ${q(r.message)}`,
      );
    }
    const cmdRefused = refused.filter((r) => r.kind === 'command');
    if (cmdRefused.length) L.push(...refusedBlock(cmdRefused));
    L.push(
      '    # Last: an HTTP client reaches any host, and the HTTP rules below name paths only: those not',
      '    # observed above (by their exact URL) are refused, whatever path they ask for.',
      '    - id: http-clients-not-observed',
      `      commands: [${HTTP_CLIENTS.map(q).join(', ')}]`,
      `      decision: ${o.unknown}`,
      `      message: ${q(`not observed while profiling: the ${o.name} lock refuses it`)}`,
    );
    L.push('paths:');
    L.push(
      `  write_allowed: [${plan.writeRoots.map(q).join(', ')}]   # the default roots that observed writes used; writes elsewhere need a person`,
    );
    L.push('  rules:');
    for (const r of plan.paths.rules) {
      for (const c of r.comments) L.push(`    # ${commentText(c, 200)}`);
      L.push(`    - id: ${q(r.id)}`, `      op: ${r.op}`, '      paths:');
      for (const p of r.paths) {
        const w = plan.paths.where.get(`${r.op}\0${p}`);
        L.push(`        - ${q(p)}${w ? `   # ${commentText(w, 120)}` : ''}`);
      }
      L.push(`      decision: ${r.decision}`, `      message: ${q(r.message)}`);
    }
    const pathRefused = refused.filter((r) => r.kind === 'path');
    if (pathRefused.length) L.push(...refusedBlock(pathRefused));
    L.push(
      '    # Last: file-tool paths not observed are refused.',
      '    - id: paths-not-observed',
      '      op: any',
      "      paths: ['**']",
      `      decision: ${o.unknown}`,
      `      message: ${q(`not observed while profiling: the ${o.name} lock refuses it`)}`,
    );
    L.push('http:', '  rules:');
    for (const r of plan.http.rules) {
      for (const c of r.comments) L.push(`    # ${commentText(c, 200)}`);
      L.push(`    - id: ${q(r.id)}`, `      methods: [${(r.methods ?? []).join(', ')}]`);
      if (r.graphql) L.push(`      graphql: ${r.graphql}`);
      L.push('      paths:');
      for (const p of r.paths) {
        const w = plan.http.where.get(`${r.decision}\0${p}`);
        L.push(`        - ${q(p)}${w && !r.graphql ? `   # ${commentText(w, 120)}` : ''}`);
      }
      L.push(`      decision: ${r.decision}`, `      message: ${q(r.message)}`);
    }
    const httpRefused = refused.filter((r) => r.kind === 'http');
    if (httpRefused.length) L.push(...refusedBlock(httpRefused));
    L.push(
      '    # Last: requests not observed (HTTP tools, the model gateway, curl and wget in commands) are refused.',
      '    - id: http-not-observed',
      "      paths: ['/**']",
      `      decision: ${o.unknown}`,
      `      message: ${q(`not observed while profiling: the ${o.name} lock refuses it`)}`,
    );
    return L;
  };
  return {
    text: lines([]).join('\n') + '\n',
    body: (refused) => lines(refused).join('\n') + '\n',
    commandRules: cmds.length,
    review:
      cmds.filter((r) => r.comments.some((c) => c.startsWith('REVIEW:'))).length +
      plan.http.rules.filter((r) => r.comments.some((c) => c.startsWith('REVIEW:'))).length,
  };
}

/* ---- refused actions ---- */

interface RefusedEntry {
  kind: 'command' | 'http' | 'path';
  first: number;
  count: number;
  summary: string;
  why: string;
  /** The rule that would allow it (commented out), or why none can. */
  rule: string[] | string;
}

function refusedEntries(
  seen: readonly Seen[],
  engine: GuardEngine,
  name: string,
  argvsFor: (s: Seen) => Argv[],
): RefusedEntry[] {
  const byKey = new Map<string, RefusedEntry>();
  for (const s of seen) {
    if (s.target !== 'refused') continue;
    const a = s.a;
    const op = a.operation;
    const key = JSON.stringify(op);
    const hit = byKey.get(key);
    if (hit) {
      hit.count++;
      continue;
    }
    const why =
      a.decision === 'approve'
        ? `needed a person and was not approved (${a.outcome ?? '?'}; ${a.rule ?? '?'})`
        : a.decision === 'redirect'
          ? `redirected by ${a.rule ?? '?'}`
          : `refused by ${a.rule ?? '?'}`;
    const d = judgeObserved(engine, name, a);
    const builtinDeny = d.decision === 'deny' && !d.rule.startsWith('policy:') && !d.rule.startsWith('user:');
    let rule: string[] | string;
    if (builtinDeny) rule = `the built-in rule ${d.rule} refuses it (${d.reason}); no policy rule can allow it`;
    else if (op.kind === 'command') {
      const v = argvsFor(s).find((x) => x.text === d.matched || clip(x.text) === d.matched);
      rule = v
        ? [
            `- id: ${q(`refused-${slug(v.prog)}`)}`,
            `  commands: [${q(v.prog)}]`,
            `  args: [${q(`^${v.args.map(escapeRe).join(' ')}$`)}]`,
            '  decision: allow',
          ]
        : `the lock gives it ${d.decision} (${d.rule}); no single command rule names it`;
    } else if (op.kind === 'http')
      rule = [
        `- { id: refused-http, methods: [${op.method.toUpperCase()}], paths: [${q(httpGlob(op.path))}], decision: allow }`,
      ];
    else rule = [`- { id: refused-${op.op}, op: ${op.op}, paths: [${q(normalizePath(op.path))}], decision: allow }`];
    byKey.set(key, { kind: op.kind, first: a.seq, count: 1, summary: a.summary, why, rule });
  }
  return [...byKey.values()].sort((x, y) => x.first - y.first);
}

function refusedBlock(list: readonly RefusedEntry[]): string[] {
  const L = ['    # Refused while profiling; not allowed here. Uncomment a rule only after review:'];
  for (const r of list) {
    L.push(`    # ${r.count}× ${commentText(r.why, 200)}: ${commentText(r.summary, 200)}`);
    if (typeof r.rule === 'string') L.push(`    #   (${commentText(r.rule, 240)})`);
    else for (const x of r.rule) L.push(`    # ${x}`);
  }
  return L;
}

/* ---- header ---- */

/** The part of a host name one organisation holds (`api.github.com` -> `github.com`), roughly. */
function domainOf(host: string): string {
  if (/^[0-9.]+$/.test(host) || host.startsWith('[')) return host;
  const l = host.split('.');
  if (l.length <= 2) return host;
  const two = l.slice(-2);
  // co.uk, com.au and the like: one more label.
  return (two[1]!.length === 2 && two[0]!.length <= 3 ? l.slice(-3) : two).join('.');
}

function hostsOf(
  seen: readonly Seen[],
  argvsFor: (s: Seen) => Argv[],
): { targets: Map<string, number>; hosts: string[] } {
  const targets = new Map<string, number>();
  const hosts = new Set<string>();
  for (const s of seen) {
    if (s.target === 'refused') continue;
    const op = s.a.operation;
    if (op.kind === 'http' && s.a.target) targets.set(s.a.target, (targets.get(s.a.target) ?? 0) + 1);
    if (op.kind === 'command') for (const v of argvsFor(s)) for (const h of v.hosts) hosts.add(h);
  }
  return { targets, hosts: [...hosts].sort() };
}

function header(
  plan: Plan,
  seen: readonly Seen[],
  replay: ReplayResult,
  looser: readonly ReplayChange[],
  net: { targets: Map<string, number>; hosts: string[] },
): string {
  const o = plan.o;
  const count = (k: ObservedOperation['kind']) => seen.filter((s) => s.a.operation.kind === k).length;
  const ran = seen.filter((s) => s.target !== 'refused').length;
  const ts = seen.map((s) => s.a.ts).sort();
  const L = [
    `# Gatehouse guard policy "${commentText(o.name, 64)}": a lock generated from the audit log (profile, then lock).`,
    `#   source: ${commentText(o.source, 200)}`,
    ts.length ? `#   records from ${ts[0]} to ${ts[ts.length - 1]}` : '#   no records',
    `#   ${seen.length} guarded actions (${count('command')} commands, ${count('http')} HTTP requests, ${count('path')} file-tool paths): ${ran} ran, ${seen.length - ran} refused or not approved`,
    `#   regenerate: gatehouse policy generate --from-audit ${commentText(o.filters, 200)}`,
    '#',
    '# What it allows: the commands, HTTP requests and file paths observed, as rules no wider than what',
    '# was seen (ids, numbers, UUIDs and hashes that varied become a class; HTTP and file path ids a *).',
    '# What it refuses: anything else the built-in table does not know to be read-only; HTTP requests',
    '# and file-tool paths not observed. Built-in denies stay final; built-in approvals still ask.',
    "# Rules marked REVIEW need a person's look: shells, interpreters, eval and remote or privileged",
    '# commands are kept at approve, whatever they got while profiling.',
    '#',
    '# Apply it:',
    `#   1. check it against what was recorded: gatehouse policy test FILE --from-audit ${commentText(o.filters, 200)}`,
    '#   2. save it beside the configuration file, e.g. policies/' + slug(o.name) + '.yaml, and list it there:',
    '#        guard:',
    `#          policy_files: [policies/${slug(o.name)}.yaml]`,
    o.tokens.length
      ? `#   3. restart \`gatehouse serve\` (and clients' \`gatehouse mcp\`): it then applies to token ${o.tokens.map((t) => commentText(t, 64)).join(', ')}`
      : '#   3. bind it (applies_to.tokens below, or `gatehouse token create --policy NAME`) and restart `gatehouse serve`',
    '#      in place of the default policy (every policy bound to a token applies; the strictest verdict wins;',
    '#      a token created with --policy NAME uses only the policy it names).',
  ];
  if (net.targets.size || net.hosts.length) {
    L.push('#', "# Network seen. A guard policy does not name hosts: the token's target: grants decide which HTTP");
    L.push("# targets it reaches, and the sandbox's network allowlist which hosts commands reach.");
    if (net.targets.size)
      L.push(
        `#   HTTP targets: ${commentText(
          [...net.targets]
            .sort((a, b) => (a[0] < b[0] ? -1 : 1))
            .map(([t, n]) => `${t} (${n}×)`)
            .join(', '),
          400,
        )}`,
      );
    if (net.hosts.length) {
      const byDomain = new Map<string, string[]>();
      for (const h of net.hosts) byDomain.set(domainOf(h), [...(byDomain.get(domainOf(h)) ?? []), h]);
      L.push('#   hosts in commands, by domain:');
      for (const d of [...byDomain.keys()].sort())
        L.push(`#     ${commentText(d, 100)}: ${commentText(byDomain.get(d)!.join(', '), 300)}`);
      L.push(
        `#   lock the sandbox to them: gatehouse sandbox deny net --except ${commentText(net.hosts.join(' '), 400)}`,
      );
    }
  }
  const stricter = replay.changes.filter((c) => c.direction === 'stricter');
  if (stricter.length) {
    L.push('#', `# Observed actions this policy treats more strictly than they were (${stricter.length}):`);
    for (const c of stricter.slice(0, 50))
      L.push(
        `#   #${c.seq} ${c.from.decision} -> ${c.to.decision} (${commentText(c.to.rule, 80)}): ${commentText(c.summary, 120)}`,
      );
    if (stricter.length > 50) L.push(`#   … and ${stricter.length - 50} more (gatehouse policy test lists them all)`);
  }
  if (looser.length) {
    L.push(
      '#',
      `# WARNING: refused while profiling, not refused by this policy (${looser.length}); add a rule to keep refusing:`,
    );
    for (const c of looser.slice(0, 50))
      L.push(
        `#   #${c.seq} ${c.from.decision} -> ${c.to.decision} (${commentText(c.to.rule, 80)}): ${commentText(c.summary, 120)}`,
      );
  }
  L.push('');
  return L.join('\n') + '\n';
}
