/**
 * hoist's version, read from package.json: the one place it is written. The CLI's `--version`, the OpenAPI document
 * and `/healthz` answer it; the bundle (dist/) carries it from the build.
 */
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;
