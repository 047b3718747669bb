/**
 * A directory tree as one string: every path with its type, mode and content digest, or a link's
 * text. Two trees are byte-for-byte the same exactly when their strings are equal.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function treeDigest(dir: string, rel = ''): string {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(dir, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(join(dir, p))}`);
    else if (st.isDirectory()) out.push(`${p}/ ${mode}`, treeDigest(dir, p));
    else
      out.push(
        `${p} ${mode} ${createHash('sha256')
          .update(readFileSync(join(dir, p)))
          .digest('hex')}`,
      );
  }
  return out.filter((l) => l !== '').join('\n');
}
