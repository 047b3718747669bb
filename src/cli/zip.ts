import { crc32, inflateRawSync } from 'node:zlib';
import { GatehouseError } from '../core/index.js';

/**
 * The little of ZIP that skill import and export need: reading an archive (stored or deflated
 * entries) and writing one (stored). An archive comes from outside, so reading is strict:
 *
 * INVARIANTS: sizes are bounded before anything is inflated (per entry and in all: a zip bomb
 * stops at the limit, inflate is told the most it may produce), every entry's CRC-32 and size are
 * checked, and encrypted entries, ZIP64, symbolic links and names that are absolute or climb out
 * (`..`, `\`) are refused. Names are returned as written; the caller checks them as skill paths.
 */
export interface ZipEntry {
  name: string;
  data: Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const bad = (message: string) =>
  new GatehouseError('invalid_input', `not a usable ZIP archive: ${message}`, {
    hint: 'make it with `zip -r NAME.zip NAME` (no encryption), or import the folder',
  });

/** Reads every file entry (directories skipped). `limits.bytes` bounds one entry, `limits.total` them all. */
export function readZip(buf: Buffer, limits: { entries: number; bytes: number; total: number }): ZipEntry[] {
  // The end-of-central-directory record is in the last 22 + 65535 bytes (its comment is at most 64 KiB).
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  const size = buf.readUInt32LE(eocd + 12);
  const offset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) throw bad('ZIP64 is not supported');
  if (count > limits.entries) throw bad(`more than ${limits.entries} entries`);
  if (offset + size > buf.length) throw bad('the central directory is outside the file');
  const out: ZipEntry[] = [];
  let total = 0;
  let p = offset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== CENTRAL) throw bad('a damaged central directory');
    const madeBy = buf.readUInt16LE(p + 4) >> 8;
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const external = buf.readUInt32LE(p + 38);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 0x1) throw bad(`${name} is encrypted`);
    // Unix-made entries carry the file mode in the high half of the external attributes.
    const mode = madeBy === 3 ? external >>> 16 : 0;
    if ((mode & 0o170000) === 0o120000) throw bad(`${name} is a symbolic link`);
    if (name.startsWith('/') || name.includes('\\') || name.split('/').includes('..') || /^[A-Za-z]:/.test(name))
      throw bad(`${name} is absolute or climbs out of the archive`);
    if (name.endsWith('/')) continue;
    if (usize > limits.bytes) throw bad(`${name} is ${usize} bytes, over ${limits.bytes}`);
    total += usize;
    if (total > limits.total) throw bad(`the files hold more than ${limits.total} bytes`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOCAL) throw bad(`${name}: a damaged entry`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + csize > buf.length) throw bad(`${name} runs past the end of the file`);
    const raw = buf.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, usize) });
      } catch {
        throw bad(`${name} does not inflate to its stated size`);
      }
    } else throw bad(`${name} uses compression method ${method} (only stored and deflate)`);
    if (data.length !== usize || crc32(data) !== crc) throw bad(`${name} fails its size or CRC-32 check`);
    out.push({ name, data });
  }
  return out;
}

/** A ZIP archive of these files (stored, no compression: skills are small and this stays simple). */
export function writeZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}
