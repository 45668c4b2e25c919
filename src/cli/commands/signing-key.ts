/** `hoist signing-key list|rotate`: the public keys of hoist's promotion attestations, and rotating the key. */
import { client } from '../client-config.ts';
import { outputFormat, print } from '../output.ts';

type Out = { output?: string };

export const signingKey = {
  list: async (f: Out): Promise<void> => {
    const keys = await client().signingKeys.list();
    if (outputFormat(f.output) !== 'table') return print(keys, outputFormat(f.output));
    for (const k of keys)
      process.stdout.write(
        `${k.keyId} ${k.current ? 'current' : `retired ${k.retiredAt ?? ''}`} (${k.algorithm}, ${k.source}, since ${k.createdAt})\n${k.publicKey}\n`,
      );
  },
  rotate: async (f: Out): Promise<void> => {
    const k = await client().signingKeys.rotate();
    if (outputFormat(f.output) !== 'table') return print(k, outputFormat(f.output));
    process.stdout.write(`now signing with ${k.keyId}\n${k.publicKey}\n`);
  },
};
