/**
 * The component book: the per-component bookkeeping of a streaming model, one row per component, rows that
 * move together when components are reordered, split or merged.
 *
 * @module
 */

/** One component's bookkeeping. */
export interface ComponentRow {
  /** The label emitted for its points (stable across restarts, splits and merges). */
  label: number;
  /** The first window at which it may be re-seeded again. */
  cooldown: number;
  /** The current back-off (windows) after a rejected or reverted re-seed. */
  backoff: number;
}

/** The JSON form of a book (the per-component part of the streaming state). */
export interface ComponentBookJSON {
  readonly labels: number[];
  readonly nextLabel: number;
  readonly cooldown: number[];
  readonly backoff: number[];
}

/**
 * Per-component rows (label, re-seed cool-down and back-off) and the next free label.
 *
 * 1. {@link ComponentBook.identity}: K rows labelled 0…K−1, nothing pending;
 * 2. {@link ComponentBook.permute}: rows reordered with the components (new j = old perm[j]);
 * 3. {@link ComponentBook.append}: a new component (a split on the stream) with a new label;
 * 4. {@link ComponentBook.merge}: rows i and j become row i with the label given, row j removed.
 */
export class ComponentBook {
  private rows: ComponentRow[];
  private next: number;

  private constructor(rows: ComponentRow[], nextLabel: number) {
    this.rows = rows;
    this.next = nextLabel;
  }

  /** K fresh rows labelled 0…K−1. */
  static identity(k: number): ComponentBook {
    return new ComponentBook(
      Array.from({ length: k }, (_, i) => ({ label: i, cooldown: 0, backoff: 1 })),
      k,
    );
  }

  /** A book from its JSON form (checked by the state's validation). */
  static fromJSON(json: ComponentBookJSON): ComponentBook {
    return new ComponentBook(
      json.labels.map((label, i) => ({ label, cooldown: json.cooldown[i], backoff: json.backoff[i] })),
      json.nextLabel,
    );
  }

  toJSON(): ComponentBookJSON {
    return {
      labels: this.rows.map((r) => r.label),
      nextLabel: this.next,
      cooldown: this.rows.map((r) => r.cooldown),
      backoff: this.rows.map((r) => r.backoff),
    };
  }

  /** A deep copy (to restore after a window that fails). */
  clone(): ComponentBook {
    return new ComponentBook(
      this.rows.map((r) => ({ ...r })),
      this.next,
    );
  }

  /** Number of rows (K). */
  get k(): number {
    return this.rows.length;
  }

  /** The label the next new component gets. */
  get nextLabel(): number {
    return this.next;
  }

  /** Component index → label. */
  labels(): number[] {
    return this.rows.map((r) => r.label);
  }

  /** Whether every component's label is its index (labels then need no mapping). */
  isIdentity(): boolean {
    return this.rows.every((r, i) => r.label === i);
  }

  /** The row of component k (mutable). */
  row(k: number): ComponentRow {
    return this.rows[k];
  }

  /** The component of a label, or −1. */
  indexOf(label: number): number {
    return this.rows.findIndex((r) => r.label === label);
  }

  /** Rows reordered: new row j is old row perm[j]. */
  permute(perm: ArrayLike<number>): void {
    this.rows = Array.from({ length: this.rows.length }, (_, j) => this.rows[perm[j]]);
  }

  /** Appends a row for a new component with a new label; returns the label. */
  append(cooldown: number): number {
    const label = this.next++;
    this.rows.push({ label, cooldown, backoff: 1 });
    return label;
  }

  /** Rows i and j (i < j) become row i labelled `label`; row j is removed. */
  merge(i: number, j: number, label: number): void {
    this.rows[i].label = label;
    this.rows.splice(j, 1);
  }
}
