import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { cutText, GatehouseError } from '../../core/index.js';
import {
  checkSkillName,
  DRAFT_SKILLS,
  isText,
  PUBLISHED_SKILLS,
  SKILL_LIMITS,
  SKILL_MD,
  type Author,
  type SkillFile,
  type SkillStore,
  type SkillVersion,
} from '../../knowledge/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { block, visible } from '../terminal.js';
import { readZip, writeZip } from '../zip.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';

const USAGE = `usage:
  gatehouse skill list [--drafts] [--deprecated] [--json]
                                          published skills (and drafts, deprecated ones)
  gatehouse skill show NAME [--draft | --version N | --digest D] [--file PATH] [--json]
                                          a skill's SKILL.md (or one file) and its manifest
  gatehouse skill history NAME [--json]   every publication and draft version, with digests
  gatehouse skill diff NAME DIGEST        what publishing that version would change
  gatehouse skill publish NAME --digest D publish a draft (or an older version: a rollback) as yourself
  gatehouse skill revert NAME --version N publish published version N again
  gatehouse skill rm NAME [--draft]       deprecate the published skill (or discard the draft)
  gatehouse skill purge NAME              remove the skill, its drafts and history for good
  gatehouse skill import DIR|ZIP [--name NAME] [--publish] [--note TEXT]
                                          a skill folder (or .zip) as a new draft (--publish: publish it too)
  gatehouse skill export NAME [--out DIR | --zip FILE] [--draft | --version N | --digest D]
                                          write a skill's files to DIR/NAME (default ./NAME) or a .zip`;

const operatorAuthor = (env: NodeJS.ProcessEnv): Author => ({ name: `operator:${operator(env)}`, trust: 'operator' });

/** Reads a skill folder: regular files only (a symbolic link is refused); hidden entries skipped with a note. */
function readFolder(root: string, skipped: string[]): SkillFile[] {
  const out: SkillFile[] = [];
  let total = 0;
  let entries = 0;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      // Directories count too: a deep tree of empty folders is not walked without end.
      if (++entries > SKILL_LIMITS.files * 4)
        throw new GatehouseError('input_too_large', 'the folder holds more entries than a skill may', {
          hint: `at most ${SKILL_LIMITS.files} files`,
        });
      const full = join(dir, name);
      const rel = relative(root, full).split(sep).join('/');
      if (name.startsWith('.')) {
        skipped.push(rel);
        continue;
      }
      const st = lstatSync(full);
      if (st.isSymbolicLink())
        throw new GatehouseError('invalid_input', `${rel} is a symbolic link`, {
          hint: 'copy the file it points to into the skill',
        });
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) {
        if (st.size > SKILL_LIMITS.fileBytes)
          throw new GatehouseError('input_too_large', `${rel} is ${st.size} bytes, over ${SKILL_LIMITS.fileBytes}`, {
            hint: 'split it or leave it out of the skill',
          });
        total += st.size;
        if (total > SKILL_LIMITS.bytes || out.length >= SKILL_LIMITS.files)
          throw new GatehouseError('input_too_large', 'the folder is larger than a skill may be', {
            hint: `at most ${SKILL_LIMITS.files} files and ${SKILL_LIMITS.bytes} bytes`,
          });
        // Opened without following a link: a file swapped for a symbolic link after the check
        // above is refused, not read through.
        const fd = openSync(full, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          const size = fstatSync(fd).size;
          if (size > SKILL_LIMITS.fileBytes)
            throw new GatehouseError('input_too_large', `${rel} is ${size} bytes, over ${SKILL_LIMITS.fileBytes}`, {
              hint: 'split it or leave it out of the skill',
            });
          out.push({ path: rel, data: readFileSync(fd) });
        } finally {
          closeSync(fd);
        }
      } else throw new GatehouseError('invalid_input', `${rel} is not a regular file`, { hint: 'remove it' });
    }
  };
  walk(root);
  return out;
}

