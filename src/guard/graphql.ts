/**
 * Which operations a GraphQL document holds, from a lexer that knows the language's strings,
 * block strings and comments (a regex over the raw text was fooled by a quote inside a comment
 * or a block string). Anything the lexer cannot read is `unreadable`, which callers treat as a
 * possible write (fail closed).
 */
export interface GraphqlOps {
  /** A `mutation` operation is defined. */
  mutation: boolean;
  /** The text is not a GraphQL document this lexer can read to the end. */
  unreadable: boolean;
}

const NAME_START = /[A-Za-z_]/;
const NAME = /[A-Za-z0-9_]/;
/** The words an executable document's definitions may start with; any other is a syntax error to every server. */
const DEFINITION_START = new Set(['query', 'mutation', 'subscription', 'fragment']);

export function graphqlOperations(text: string): GraphqlOps {
  let depth = 0;
  // Strings only stand in argument lists (and the values nested in them) in an executable document;
  // one anywhere else (a JSON object fed as GraphQL, say) means the text is not GraphQL.
  let parens = 0;
  let mutation = false;
  let sawDefinition = false;
  // Whether the next token at depth 0 starts a definition: at the start, and after a top-level
  // selection set closes. Only there is `mutation` the operation type; elsewhere at depth 0 it
  // is a name (`query mutation { a }` is a query named "mutation").
  let atDefinitionStart = true;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  while (i < n) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && text[i] !== '\n' && text[i] !== '\r') i++;
      continue;
    }
    if (c === '"') {
      if (parens === 0) return { mutation, unreadable: true };
      if (text.startsWith('"""', i)) {
        // Block string: ends at the first unescaped """ (\""" is an escaped one).
        i += 3;
        for (;;) {
          if (i >= n) return { mutation, unreadable: true };
          if (text.startsWith('\\"""', i)) {
            i += 4;
            continue;
          }
          if (text.startsWith('"""', i)) {
            i += 3;
            break;
          }
          i++;
        }
        continue;
      }
      i++;
      for (;;) {
        if (i >= n || text[i] === '\n' || text[i] === '\r') return { mutation, unreadable: true };
        if (text[i] === '\\') {
          i += 2;
          continue;
        }
        if (text[i] === '"') {
          i++;
          break;
        }
        i++;
      }
      continue;
    }
    if (c === '{' || c === '(' || c === '[') {
      if (depth === 0 && c === '{') {
        sawDefinition = true;
        atDefinitionStart = false;
      }
      depth++;
      if (c === '(') parens++;
      i++;
      continue;
    }
    if (c === '}' || c === ')' || c === ']') {
      depth--;
      if (c === ')') parens--;
      if (depth < 0) return { mutation, unreadable: true };
      if (depth === 0 && c === '}') atDefinitionStart = true;
      i++;
      continue;
    }
    if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < n && NAME.test(text.charAt(j))) j++;
      const word = text.slice(i, j);
      // Operation types only count where a definition starts. A definition that starts with any
      // other word ("gene mutation" in a search API's `query` field) is not GraphQL any server
      // would run: unreadable, which fails closed on GraphQL paths and is ignored elsewhere.
      if (depth === 0 && atDefinitionStart) {
        if (!DEFINITION_START.has(word)) return { mutation, unreadable: true };
        sawDefinition = true;
        atDefinitionStart = false;
        if (word === 'mutation') mutation = true;
      }
      i = j;
      continue;
    }
    // Numbers, punctuators ($ : = @ ! | & ... and the like) need no tracking here.
    if (/[0-9\-$:=@!|&.+]/.test(c)) {
      i++;
      continue;
    }
    return { mutation, unreadable: true };
  }
  return { mutation, unreadable: depth !== 0 || !sawDefinition };
}
