import { createRequire } from 'node:module';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';

/**
 * Loads tree-sitter-bash once (WASM from node_modules, never the network) and hands out one
 * reusable synchronous parser. WASM memory is not garbage-collected, so every caller must
 * `tree.delete()` (see `withTree`).
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

/** Parses `text` and runs `fn` on the root; the tree is always freed. */
export function withTree<T>(p: Parser, text: string, fn: (root: Node) => T): T {
  const tree: Tree | null = p.parse(text);
  if (!tree) throw new Error('parser returned no tree');
  try {
    return fn(tree.rootNode);
  } finally {
    tree.delete();
  }
}

export type { Node, Parser };