/**
 * The files of an archive, relative to the skill's folder: an archive of the folder itself
 * (`NAME/SKILL.md`, as `zip -r NAME.zip NAME` makes) or of its contents (`SKILL.md`).
 */
function readArchive(file: string, skipped: string[]): { files: SkillFile[]; folder?: string } {
  // An archive is read whole, so its own size is bounded first (stored files plus headers).
  const size = lstatSync(file).size;
  if (size > SKILL_LIMITS.bytes * 2)
    throw new GatehouseError(
      'input_too_large',
      `${basename(file)} is ${size} bytes, more than a skill archive may be`,
      {
        hint: `a skill holds at most ${SKILL_LIMITS.bytes} bytes`,
      },
    );
  const entries = readZip(readFileSync(file), {
    entries: SKILL_LIMITS.files * 2,
    bytes: SKILL_LIMITS.fileBytes,
    total: SKILL_LIMITS.bytes,
  });
  const tops = new Set(entries.map((e) => e.name.split('/')[0]!));
  const nested = !entries.some((e) => e.name === SKILL_MD) && tops.size === 1;
  const folder = nested ? [...tops][0] : undefined;
  const files: SkillFile[] = [];
  for (const e of entries) {
    const path = nested ? e.name.slice(folder!.length + 1) : e.name;
    if (path.split('/').some((s) => s.startsWith('.')) || path.startsWith('__MACOSX/')) {
      skipped.push(path);
      continue;
    }
    files.push({ path, data: e.data });
  }
  return { files, folder };
}

async function pick(skills: SkillStore, name: string, v: { draft?: boolean; version?: number; digest?: string }) {
  if (v.digest) return skills.byDigest(name, v.digest);
  const where = v.draft ? 'draft' : 'published';
  return v.version ? skills.atVersion(name, where, v.version) : skills.current(name, where);
}

const headLine = (v: SkillVersion) =>
  `${v.name} — ${v.where} version ${v.provenance.version} by ${visible(v.provenance.author)} [${v.provenance.trust}] at ${v.provenance.at}${v.deprecated ? ' (deprecated)' : ''}\ndigest ${v.digest}`;

/**
 * `gatehouse skill`: the operators' side of org skills. An operator is the person a publish
 * needs, so `publish`, `revert` and `import --publish` publish directly (trust `operator`), each an
 * audit record (`cli:skill.*`) like every other change here.
 */
