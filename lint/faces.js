/**
 * Second public faces a module declares (like the MCP SDK's `./stdio` subpath), each explained in
 * its own header. Importing one of these is as good as importing the module's `index.ts`.
 * Read by the `gatehouse/public-face` lint rule and by test/structure/imports.test.ts.
 */
export const DECLARED_FACES = new Set(['src/upstream/light.ts', 'src/server/light.ts']);

/** `src/<module>/…` -> `<module>` (undefined outside src/). */
export function moduleOf(rel) {
  const parts = rel.split('/');
  return parts[0] === 'src' && parts.length > 2 ? parts[1] : undefined;
}

/** Whether an import of `to` (a path relative to the repository root) from `from` passes a face. */
export function isPastFace(from, to) {
  const a = moduleOf(from);
  const b = moduleOf(to);
  if (b === undefined || a === b) return false;
  return to !== `src/${b}/index.ts` && !DECLARED_FACES.has(to);
}
