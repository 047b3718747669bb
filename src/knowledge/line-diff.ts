/**
 * A line diff for people who approve a change (a skill version against the published one): the
 * shortest edit script (Myers' O(ND) algorithm), shown as unified-diff hunks with context. When
 * the two texts differ in more than `maxEdits` lines the script is not computed (its cost grows
 * with the square of the edits) and the caller says so instead of showing a partial diff.
 */
export type DiffLine = { op: ' ' | '-' | '+'; text: string };

/** The edit script from `a` to `b`, or undefined when it needs more than `maxEdits` edits. */
export function diffLines(a: readonly string[], b: readonly string[], maxEdits = 4000): DiffLine[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const off = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v);
    v = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, off, d);
    }
  }
  return undefined;
}

function backtrack(
  trace: Int32Array[],
  a: readonly string[],
  b: readonly string[],
  off: number,
  dEnd: number,
): DiffLine[] {
  const out: DiffLine[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    // trace[d] is V as it was before step d: where each diagonal had reached after d - 1 edits.
    const prev = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && prev[off + k - 1]! < prev[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = prev[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      out.push({ op: ' ', text: a[--x]! });
      y--;
    }
    if (x === prevX) out.push({ op: '+', text: b[--y]! });
    else out.push({ op: '-', text: a[--x]! });
  }
  while (x > 0 && y > 0) {
    out.push({ op: ' ', text: a[--x]! });
    y--;
  }
  return out.reverse();
}

/** Unified-diff hunks (`@@ -a,n +b,m @@`) with `context` lines around each change. */
export function unifiedDiff(a: string, b: string, context = 3, maxEdits = 4000): string | undefined {
  const al = a.split('\n');
  const bl = b.split('\n');
  const script = diffLines(al, bl, maxEdits);
  if (!script) return undefined;
  const out: string[] = [];
  let ai = 0;
  let bi = 0;
  let i = 0;
  while (i < script.length) {
    if (script[i]!.op === ' ') {
      ai++;
      bi++;
      i++;
      continue;
    }
    // A hunk: back up `context` lines, run until `2 * context` unchanged lines in a row.
    const start = Math.max(0, i - context);
    let end = i;
    let same = 0;
    while (end < script.length && same <= 2 * context) {
      same = script[end]!.op === ' ' ? same + 1 : 0;
      end++;
    }
    end = Math.min(script.length, end - Math.max(0, same - context));
    const lines = script.slice(start, end);
    const aStart = ai - (i - start);
    const bStart = bi - (i - start);
    const aCount = lines.filter((l) => l.op !== '+').length;
    const bCount = lines.filter((l) => l.op !== '-').length;
    out.push(`@@ -${aStart + 1},${aCount} +${bStart + 1},${bCount} @@`);
    for (const l of lines) out.push(`${l.op}${l.text}`);
    for (let j = i; j < end; j++) {
      if (script[j]!.op !== '+') ai++;
      if (script[j]!.op !== '-') bi++;
    }
    i = end;
  }
  return out.join('\n');
}
