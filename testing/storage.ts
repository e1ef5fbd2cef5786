import type { DragonflyPlugin } from '../core/contract/plugin.ts'
import type { StorageContext, StorageDriver, StorageFactory } from '../core/contract/storage.ts'
import { assert, type Check, pseudoRandom, runChecks, sameBytes, slotOf } from './checks.ts'

export interface TestStorageOptions {
  /** Passed to the factory; use a fresh temporary directory. */
  context: StorageContext
}

/** The StorageDriver contract: offsets, exact reads, metadata, listing, removal, key checks. */
export async function testStorage(input: DragonflyPlugin | StorageFactory, options: TestStorageOptions): Promise<string[]> {
  const driver: StorageDriver = slotOf<StorageFactory>(input, 'storage')(options.context)
  const key = 'aa'.repeat(32)
  const a = pseudoRandom(3000, 3)
  const b = pseudoRandom(1000, 4)
  const checks: Check[] = [
    [
      'writes at offsets, out of order, and reads them back exactly',
      async () => {
        await driver.writeAt(key, 3000, b)
        await driver.writeAt(key, 0, a)
        assert(sameBytes(await driver.readAt(key, 0, 3000), a), 'first range differs')
        assert(sameBytes(await driver.readAt(key, 3000, 1000), b), 'second range differs')
        assert(sameBytes(await driver.readAt(key, 2990, 20), new Uint8Array([...a.subarray(2990), ...b.subarray(0, 10)])), 'straddling read differs')
      },
    ],
    [
      'rejects a read past the end',
      async () => {
        const failed = await driver.readAt(key, 3500, 1000).then(
          () => false,
          () => true,
        )
        assert(failed, 'readAt past the end resolved')
      },
    ],
    [
      "readInto (when offered) fills the caller's memory exactly, and rejects past the end",
      async () => {
        if (!driver.readInto) return
        const target = new Uint8Array(24).fill(0xee)
        await driver.readInto(key, 2990, target.subarray(2, 22))
        assert(sameBytes(target.subarray(2, 22), new Uint8Array([...a.subarray(2990), ...b.subarray(0, 10)])), 'readInto range differs')
        assert(target[0] === 0xee && target[1] === 0xee && target[22] === 0xee && target[23] === 0xee, 'readInto wrote outside its target')
        assert(
          await driver.readInto(key, 3500, new Uint8Array(1000)).then(
            () => false,
            () => true,
          ),
          'readInto past the end resolved',
        )
      },
    ],
    [
      'keeps JSON metadata; null when absent',
      async () => {
        assert((await driver.getMeta('bb'.repeat(32))) === null, 'getMeta of a missing key is not null')
        await driver.setMeta(key, { have: 'AQ==', n: 2 })
        const meta = await driver.getMeta<{ have: string; n: number }>(key)
        assert(meta?.have === 'AQ==' && meta.n === 2, `metadata read back as ${JSON.stringify(meta)}`)
        assert((await driver.listKeys()).includes(key), 'listKeys misses a key with metadata')
      },
    ],
    [
      'removes blob and metadata; removing twice is fine',
      async () => {
        await driver.remove(key)
        await driver.remove(key)
        assert((await driver.getMeta(key)) === null, 'metadata survived remove')
        assert(
          await driver.readAt(key, 0, 10).then(
            () => false,
            () => true,
          ),
          'content survived remove',
        )
        assert(!(await driver.listKeys()).includes(key), 'listKeys still lists a removed key')
      },
    ],
    [
      'refuses keys that could escape its namespace',
      async () => {
        for (const bad of ['../x', 'a/b', '']) {
          assert(
            await driver.writeAt(bad, 0, b).then(
              () => false,
              () => true,
            ),
            `accepted key ${JSON.stringify(bad)}`,
          )
        }
      },
    ],
  ]
  try {
    return await runChecks(`storage ${driver.name}`, checks)
  } finally {
    await driver.close?.()
  }
}
