/**
 * Where services read the time for decisions that wait on it (soak times, windows). Production uses the system clock;
 * tests pass one they can move forward instead of sleeping until a soak time has passed.
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
