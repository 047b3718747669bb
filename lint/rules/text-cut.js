/**
 * Bug class fixed once (issue 09, finding 9): text cut to a length on a UTF-16 index. `s.slice(0,
 * MAX)` can split a surrogate pair, leaving a lone half that JSON and the audit log's canonical
 * form then carry as invalid text (and three copies of "clip" had drifted apart). Text is cut to
 * a length with truncateText()/cutText() from src/core, which cut on code-point boundaries.
 * Reported: `.slice(0, N)`, `.substring(0, N)`, `.substr(0, N)` on a string, where N is a number
 * or a name for a size (MAX_…, limit, max, cap, len …). Cuts at a found position (`indexOf`) are
 * not lengths and pass.
 */
import ts from 'typescript';

const CONSTANT = /^[A-Z][A-Z0-9_]*$/;
const SIZE_NAME = /max|limit|cap|budget|len|width|size|room|keep/i;
const isSizeName = (name) => CONSTANT.test(name) || SIZE_NAME.test(name);

function isSize(n) {
  if (n.type === 'Literal' && typeof n.value === 'number') return true;
  if (n.type === 'Identifier') return isSizeName(n.name);
  if (n.type === 'MemberExpression' && !n.computed && n.property.type === 'Identifier')
    return isSizeName(n.property.name);
  if (n.type === 'BinaryExpression' && ['+', '-', '*'].includes(n.operator)) return isSize(n.left) || isSize(n.right);
  return false;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'cut text to a length with truncateText()/cutText(), not on a UTF-16 index' },
    messages: {
      cut: 'cutting text to a length on a UTF-16 index can split a surrogate pair: use truncateText() or cutText() from src/core',
    },
    schema: [],
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    if (!services?.program) return {};
    return {
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return;
        if (!['slice', 'substring', 'substr'].includes(callee.property.name)) return;
        const [start, end] = node.arguments;
        if (!start || !end || start.type !== 'Literal' || start.value !== 0 || !isSize(end)) return;
        // `s?.slice(0, N)` on a `string | undefined` cuts text too: look through null and undefined.
        const checker = services.program.getTypeChecker();
        const type = checker.getNonNullableType(services.getTypeAtLocation(callee.object));
        const parts = type.isUnion() ? type.types : [type];
        if (!parts.every((t) => (t.flags & ts.TypeFlags.StringLike) !== 0)) return;
        context.report({ node, messageId: 'cut' });
      },
    };
  },
};
