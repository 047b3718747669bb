/**
 * Issue 14 item 8: every guard property runs from a fixed seed, so a failure in CI is a
 * counterexample anyone can replay (`GUARD_PROP_SEED=N npx vitest run test/guard/FILE`); fast-check
 * prints the seed and the shrunk counterexample when one fails. A counterexample found once
 * becomes a named test beside the property.
 */
export const PROP_SEED = Number(process.env.GUARD_PROP_SEED ?? 20_261_206);

/**
 * A property's time budget on a loaded 2-core machine (CI runs two test files at once beside
 * sshd, PostgreSQL and bubblewrap): several times what it takes alone, so a slow run is never
 * mistaken for a failure, and a real counterexample is never hidden by a timeout.
 */
export const PROP_TIMEOUT = 240_000;
