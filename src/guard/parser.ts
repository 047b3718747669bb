import { createRequire } from 'node:module';
import { Language, Parser, type Tree, type TreeCursor } from 'web-tree-sitter';

/**
 * Loads tree-sitter-bash once (WASM from node_modules, never the network) and hands out one
 * reusable synchronous parser. WASM memory is not garbage-collected, so every caller must
 * `tree.delete()` (see `withTree`).
 *
 * Speed: every property read on a web-tree-sitter `Node` is a JS->WASM call with argument
 * marshalling, and the walk reads `type`/`text`/`children` many times per node. `withTree`
 * therefore copies the tree once, with one cursor pass, into plain JS `Node` objects (type,
 * named/missing/error flags, offsets, children, and field names where the walk asks for them);
 * everything after that is pure JS. The copy itself goes through the raw binding when that has
 * been verified (`copyTreeFast`), else through the public `TreeCursor` (`copyTree`).
 */
let parser: Parser | undefined;
let loading: Promise<Parser> | undefined;

/**
 * The few functions of web-tree-sitter's own Emscripten binding that the fast copier calls
 * directly. They pass a tree cursor through the binding's static transfer buffer: the public
 * `TreeCursor` re-writes that buffer from JS before every call and reads it back after every
 * move (four `setValue`/`getValue` calls each), which measured ~4 µs of the ~5 µs it took to copy
 * a typical tree. Calling the same exports without the round trip leaves the cursor in the buffer
 * between calls. This is an internal interface, so it is only used after `verifyFastCopy` has
 * checked that it yields exactly the public API's tree; otherwise the public path is used.
 */
interface RawBinding {
  _ts_tree_root_node_wasm(tree: number): void;
  _ts_node_has_error_wasm(tree: number): number;
  _ts_tree_cursor_new_wasm(tree: number): void;
  _ts_tree_cursor_delete_wasm(tree: number): void;
  _ts_tree_cursor_goto_first_child_wasm(tree: number): number;
  _ts_tree_cursor_goto_next_sibling_wasm(tree: number): number;
  _ts_tree_cursor_goto_parent_wasm(tree: number): number;
  _ts_tree_cursor_current_node_type_id_wasm(tree: number): number;
  _ts_tree_cursor_current_node_is_missing_wasm(tree: number): number;
  _ts_tree_cursor_start_index_wasm(tree: number): number;
  _ts_tree_cursor_end_index_wasm(tree: number): number;
  _ts_tree_cursor_current_field_id_wasm(tree: number): number;
  _ts_tree_cursor_current_node_wasm(tree: number): void;
  /** Returns the transfer buffer's address (and writes two version numbers into it: call only at load). */
  _ts_init(): number;
  /** The WASM memory as 32-bit words; Emscripten replaces the view when memory grows, so read it per use. */
  readonly HEAP32: Int32Array;
}
const RAW_FUNCTIONS: (keyof RawBinding)[] = [
  '_ts_tree_root_node_wasm',
  '_ts_node_has_error_wasm',
  '_ts_tree_cursor_new_wasm',
  '_ts_tree_cursor_delete_wasm',
  '_ts_tree_cursor_goto_first_child_wasm',
  '_ts_tree_cursor_goto_next_sibling_wasm',
  '_ts_tree_cursor_goto_parent_wasm',
  '_ts_tree_cursor_current_node_type_id_wasm',
  '_ts_tree_cursor_current_node_is_missing_wasm',
  '_ts_tree_cursor_start_index_wasm',
  '_ts_tree_cursor_end_index_wasm',
  '_ts_tree_cursor_current_field_id_wasm',
  '_ts_tree_cursor_current_node_wasm',
  '_ts_init',
];

/** Set once the raw binding has passed `verifyFastCopy`; undefined means the public API path. */
let raw: RawBinding | undefined;
/** The raw binding found at load, not yet verified (verification is deferred, see VERIFY_AFTER). */
let candidate: RawBinding | undefined;
/**
 * Trees copied through the public path before the fast copier is verified. Verifying at load cost
 * 45-70 ms on this 2-core box, mostly first-time WASM and copy code, and the first guarded command
 * of every fresh process (one stdio server per agent session) paid it. After this many decisions
 * that code is warm and the check takes about a millisecond; short-lived processes never pay it.
 */
