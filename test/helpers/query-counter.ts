/**
 * A Kysely plugin that counts the statements sent to the database (each is one round trip; a transaction adds its
 * BEGIN and COMMIT, which the driver sends without the plugin seeing them).
 */
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

export class QueryCounter implements KyselyPlugin {
  count = 0;

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }

  /** Statements run by `fn`. */
  async during(fn: () => Promise<unknown>): Promise<number> {
    const before = this.count;
    await fn();
    return this.count - before;
  }
}
