/**
 * Errors are mapped once: to HTTP answers (src/api/http-errors.ts) and to exit codes (src/cli/exit-codes.ts). A
 * registry that breaks the protocol is the registry's fault (502), not ours (500); a bad hook secret given by an admin
 * is bad input (400), not a failed sign-in (401); a refusal has its own exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpError } from '../../src/api/http-errors.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, exitCodeFor } from '../../src/cli/exit-codes.ts';
import {
  ApiError,
  DigestMismatch,
  InvalidInput,
  NetworkError,
  ProtocolError,
  RegistryError,
  Unauthenticated,
} from '../../src/errors.ts';
import { startApi } from '../helpers/api.ts';

test('domain errors become HTTP statuses in one place; ProtocolError is a bad gateway', () => {
  const cases: Array<[unknown, number, string]> = [
    [new InvalidInput('bad', 'field'), 400, 'INVALID_INPUT'],
    [new Unauthenticated('who?'), 401, 'UNAUTHENTICATED'],
    [new ProtocolError('GET manifest sent 5 MiB of JSON'), 502, 'PROTOCOL_ERROR'],
    [new RegistryError('GET manifest', 404, []), 502, 'REGISTRY_ERROR'],
    [new NetworkError('GET blob', new Error('reset')), 502, 'NETWORK_ERROR'],
    [new DigestMismatch('blob', 'sha256:a', 'sha256:b'), 502, 'DIGEST_MISMATCH'],
    [new Error('a bug'), 500, 'INTERNAL'],
  ];
  for (const [error, status, code] of cases) {
    const answer = httpError(error);
    assert.deepEqual([answer.status, answer.body.error.code], [status, code], String(error));
  }
});

test('exit codes: usage 2, failure 1, and refused (3) is none of the others', () => {
  assert.equal(exitCodeFor(new InvalidInput('bad')), EXIT_USAGE);
  assert.equal(exitCodeFor(new ApiError(400, 'VALIDATION_FAILED', 'bad')), EXIT_USAGE);
  assert.equal(exitCodeFor(new NetworkError('GET /api/v1/me', new Error('ECONNREFUSED'))), EXIT_FAILURE);
  assert.equal(exitCodeFor(new ApiError(500, 'INTERNAL', 'oops')), EXIT_FAILURE);
  assert.equal(new Set([EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REFUSED]).size, 4);
});

test('a hook secret that is too short is bad input (400), whoever asks and before any lookup', async () => {
  const api = await startApi('pglite');
  try {
    const refused = await api.services.intake
      .setSecret({ username: 'root' }, 'no-such-registry', 'distribution', 'short')
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(refused instanceof InvalidInput, String(refused));
    assert.equal(httpError(refused).status, 400);
  } finally {
    await api.close();
  }
});