const VERIFY_AFTER = 64;
let publicCopies = 0;
/** The binding's transfer buffer (where the cursor lives between calls), as an index into HEAP32. */
let transferWord = 0;

export async function loadBashParser(): Promise<Parser> {
  if (parser) return parser;
  if (!loading) {
    loading = (async () => {
      const require = createRequire(import.meta.url);
      const runtimeWasm = require.resolve('web-tree-sitter/web-tree-sitter.wasm');
      // Parser.init locates its own runtime wasm; pointing locateFile at the resolved path keeps it offline.
      // Emscripten fills the options object in as the module itself: keep it for the fast copier.
      const moduleObject: Record<string, unknown> = { locateFile: () => runtimeWasm };
      await Parser.init(moduleObject);
      const lang = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
      const p = new Parser();
      p.setLanguage(lang);
      // Only when this call initialised the runtime (another user may have done it first) and
      // every export is there; then only if the copies agree exactly on the probe set.
      if (
        RAW_FUNCTIONS.every((f) => typeof moduleObject[f] === 'function') &&
        moduleObject.HEAP32 instanceof Int32Array
      ) {
        const b = moduleObject as unknown as RawBinding;
        transferWord = b._ts_init() >> 2;
        if (transferWord > 0) candidate = b;
      }
      parser = p;
      return p;
    })();
  }
  return loading;
}

/** Which tree copier is in use; 'pending' until the fast one has been verified. */
export function treeCopyMode(): 'fast' | 'public' | 'pending' {
  return raw ? 'fast' : candidate ? 'pending' : 'public';
}

/**
 * Verifies the fast copier now instead of after VERIFY_AFTER decisions (tests, and anyone who
 * prefers to pay the check up front). Returns the mode in use afterwards.
 */
export function verifyTreeCopyNow(): 'fast' | 'public' {
  settleCandidate();
  return raw ? 'fast' : 'public';
}

/** Runs the deferred check once: the candidate becomes the fast copier or is dropped for good. */
function settleCandidate(): void {
  const b = candidate;
  candidate = undefined;
  if (b && parser && verifyFastCopy(parser, b)) raw = b;
}

/** tree-sitter's builtin ERROR symbol (`ts_builtin_sym_error`); `Node.isError` is exactly this. */
const ERROR_SYMBOL = 65535;

/**
 * Parent types whose children's field names the walk reads (`childForFieldName`,
 * `fieldNameForChild`). Field ids are only fetched for these to save a WASM call per node;
 * asking any other node for a field throws, which the analyzer turns into a fail-closed
 * `parse.error` (never a silent "no such field").
 */
const FIELD_PARENTS = new Set([
  'for_statement',
  'case_statement',
  'case_item',
  'redirected_statement',
  'variable_assignment',
  'function_definition',
]);

/** Types whose `hasError` the walk reads; for these it is taken from tree-sitter itself. */
const HAS_ERROR_TYPES = new Set(['test_command', 'c_style_for_statement', 'arithmetic_expansion', 'program']);

/** Shared child list of leaves (most nodes): saves one allocation per leaf. Never mutated. */
const NO_CHILDREN: Node[] = [];

/** A syntax node copied out of the WASM tree: the subset of web-tree-sitter's `Node` the guard uses. */
export class Node {
  children: Node[] = NO_CHILDREN;
  private named: Node[] | undefined;
  private txt: string | undefined;
  /** Field name per child (same index as `children`); only for FIELD_PARENTS. */
  fields: (string | null)[] | undefined;
  /**
   * True when tree-sitter reports an error in this subtree. Exact for the root and HAS_ERROR_TYPES;
   * for other types in a tree that has errors it is conservatively true (fail closed).
   */
  hasError = false;

