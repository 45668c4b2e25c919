/** Validation results: a value, or an error that says what was wrong and where. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };
