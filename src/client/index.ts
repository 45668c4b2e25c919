/** hoist's API client: generated types, the client, its one error type, and signing in for a token. */
export { ApiError } from './api-error.ts';
export { CSRF_HEADER, HoistClient, type HoistClientOptions } from './hoist-client.ts';
export { signInForToken } from './sign-in.ts';
export type * from './types.ts';
