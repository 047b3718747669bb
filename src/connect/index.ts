/**
 * Connecting agent clients (issue 17 item 8): the setup each client reads (Claude Code, Cursor,
 * VS Code, Codex; stdio and HTTP), used by `gatehouse connect` and the console's Connect page.
 * Setups name a token file or an environment variable, never a token.
 */
export {
  CLIENTS,
  TOKEN_ENV,
  clientSetup,
  isClientKind,
  type ClientKind,
  type ClientSetup,
  type ConnectTarget,
} from './configs.js';
