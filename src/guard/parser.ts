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
 * everything after that is pure JS.
 */
let parser: Parser | undefined;
let loading: Promise<Parser> | undefined;

export async function loadBashParser(): Promise<Parser> {
  if (parser) return parser;
  if (!loading) {
    loading = (async () => {
      const require = createRequire(import.meta.url);
      const runtimeWasm = require.resolve('web-tree-sitter/web-tree-sitter.wasm');
      // Parser.init locates its own runtime wasm; pointing locateFile at the resolved path keeps it offline.
      await Parser.init({ locateFile: () => runtimeWasm });
      const lang = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
      const p = new Parser();
      p.setLanguage(lang);
      parser = p;
      return p;
    })();
  }
  return loading;
}

/** tree-sitter's builtin ERROR symbol (`ts_builtin_sym_error`); `Node.isError` is exactly this. */
const ERROR_SYMBOL = 65535;

/**
 * Parent types whose children's field names the walk reads (`childForFieldName`,
 * `fieldNameForChild`). Field ids are only fetched for these to save a WASM call per node;
 * asking any other node for a field throws, which the analyzer turns into a fail-closed
 * `parse.error` (never a silent "no such field").
 */
const FIELD_PARENTS = new Set(['for_statement', 'case_statement', 'case_item', 'redirected_statement', 'variable_assignment', 'function_definition']);

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
    return i >= 0 ? this.children[i] : null;
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
      if (isNamed === undefined) { isNamed = lang.nodeTypeIsNamed(id); named.set(id, isNamed); }
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
      if (stack[stack.length - 1].isNamed && cur.gotoFirstChild()) {
        stack.push(make(stack[stack.length - 1]));
        continue;
      }
      for (;;) {
        stack.pop();
        if (!stack.length) return root;
        if (cur.gotoNextSibling()) { stack.push(make(stack[stack.length - 1])); break; }
        if (!cur.gotoParent()) return root;
      }
    }
  } finally {
    cur.delete();
  }
}

/** Parses `text` and runs `fn` on the (copied) root; the WASM tree is always freed. */
export function withTree<T>(p: Parser, text: string, fn: (root: Node) => T): T {
  const tree: Tree | null = p.parse(text);
  if (!tree) throw new Error('parser returned no tree');
  let root: Node;
  try {
    root = copyTree(tree, text);
  } finally {
    tree.delete();
  }
  return fn(root);
}

export type { Parser };
