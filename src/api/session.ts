/** The browser session cookie and the CSRF header that must accompany its mutating calls. */
export const SESSION_COOKIE = 'hoist_session';
export const CSRF_HEADER = 'x-csrf-token';
