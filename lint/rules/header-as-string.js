/**
 * Bug class fixed once (issue 09, finding 3): a header read only when it is a string. An HTTP
 * header sent twice arrives as a list (`string[]`), so `typeof h === 'string' ? h : undefined`
 * turned a doubled `Content-Encoding` into "no coding", and the body went unscrubbed. Reported:
 *  - any `typeof` test of a value read from something named `headers`;
 *  - a `typeof … === 'string'` test whose other branch is `undefined`, `null` or `''`, on a value
 *    whose type may be a list of strings (the list case then silently reads as absent).
 */
import ts from 'typescript';

const HEADERS = /^(headers|rawHeaders|trailers)$|Headers$/;

function readsHeaders(node) {
  for (let n = node; n && n.type === 'MemberExpression'; n = n.object) {
    const obj = n.object;
    if (obj.type === 'Identifier' && HEADERS.test(obj.name)) return true;
    if (
      obj.type === 'MemberExpression' &&
      !obj.computed &&
      obj.property.type === 'Identifier' &&
      HEADERS.test(obj.property.name)
    )
      return true;
    if (obj.type === 'MemberExpression' && obj.property.type === 'PrivateIdentifier' && HEADERS.test(obj.property.name))
      return true;
  }
  return false;
}

const isEmpty = (n) =>
  (n.type === 'Identifier' && n.name === 'undefined') || (n.type === 'Literal' && (n.value === null || n.value === ''));

function mayBeStringList(services, node) {
  if (!services?.program) return false;
  const checker = services.program.getTypeChecker();
  const type = services.getTypeAtLocation(node);
  const parts = type.isUnion() ? type.types : [type];
  const hasString = parts.some((t) => (t.flags & ts.TypeFlags.StringLike) !== 0);
  const hasList = parts.some((t) => {
    if (!checker.isArrayType(t) && !checker.isTupleType(t)) return false;
    const el = checker.getTypeArguments(t)[0];
    return el !== undefined && (el.flags & ts.TypeFlags.StringLike) !== 0;
  });
  return hasString && hasList;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'do not read an HTTP header only when it is a string' },
    messages: {
      header:
        'a header sent twice arrives as a list: read it with headerValues()/parseContentCodings() (src/upstream) or refuse a list explicitly, never only when it is a string',
      list: 'this value may be a list of strings, and the list case reads as absent here: handle the list (join, refuse, or take each) instead of keeping only a plain string',
    },
    schema: [],
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    return {
      BinaryExpression(node) {
        if (!['===', '!==', '==', '!='].includes(node.operator)) return;
        const [op, lit] = node.left.type === 'UnaryExpression' ? [node.left, node.right] : [node.right, node.left];
        if (
          op.type !== 'UnaryExpression' ||
          op.operator !== 'typeof' ||
          lit.type !== 'Literal' ||
          lit.value !== 'string'
        )
          return;
        const subject = op.argument;
        if (readsHeaders(subject)) {
          context.report({ node, messageId: 'header' });
          return;
        }
        const parent = node.parent;
        if (parent?.type !== 'ConditionalExpression' || parent.test !== node) return;
        const dropped = node.operator.startsWith('!') ? parent.consequent : parent.alternate;
        if (isEmpty(dropped) && mayBeStringList(services, subject)) context.report({ node, messageId: 'list' });
      },
    };
  },
};
