import { allTools } from '../tools/index.js';
import { Runtime, type RuntimeOptions } from './runtime.js';

/** Opens a full runtime for this process with the whole tool set. */
export async function bootRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  const runtime = await Runtime.open(opts);
  runtime.tools = allTools();
  return runtime;
}
