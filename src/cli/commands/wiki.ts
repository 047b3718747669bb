import { GatehouseError } from '../../core/index.js';
import {
  checkNamespace,
  checkSlug,
  lintWholeNamespace,
  nsScope,
  type Author,
  type WikiPage,
} from '../../knowledge/index.js';
import { bootRuntime } from '../../server/index.js';
import { onlyPositional, parse, table, write } from '../args.js';
import { block, historyTable, visible } from '../terminal.js';
import { EXIT, type CommandRunner } from '../context.js';
import { operator } from './approve.js';

const USAGE = `usage:
  gatehouse wiki list [--ns NS] [--json]         pages in every namespace (or one): slug, status, version, author
  gatehouse wiki show NS:SLUG [--version N] [--json]
                                                 one page (or one version of it) with who wrote it
  gatehouse wiki history NS:SLUG [--json]        every version: op, author, trust, time, note
  gatehouse wiki revert NS:SLUG --version N      write version N's content as a new version
  gatehouse wiki rm NS:SLUG                      delete (a tombstone: history kept, restorable)
  gatehouse wiki restore NS:SLUG                 bring a deleted page back
  gatehouse wiki purge NS:SLUG                   remove a page and its whole history for good
  gatehouse wiki lint NS [--json]                every finding in a namespace (lint never changes a page)`;

const operatorAuthor = (env: NodeJS.ProcessEnv): Author => ({ name: `operator:${operator(env)}`, trust: 'operator' });

function target(arg: string): { ns: string; slug: string } {
  const i = arg.indexOf(':');
  if (i <= 0)
    throw new GatehouseError('usage', `${JSON.stringify(arg)} is not NS:SLUG`, { hint: 'e.g. ops:runbooks/deploy' });
  return { ns: checkNamespace(arg.slice(0, i)), slug: checkSlug(arg.slice(i + 1)) };
}

const row = (p: WikiPage) => ({
  page: `${visible(p.namespace)}:${visible(p.slug)}`,
  status: p.redirect ? `-> ${visible(p.redirect)}` : p.deleted ? 'deleted' : p.status,
  version: String(p.provenance.version),
  author: visible(p.provenance.author),
  updated: p.provenance.at,
  title: visible(p.title),
});

/**
 * `gatehouse wiki`: the operators' view of the wiki. Operators read every namespace; their changes
 * are versions with trust `operator` and each is an audit record (`cli:wiki.*`).
 */
