// Opened by the concurrency test in a separate process: migrates the store given in argv and exits.
const [modPath, spec] = process.argv.slice(2);
const { openStore } = await import(modPath);
const store = await openStore(JSON.parse(spec));
await store.close();
process.stdout.write('ok\n');