  constructor(
    private readonly src: string,
    readonly type: string,
    readonly isNamed: boolean,
    readonly isError: boolean,
    readonly isMissing: boolean,
    readonly startIndex: number,
    readonly endIndex: number,
  ) {}

  get text(): string {
    return (this.txt ??= this.src.slice(this.startIndex, this.endIndex));
  }
  get childCount(): number {
    return this.children.length;
  }
  get namedChildren(): Node[] {
    return (this.named ??= this.children.length ? this.children.filter((c) => c.isNamed) : NO_CHILDREN);
  }
  get namedChildCount(): number {
    return this.namedChildren.length;
  }
  child(i: number): Node | null {
    return this.children[i] ?? null;
  }
  fieldNameForChild(i: number): string | null {
    if (!this.fields) throw new Error(`field names of ${this.type} were not recorded`);
    return this.fields[i] ?? null;
  }
  childForFieldName(name: string): Node | null {
    if (!this.fields) throw new Error(`field names of ${this.type} were not recorded`);
    const i = this.fields.indexOf(name);
    return i >= 0 ? (this.children[i] ?? null) : null;
  }
}

/** `typeId -> isNamed` per language (a grammar property, so it is cached for the process). */
const namedCache = new Map<Language, Map<number, boolean>>();

/** Copies the whole tree with one cursor pass (iterative: deep trees cannot overflow the stack). */
function copyTree(tree: Tree, src: string): Node {
  const lang = tree.language;
  let named = namedCache.get(lang);
  if (!named) namedCache.set(lang, (named = new Map()));
  const types = lang.types;
  const rootNode = tree.rootNode;
  const rootHasError = rootNode.hasError;
  const cur: TreeCursor = rootNode.walk();
  try {
    const make = (parent: Node | undefined): Node => {
      const id = cur.nodeTypeId;
      let isNamed = named.get(id);
      if (isNamed === undefined) {
        isNamed = lang.nodeTypeIsNamed(id);
        named.set(id, isNamed);
      }
      const start = cur.startIndex;
      const end = cur.endIndex;
      // A MISSING node is inserted by error recovery and always has zero width.
      const missing = start === end && cur.nodeIsMissing;
      const type = types[id] || 'ERROR';
      const n = new Node(src, type, isNamed, id === ERROR_SYMBOL, missing, start, end);
      if (rootHasError) n.hasError = HAS_ERROR_TYPES.has(type) ? cur.currentNode.hasError : true;
      if (FIELD_PARENTS.has(type)) n.fields = [];
      if (parent) {
        if (parent.children === NO_CHILDREN) parent.children = [n];
        else parent.children.push(n);
        if (parent.fields) parent.fields.push(cur.currentFieldName ?? null);
      }
      return n;
    };
    const root = make(undefined);
    const stack: Node[] = [root];
    for (;;) {
      // Anonymous nodes are tokens, hence leaves (tree-sitter-bash's node-types.json has no
      // anonymous node with children): skip the WASM call that would only confirm it.
      const top = stack.at(-1);
      if (top?.isNamed && cur.gotoFirstChild()) {
        stack.push(make(top));
        continue;
      }
      for (;;) {
        stack.pop();
        if (!stack.length) return root;
        if (cur.gotoNextSibling()) {
          stack.push(make(stack[stack.length - 1]));
          break;
        }
        if (!cur.gotoParent()) return root;
      }
    }
  } finally {
    cur.delete();
  }
}

/** Grammar tables the fast copier reads per node: fetched from the language once. */
interface Grammar {
  types: string[];
  named: boolean[];
  fields: (string | null)[];
}
const grammars = new Map<Language, Grammar>();

function grammarOf(lang: Language): Grammar {
  let g = grammars.get(lang);
  if (!g) {
    const types = lang.types;
    g = { types, named: types.map((_, id) => lang.nodeTypeIsNamed(id)), fields: lang.fields };
    grammars.set(lang, g);
  }
  return g;
}

