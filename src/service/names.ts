/**
 * The name of a project, registry, environment, policy or rule: 1-63 lower-case letters, digits and "-", starting
 * with a letter or digit. One definition for the API schemas, the services, the config file and the CLI.
 */

/** Regular-expression source, for API schemas. */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
export const NAME = new RegExp(NAME_PATTERN);
export const NAME_HINT = 'use 1-63 lower-case letters, digits and "-"';