export const run: CommandRunner = async (args, ctx) => {
  const [sub, ...rest] = args;
  if (!sub || sub === 'help' || sub === '--help') {
    write(ctx.stdout, USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['list', 'show', 'history', 'revert', 'rm', 'restore', 'purge', 'lint'].includes(sub))
    throw new GatehouseError('usage', `unknown wiki command ${JSON.stringify(sub)}`, { hint: USAGE });
  const { values, positionals } = parse(rest, {
    json: { type: 'boolean' },
    ns: { type: 'string' },
    version: { type: 'string' },
  });
  const version = values.version === undefined ? undefined : Number(values.version);
  if (version !== undefined && (!Number.isInteger(version) || version < 1))
    throw new GatehouseError('usage', '--version must be a whole number from 1', { hint: USAGE });
  if (sub === 'revert' && version === undefined)
    throw new GatehouseError('usage', 'wiki revert needs --version N', { hint: USAGE });
  if (sub === 'list' && positionals.length)
    throw new GatehouseError('usage', 'wiki list takes no arguments', { hint: USAGE });
  const arg = sub === 'list' ? '' : onlyPositional(positionals);
  const page = sub === 'list' || sub === 'lint' ? undefined : target(arg);
  if (sub === 'lint') checkNamespace(arg);
  if (values.ns) checkNamespace(values.ns);

  const rt = await bootRuntime({ env: ctx.env });
  try {
    const wiki = rt.wiki;
    const me = operatorAuthor(ctx.env);
    const audit = (what: string, detail: Record<string, unknown>) =>
      rt.gate.event(null, `cli:wiki.${what}`, 'ok', { page: arg, by: me.name, ...detail });
    switch (sub) {
      case 'list': {
        const pages = await wiki.list(values.ns ? [values.ns] : await wiki.namespaces());
        if (values.json) write(ctx.stdout, JSON.stringify(pages, null, 2));
        else if (pages.length === 0) write(ctx.stdout, '(no pages)');
        else write(ctx.stdout, table(pages.map(row), ['page', 'status', 'version', 'author', 'updated', 'title']));
        return EXIT.ok;
      }
      case 'show': {
        const p = version ? await wiki.version(page!.ns, page!.slug, version) : await wiki.read(page!.ns, page!.slug);
        if (values.json) write(ctx.stdout, JSON.stringify(p, null, 2));
        else
          write(
            ctx.stdout,
            `${visible(p.namespace)}:${visible(p.slug)} — ${p.status}, version ${p.provenance.version} by ${visible(p.provenance.author)} [${p.provenance.trust}] at ${p.provenance.at}\n# ${visible(p.title)}\n${p.summary ? `${visible(p.summary)}\n` : ''}\n${block(p.body)}${
              p.sources.length
                ? `\n\nsources:\n${p.sources.map((s) => `  ${visible(JSON.stringify(s))}`).join('\n')}`
                : ''
            }`,
          );
        return EXIT.ok;
      }
      case 'history': {
        const h = await wiki.history(page!.ns, page!.slug);
        if (values.json) write(ctx.stdout, JSON.stringify(h, null, 2));
        else write(ctx.stdout, historyTable(h, table));
        return EXIT.ok;
      }
      case 'revert':
      case 'rm': {
        const cur = await wiki.read(page!.ns, page!.slug);
        const opts = { author: me, expectedVersion: cur.provenance.version };
        const after =
          sub === 'revert'
            ? await wiki.revert(page!.ns, cur.slug, version!, opts)
            : await wiki.delete(page!.ns, cur.slug, opts);
        await audit(sub, { version: after.provenance.version });
        write(ctx.stdout, `${sub === 'rm' ? 'deleted' : 'reverted'} ${arg}: now version ${after.provenance.version}`);
        return EXIT.ok;
      }
      case 'restore':
      case 'purge': {
        const item = await rt.knowledge.lookup('wiki', nsScope(page!.ns), page!.slug);
        if (!item) throw new GatehouseError('not_found', `no page ${arg}`, { hint: 'gatehouse wiki list' });
        if (sub === 'purge') await rt.knowledge.purge(item.id);
        else
          await rt.knowledge.restore(item.id, [item.scope], { author: me, expectedVersion: item.provenance.version });
        await audit(sub, { item: item.id });
        write(ctx.stdout, sub === 'purge' ? `purged ${arg} and its history` : `restored ${arg}`);
        return EXIT.ok;
      }
      case 'lint': {
        const all = await wiki.namespaces();
        const r = await lintWholeNamespace(wiki.all(arg), {
          exists: (t) => {
            const i = t.indexOf(':');
            return wiki
              .read(t.slice(0, i), t.slice(i + 1))
              .then(() => true)
              .catch(() => false);
          },
          knownHosts: await rt.knownHosts(),
          secretIn: (t) => (rt.redactor.scrub(t) === t ? undefined : 'a vault value or a secret-shaped string'),
          now: new Date(),
          linkedFromElsewhere: async (p) => (await wiki.backlinks(all, p.namespace, p.slug)).some((o) => !o.redirect),
        });
        if (values.json) write(ctx.stdout, JSON.stringify(r, null, 2));
        else if (r.total === 0) write(ctx.stdout, `no findings in ${r.pages} pages`);
        else
          write(
            ctx.stdout,
            `${r.total} findings in ${r.pages} pages${r.total > r.findings.length ? ` (the first ${r.findings.length})` : ''}\n${table(
              r.findings.map((f) => ({
                severity: f.severity,
                rule: f.rule,
                page: visible(f.page),
                evidence: visible(f.evidence),
              })),
              ['severity', 'rule', 'page', 'evidence'],
            )}`,
          );
        return EXIT.ok;
      }
      default:
        return EXIT.usage;
    }
  } finally {
    await rt.close();
  }
};
