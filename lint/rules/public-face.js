import { dirname, relative, resolve } from 'node:path';
import { isPastFace } from '../faces.js';

/**
 * A module folder of src/ is imported only through its public face: its `index.ts` or a declared
 * light face (lint/faces.js). Static imports, `import type`, `export … from` and `import()` all
 * count: a type-only import still ties two modules together. test/structure/imports.test.ts checks
 * the same graph for circles.
 */
export default {
  meta: {
    type: 'problem',
    docs: { description: 'import another src/ module only through its index.ts or a declared light face' },
    messages: {
      past: "'{{spec}}' reaches into src/{{module}}/ past its public face: import it from src/{{module}}/index.ts (or add what you need to that face)",
    },
    schema: [],
  },
  create(context) {
    const root = context.cwd;
    const from = relative(root, context.filename).split('\\').join('/');
    if (!from.startsWith('src/')) return {};
    const check = (source) => {
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string' || !source.value.startsWith('.'))
        return;
      const abs = resolve(dirname(context.filename), source.value.replace(/\.js$/, '.ts'));
      const to = relative(root, abs).split('\\').join('/');
      if (isPastFace(from, to))
        context.report({ node: source, messageId: 'past', data: { spec: source.value, module: to.split('/')[1] } });
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
      TSImportType: (n) => check(n.argument?.type === 'TSLiteralType' ? n.argument.literal : (n.source ?? n.argument)),
    };
  },
};
