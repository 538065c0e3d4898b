/**
 * Buffers already checked value by value where they were built (every value finite, |x| ≤ `MAX_ABS_VALUE`) and
 * never written again by whoever built them: `windowVectors` marks the windows it emits, so a window's fit does
 * not scan its n·d values a second time (`checkDataset`). Only the library marks buffers; a buffer a caller
 * builds is always checked. (With `reuseBuffers`, windowVectors writes a window's memory again only after moving it
 * away from the marked array, which is then detached: the marked array itself is never written again.)
 *
 * @module
 */

const checked = new WeakSet<object>();

/** Marks `buffer` as checked (call only after every value passed the gate, and only for a buffer no one writes again). */
export function markChecked(buffer: Float64Array): void {
  checked.add(buffer);
}

/** Whether `buffer` was marked by {@link markChecked}. */
export function isChecked(buffer: ArrayLike<number>): boolean {
  return typeof buffer === 'object' && checked.has(buffer as object);
}
