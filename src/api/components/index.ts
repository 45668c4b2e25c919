/** Every component, imported once so that all are declared before the server registers them. */
export * from './accounts.ts';
export * from './artifacts.ts';
export * from './audit.ts';
export * from './automation.ts';
export * from './error.ts';
export * from './policies.ts';
export * from './projects.ts';
export * from './promotions.ts';
export * from './signing.ts';
export * from './releases.ts';
export * from './sso.ts';
export * from './trust.ts';
export * from './webhooks.ts';
// After promotions.ts, whose PromotionState it uses: the document lists components in declaration order.
export * from './board.ts';
export { hoistComponents } from './component.ts';
