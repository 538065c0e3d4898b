/**
 * A warning when a run dead-letters almost everything it reads: most often the configuration does not match the
 * input (a wrong `--dimension`, `--format` or `--fields`), and the run would otherwise go on quietly filling the
 * dead-letter topic.
 *
 * @module
 */
import type { Logger } from 'pino';

/** Options of {@link DeadLetterWatch}. */
export interface DeadLetterWatchOptions {
  readonly logger: Logger;
  /** Records read so far. */
  readonly consumed: () => number;
  /** The dead-letter topic, named in the warning. */
  readonly topic: string;
  /** Records read before the share is judged (default 1000). */
  readonly minRecords?: number;
  /** The share of dead letters that warns (default 0.9). */
  readonly share?: number;
}

/**
 * Counts dead letters by reason and warns once, with the most common reason and one of its messages, when at least
 * `share` of at least `minRecords` records read were dead-lettered.
 */
export class DeadLetterWatch {
  private readonly reasons = new Map<string, { count: number; message: string }>();
  private total = 0;
  private warned = false;

  /** @param options - logger, the records read, thresholds */
  constructor(private readonly options: DeadLetterWatchOptions) {}

  /** One dead letter, with its reason and message. */
  note(reason: string, message: string): void {
    this.total++;
    const entry = this.reasons.get(reason);
    if (entry === undefined) this.reasons.set(reason, { count: 1, message });
    else entry.count++;
    if (this.warned) return;
    const consumed = this.options.consumed();
    if (consumed < (this.options.minRecords ?? 1000) || this.total < (this.options.share ?? 0.9) * consumed) return;
    this.warned = true;
    const [top, { count, message: example }] = [...this.reasons].sort((a, b) => b[1].count - a[1].count)[0];
    this.options.logger.warn(
      { deadLettered: this.total, consumed, reasons: Object.fromEntries([...this.reasons].map(([r, e]) => [r, e.count])) },
      `${this.total} of ${consumed} records read were dead-lettered, ${count} as ${top} (${example}): the configuration probably does not match the input; ` +
        `check --dimension, --format and --fields against what the producer writes (the messages are on ${JSON.stringify(this.options.topic)})`,
    );
  }
}
