/**
 * Bug class fixed once: substring matching of content types. `ct.includes('application/json')`
 * matches `application/json-patch+json` and `text/plain; note="application/json"`; an unanchored
 * or prefix regex on the raw header matches `application/jsonx`. A media type is parsed once
 * (mediaTypeOf() in src/core: type/subtype, lower-cased, parameters apart) and its essence compared
 * whole. Reported:
 *  - `.includes/.indexOf/.startsWith/.endsWith/.search/.match` with a media-type literal;
 *  - a regex `.test()`/`.exec()` (or `.match()`/`.search()`) run on a raw content-type value;
 *  - a regex literal that spells a media type (`/^application\/json/`): media types are matched
 *    in src/core/media-type.ts only, where the essence is parsed first.
 */
const MEDIA_LITERAL =
  /^(application|text|multipart|image|audio|video|message|font)\/|(^|[+/])(json|xml|html|plain|form-data|octet-stream|event-stream|x-www-form-urlencoded|ndjson)\b/i;
const CONTENT_TYPE = /content-?type|contenttype|\bct\b|mime/i;
const MEDIA_REGEX = /(application|multipart|text|image|audio|video|font)\\\/|\\\+(json|xml)\b/i;
const STRING_METHODS = new Set(['includes', 'indexOf', 'lastIndexOf', 'startsWith', 'endsWith', 'search', 'match']);

export default {
  meta: {
    type: 'problem',
    docs: { description: 'classify media types with mediaTypeOf() (src/core), not by substring or prefix' },
    messages: {
      literal:
        "matching a content type by substring misclassifies it: compare mediaTypeOf(…).essence (src/core) with '{{value}}'",
      regex:
        'a regex on a raw Content-Type value matches by substring or prefix: parse it with mediaTypeOf() (src/core) and test its essence',
      regexLiteral:
        'a regex spelling a media type matches content types by substring or prefix: classify them in src/core/media-type.ts (mediaTypeOf() and its predicates)',
    },
    schema: [],
  },
  create(context) {
    const text = (n) => context.sourceCode.getText(n);
    const home = context.filename.split('\\').join('/').endsWith('src/core/media-type.ts');
    return {
      Literal(node) {
        if (!home && node.regex && MEDIA_REGEX.test(node.regex.pattern))
          context.report({ node, messageId: 'regexLiteral' });
      },
      CallExpression(node) {
        if (home) return;
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return;
        const name = callee.property.name;
        const [arg] = node.arguments;
        if (!arg) return;
        if (
          STRING_METHODS.has(name) &&
          arg.type === 'Literal' &&
          typeof arg.value === 'string' &&
          MEDIA_LITERAL.test(arg.value)
        ) {
          context.report({ node, messageId: 'literal', data: { value: arg.value } });
          return;
        }
        const subject =
          name === 'test' || name === 'exec' ? arg : name === 'match' || name === 'search' ? callee.object : undefined;
        if (subject && CONTENT_TYPE.test(text(subject)) && !/mediaTypeOf\(/.test(text(subject))) {
          context.report({ node, messageId: 'regex' });
        }
      },
    };
  },
};