export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const subs = ['list', 'show', 'history', 'diff', 'publish', 'revert', 'rm', 'purge', 'import', 'export'];
  if (!subs.includes(sub))
    throw new GatehouseError('usage', `unknown skill command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, {
    json: { type: 'boolean' },
    drafts: { type: 'boolean' },
    deprecated: { type: 'boolean' },
    draft: { type: 'boolean' },
    version: { type: 'string' },
    digest: { type: 'string' },
    file: { type: 'string' },
    name: { type: 'string' },
    publish: { type: 'boolean' },
    note: { type: 'string' },
    out: { type: 'string' },
    zip: { type: 'string' },
  });
  // Arguments are checked before the store is opened.
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1))
    throw new GatehouseError('usage', '--version must be a whole number from 1', { hint: USAGE });
  if (values.digest !== undefined && !/^[0-9a-f]{64}$/.test(values.digest))
    throw new GatehouseError('usage', '--digest must be 64 hex characters', { hint: 'copy it from skill history' });
  if (sub === 'list' && positionals.length)
    throw new GatehouseError('usage', 'skill list takes no arguments', { hint: USAGE });
  const diffArgs = sub === 'diff' ? positionals : undefined;
  if (diffArgs && (diffArgs.length !== 2 || !/^[0-9a-f]{64}$/.test(diffArgs[1]!)))
    throw new GatehouseError('usage', 'skill diff takes NAME and a DIGEST', { hint: USAGE });
  const target = sub === 'list' ? '' : diffArgs ? diffArgs[0]! : onlyPositional(positionals);
  if (sub !== 'list' && sub !== 'import') checkSkillName(target);
  if (sub === 'publish' && !values.digest)
    throw new GatehouseError('usage', 'skill publish needs --digest D (from skill history or the draft)', {
      hint: USAGE,
    });
  if (sub === 'revert' && version === undefined)
    throw new GatehouseError('usage', 'skill revert needs --version N', { hint: USAGE });
  if (sub === 'export' && values.out && values.zip)
    throw new GatehouseError('usage', 'give --out or --zip, not both', { hint: USAGE });

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const skills = rt.skills;
    const me = operatorAuthor(ctx.env);
    const audit = (what: string, detail: Record<string, unknown>) =>
      rt.gate.event(null, `cli:skill.${what}`, 'ok', { skill: target, by: me.name, ...detail });
    switch (sub) {
      case 'list': {
        const rows = [
          ...(await skills.list('published', { includeDeleted: values.deprecated })).map((i) => ({
            i,
            where: 'published',
          })),
          ...(values.drafts ? (await skills.list('draft')).map((i) => ({ i, where: 'draft' })) : []),
        ];
        if (values.json)
          write(
            ctx.stdout,
            JSON.stringify(
              rows.map((r) => ({ where: r.where, ...r.i })),
              null,
              2,
            ),
          );
        else if (rows.length === 0) write(ctx.stdout, '(no skills)');
        else
          write(
            ctx.stdout,
            table(
              rows.map(({ i, where }) => ({
                name: visible(i.key),
                where: i.deleted ? 'deprecated' : where,
                version: String(i.provenance.version),
                author: visible(i.provenance.author),
                updated: i.provenance.at,
                description: visible(i.summary),
              })),
              ['name', 'where', 'version', 'author', 'updated', 'description'],
            ),
          );
        return EXIT.ok;
      }
      case 'show': {
        const v = await pick(skills, target, { draft: values.draft, version, digest: values.digest });
        const path = values.file ?? SKILL_MD;
        const data = await skills.file(v, path);
        if (values.json) {
          write(
            ctx.stdout,
            JSON.stringify(
              { ...v, file: path, content: isText(data) ? data.toString('utf8') : data.toString('base64') },
              null,
              2,
            ),
          );
          return EXIT.ok;
        }
        const files = v.manifest.files.map(
          (f) => `  ${cutText(f.sha256, 16)}  ${String(f.bytes).padStart(7)}  ${visible(f.path)}`,
        );
        write(
          ctx.stdout,
          `${headLine(v)}\nfiles:\n${files.join('\n')}\n\n${path}:\n${isText(data) ? block(data.toString('utf8')) : `(binary, ${data.length} bytes)`}`,
        );
        return EXIT.ok;
      }
      case 'history': {
        const h = await skills.history(target);
        if (values.json) write(ctx.stdout, JSON.stringify(h, null, 2));
        else
          write(
            ctx.stdout,
            table(
              (['published', 'draft'] as const).flatMap((where) =>
                h[where].map((v) => ({
                  where,
                  version: String(v.version),
                  op: v.op,
                  digest: String((v.meta as { digest?: unknown } | undefined)?.digest ?? ''),
                  author: visible(v.author),
                  at: v.at,
                  note: visible(v.note ?? ''),
                })),
              ),
              ['where', 'version', 'op', 'digest', 'author', 'at', 'note'],
            ),
          );
        return EXIT.ok;
      }
      case 'diff': {
        write(ctx.stdout, block(await skills.diff(target, diffArgs![1]!)));
        return EXIT.ok;
      }
      case 'publish':
      case 'revert': {
        const digest =
          sub === 'publish' ? values.digest! : (await skills.atVersion(target, 'published', version!)).digest;
        const v = await skills.publish(target, digest, {
          author: me,
          expectedVersion: await skills.publishedVersion(target),
          ...(values.note ? { note: values.note } : {}),
        });
        await audit(sub, { digest, version: v.provenance.version });
        write(ctx.stdout, `published ${target} version ${v.provenance.version} (${digest})`);
        return EXIT.ok;
      }
      case 'rm': {
        if (values.draft) {
          await skills.discardDraft(target, { author: me, ...(values.note ? { note: values.note } : {}) });
          await audit('discard', {});
          write(ctx.stdout, `discarded the draft of ${target} (its history stays)`);
          return EXIT.ok;
        }
        const cur = await skills.current(target, 'published');
        await skills.deprecate(target, {
          author: me,
          expectedVersion: cur.provenance.version,
          ...(values.note ? { note: values.note } : {}),
        });
        await audit('deprecate', { digest: cur.digest });
        write(ctx.stdout, `deprecated ${target}; \`gatehouse skill publish ${target} --digest D\` brings it back`);
        return EXIT.ok;
      }
      case 'purge': {
        const ids = (
          await Promise.all(
            [PUBLISHED_SKILLS, DRAFT_SKILLS].map((scope) => rt.knowledge.lookup('skill', scope, target)),
          )
        ).flatMap((i) => (i ? [i.id] : []));
        if (ids.length === 0)
          throw new GatehouseError('not_found', `no skill ${target}`, {
            hint: 'gatehouse skill list --drafts --deprecated',
          });
        for (const id of ids) await rt.knowledge.purge(id);
        await audit('purge', { items: ids });
        write(ctx.stdout, `purged ${target}: its publications, drafts and history`);
        return EXIT.ok;
      }
      case 'import': {
        const skipped: string[] = [];
        const isDir = lstatSync(target).isDirectory();
        const { files, folder } = isDir
          ? { files: readFolder(target, skipped), folder: basename(target) }
          : readArchive(target, skipped);
        const name = values.name ?? folder ?? basename(target).replace(/\.zip$/i, '');
        checkSkillName(name);
        for (const s of skipped) write(ctx.stderr, `skipped hidden ${visible(s)}`);
        const before = await skills.currentOrNone(name, 'draft');
        const { version: d, findings } = await skills.saveDraft(name, files, {
          author: me,
          ...(before ? { expectedVersion: before.provenance.version } : {}),
          note: values.note ?? `imported from ${basename(target)}`,
        });
        await audit('import', { skill: name, digest: d.digest, files: files.length });
        for (const f of findings)
          write(ctx.stderr, `${f.severity}: ${f.rule} in ${visible(f.file)}: ${visible(f.evidence)}`);
        if (values.publish) {
          const v = await skills.publish(name, d.digest, {
            author: me,
            expectedVersion: await skills.publishedVersion(name),
          });
          await audit('publish', { skill: name, digest: d.digest, version: v.provenance.version });
          write(ctx.stdout, `imported and published ${name} version ${v.provenance.version} (${d.digest})`);
        } else
          write(
            ctx.stdout,
            `imported ${name} as draft version ${d.provenance.version} (${d.digest}); review with \`gatehouse skill diff ${name} ${d.digest}\`, publish with \`gatehouse skill publish ${name} --digest ${d.digest}\``,
          );
        return EXIT.ok;
      }
      case 'export': {
        const v = await pick(skills, target, { draft: values.draft, version, digest: values.digest });
        const files = await skills.files(v);
        if (values.zip) {
          writeFileSync(values.zip, writeZip(files.map((f) => ({ name: `${target}/${f.path}`, data: f.data }))), {
            flag: 'wx',
          });
          write(ctx.stdout, `wrote ${files.length} files of ${target} (${v.digest}) to ${values.zip}`);
          return EXIT.ok;
        }
        const root = join(values.out ?? '.', target);
        // Never into an existing folder: an export does not merge into (or overwrite) files.
        mkdirSync(dirname(root), { recursive: true });
        mkdirSync(root);
        for (const f of files) {
          mkdirSync(dirname(join(root, f.path)), { recursive: true });
          writeFileSync(join(root, f.path), f.data, { flag: 'wx' });
        }
        write(ctx.stdout, `wrote ${files.length} files of ${target} (${v.digest}) to ${root}`);
        return EXIT.ok;
      }
      default:
        return EXIT.usage;
    }
  } finally {
    await rt.close();
  }
};
