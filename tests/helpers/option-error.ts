import { expect } from 'vitest'
import { DragonflyError } from '../../core/errors.ts'

/** The message of the E_PLUGIN error `make` throws for bad options; fails the test when it throws nothing or something else. */
export function optionError(make: () => unknown): string {
  let thrown: unknown
  try {
    make()
  } catch (error) {
    thrown = error
  }
  expect(thrown, 'no error for bad options').toBeInstanceOf(DragonflyError)
  expect((thrown as DragonflyError).code).toBe('E_PLUGIN')
  return (thrown as DragonflyError).message
}