/** The WASM address web-tree-sitter keeps in `tree[0]` (what its own methods pass to the binding). */
function treeAddress(tree: Tree): number {
  return (tree as unknown as { readonly 0: number })[0];
}

/**
 * `hasError` of the cursor's node, for the few types whose exact value the walk reads in a tree
 * with errors. Asking needs the node in the transfer buffer, which overwrites the cursor there:
 * the cursor's four words are saved and put back.
 */
function cursorNodeHasError(t: number, b: RawBinding): boolean {
  const i = transferWord;
  const saved = b.HEAP32.slice(i, i + 4);
  b._ts_tree_cursor_current_node_wasm(t);
  const e = b._ts_node_has_error_wasm(t) === 1;
  b.HEAP32.set(saved, i);
  return e;
}

/**
 * Same tree as `copyTree`, through the raw binding (undefined only without a tree address). As in
 * `copyTree`: in a tree with errors `hasError` is exact for HAS_ERROR_TYPES and conservatively
 * true elsewhere; in a tree without errors it is false everywhere.
 */
function copyTreeFast(tree: Tree, src: string, b: RawBinding): Node | undefined {
  const t = treeAddress(tree);
  if (!t) return undefined;
  b._ts_tree_root_node_wasm(t); // the root node now sits in the transfer buffer
  const rootHasError = b._ts_node_has_error_wasm(t) === 1;
  const g = grammarOf(tree.language);
  b._ts_tree_cursor_new_wasm(t); // reads the root from the buffer, leaves the cursor there
  try {
    const make = (parent: Node | undefined): Node => {
      const id = b._ts_tree_cursor_current_node_type_id_wasm(t);
      const start = b._ts_tree_cursor_start_index_wasm(t);
      const end = b._ts_tree_cursor_end_index_wasm(t);
      const isNamed = g.named[id] ?? tree.language.nodeTypeIsNamed(id);
      const missing = start === end && b._ts_tree_cursor_current_node_is_missing_wasm(t) === 1;
      const type = g.types[id] || 'ERROR';
      const n = new Node(src, type, isNamed, id === ERROR_SYMBOL, missing, start, end);
      if (rootHasError) n.hasError = HAS_ERROR_TYPES.has(type) ? cursorNodeHasError(t, b) : true;
      if (FIELD_PARENTS.has(type)) n.fields = [];
      if (parent?.fields) parent.fields.push(g.fields[b._ts_tree_cursor_current_field_id_wasm(t)] ?? null);
      return n;
    };
    // Children are collected on one scratch list and each parent gets an exact-size copy when it
    // is closed: growing every child array by push() allocated (and copied) ~2x the memory, which
    // on a 64 KiB script meant extra young-generation collections in the middle of one decision.
    // `kn` is the scratch list's logical length (setting `kids.length` is a slow runtime call;
    // entries past `kn` are stale and overwritten).
    const kids: Node[] = [];
    let kn = 0;
    const marks: number[] = [];
    const stack: Node[] = [];
    const open = (n: Node): void => {
      kids[kn++] = n;
      stack.push(n);
      marks.push(kn);
    };
    const close = (): void => {
      const n = stack.pop() as Node;
      const m = marks.pop() as number;
      if (kn > m) {
        n.children = kids.slice(m, kn);
        kn = m;
      }
    };
    open(make(undefined));
    const root = kids[0];
    for (;;) {
      // Same shape as copyTree: anonymous nodes are leaves, so their children are not asked for.
      const top = stack.at(-1);
      if (top?.isNamed && b._ts_tree_cursor_goto_first_child_wasm(t)) {
        open(make(top));
        continue;
      }
      for (;;) {
        close();
        if (!stack.length) return root;
        if (b._ts_tree_cursor_goto_next_sibling_wasm(t)) {
          open(make(stack[stack.length - 1]));
          break;
        }
        if (!b._ts_tree_cursor_goto_parent_wasm(t)) {
          while (stack.length) close();
          return root;
        }
      }
    }
  } finally {
    // Nothing else touched the transfer buffer since the last cursor call, so it still holds the cursor.
    b._ts_tree_cursor_delete_wasm(t);
  }
}

