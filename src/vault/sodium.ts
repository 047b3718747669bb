import sodiumModule from 'libsodium-wrappers-sumo';

/** The libsodium API, once its WASM is ready. The sumo build is needed for argon2id (crypto_pwhash). */
export type Sodium = typeof sodiumModule;

let readyPromise: Promise<Sodium> | undefined;

export function getSodium(): Promise<Sodium> {
  readyPromise ??= sodiumModule.ready.then(() => sodiumModule);
  return readyPromise;
}
