/** A request refused as a whole, as data: the service turns it into the domain error (src/errors.ts) it names. */
export type Refusal =
  | { kind: 'invalid'; message: string; field: string }
  | { kind: 'not-found'; objectType: string; name: string }
  | { kind: 'conflict'; message: string; details?: unknown }
  /** `roleHelps: false`: no role lifts it (separation of duties, only the requester cancels). */
  | { kind: 'forbidden'; message: string; roleHelps?: boolean };