/** Node-by-node equality of two copies (everything the guard reads). */
function sameTree(a: Node, b: Node): boolean {
  const sa: Node[] = [a];
  const sb: Node[] = [b];
  while (sa.length) {
    const x = sa.pop() as Node;
    const y = sb.pop() as Node;
    if (
      x.type !== y.type ||
      x.isNamed !== y.isNamed ||
      x.isError !== y.isError ||
      x.isMissing !== y.isMissing ||
      x.startIndex !== y.startIndex ||
      x.endIndex !== y.endIndex ||
      x.hasError !== y.hasError ||
      x.children.length !== y.children.length ||
      (x.fields === undefined) !== (y.fields === undefined)
    )
      return false;
    if (x.fields && y.fields && (x.fields.length !== y.fields.length || x.fields.some((f, i) => f !== y.fields?.[i])))
      return false;
    for (const c of x.children) sa.push(c);
    for (const c of y.children) sb.push(c);
  }
  return true;
}

/**
 * Inputs covering every construct the copier handles: fields, heredocs, non-ASCII text, comments,
 * and errors in and next to the types whose hasError is read exactly. Few, larger probes: the
 * check runs once, cold, when the guard loads, and each probe costs a parse and two copies.
 */
const PROBES = [
  [
    'ls -la; a | b && c || d; e & x=1 y=$(date) cmd > out 2>&1 < in # comment',
    'for i in a b; do echo "$i"; done; case $x in a) ls;; b|c) rm x;; esac',
    'f() { g | f & }; f; if a; then b; elif c; then d; else e; fi; while read l; do echo "$l"; done < f',
    "echo $'\\x72m' \"a${b:-c}d\" 'e' héllo 🎉 <(ls) >(cat); export A=1 B=$(x); declare -x C; a=(1 2 3); echo ${a[@]}",
    '[[ -f x && $(id) ]] && (( i++ )); for ((i=0;i<3;i++)); do :; done; sudo bash -c "rm -rf /"',
    "cat <<'EOF' | psql",
    'DROP TABLE t;',
    'EOF',
    'cat <<EOF',
    '$HOME `id`',
    'EOF',
    '',
  ].join('\n'),
  '[[ -f x && ]]; [[ -d y ]]; echo $(( 1 + )) $((2+2)); for ((i=0;i<;i++)); do :; done; (( x++ )); exec 5<>/dev/tcp/h/80; ls | | rm',
  'if true; then ls',
  'echo "unterminated',
  '',
];

/** Checks the raw binding against the public API on the probe set; any difference or error disables it. */
function verifyFastCopy(p: Parser, b: RawBinding): boolean {
  try {
    for (const text of PROBES) if (!copiesAgree(p, b, text)) return false;
    return true;
  } catch {
    return false;
  }
}

function copiesAgree(p: Parser, b: RawBinding, text: string): boolean {
  const tree = p.parse(text);
  if (!tree) return false;
  try {
    const slow = copyTree(tree, text);
    const fast = copyTreeFast(tree, text, b);
    return fast !== undefined && sameTree(slow, fast);
  } finally {
    tree.delete();
  }
}

/** For tests: the fast copy of `text` equals the public API's copy (true when there is no fast copier). */
export function fastCopyMatches(text: string): boolean {
  const b = raw ?? candidate;
  if (!parser || !b) return true;
  return copiesAgree(parser, b, text);
}

/** Parses `text` and runs `fn` on the (copied) root; the WASM tree is always freed. */
export function withTree<T>(p: Parser, text: string, fn: (root: Node) => T): T {
  const tree: Tree | null = p.parse(text);
  if (!tree) throw new Error('parser returned no tree');
  let root: Node;
  try {
    root = (raw && copyTreeFast(tree, text, raw)) || copyTree(tree, text);
  } finally {
    tree.delete();
  }
  if (candidate && ++publicCopies >= VERIFY_AFTER) settleCandidate();
  return fn(root);
}

export type { Parser };
