/**
 * The command line's entry (dist/hoist.mjs). `hoist copy ...` runs copy-main.ts, bundled on its own into one module
 * (dist/hoist-copy.mjs; scripts/build.mjs): a copy is often over in a few requests, so its start-up is most of its
 * time, and it need not load or define the other commands. Anything else runs the whole command line (main.ts).
 */
if (process.argv[2] === 'copy') await import('./copy-main.ts');
else await import('./main.ts');
