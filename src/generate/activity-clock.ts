/**
 * Wall-clock shape of the real log: activity by hour of day (low at night, flat from 09:00 to
 * 21:00) and by day of week (Monday and Tuesday busiest, Saturday quietest). Relative weights,
 * from the hourly and weekday event counts of the reference log (71 days, 19k events).
 */
const HOUR_WEIGHTS = [17, 11, 7, 2, 22, 37, 52, 70, 105, 114, 117, 117, 118, 117, 107, 130, 107, 105, 124, 127, 117, 89, 61, 28] as const;
/** Monday .. Sunday. */
const WEEKDAY_WEIGHTS = [100, 103, 83, 86, 72, 60, 74] as const;

const SECONDS_PER_HOUR = 3600;
export const SECONDS_PER_DAY = 86_400;

/**
 * Maps "activity time" to wall-clock time. Activity time runs at a uniform rate over the period
 * (0 .. days x 86,400 seconds), so the generator can draw durations and positions with simple
 * distributions; the mapping is monotone, so the order of a professional's events is kept, and it
 * stretches quiet hours and compresses busy ones so timestamps get the real daily and weekly rhythm.
 */
export class ActivityClock {
  /** Wall-clock seconds of the period (= total activity seconds). */
  readonly length: number;
  /** cumulative[h] = activity seconds before wall-clock hour h of the period; cumulative[hours] = length. */
  private readonly cumulative: Float64Array;
  private readonly hours: number;

  constructor(firstDayEpochSeconds: number, days: number) {
    this.hours = days * 24;
    this.length = days * SECONDS_PER_DAY;
    const weights = new Float64Array(this.hours);
    let total = 0;
    const firstWeekday = (new Date(firstDayEpochSeconds * 1000).getUTCDay() + 6) % 7; // 0 = Monday
    for (let h = 0; h < this.hours; h++) {
      const weekday = (firstWeekday + Math.floor(h / 24)) % 7;
      const w = (HOUR_WEIGHTS[h % 24] as number) * (WEEKDAY_WEIGHTS[weekday] as number);
      weights[h] = w;
      total += w;
    }
    this.cumulative = new Float64Array(this.hours + 1);
    const scale = this.length / total;
    let sum = 0;
    for (let h = 0; h < this.hours; h++) {
      this.cumulative[h] = sum;
      sum += (weights[h] as number) * scale;
    }
    this.cumulative[this.hours] = this.length;
  }

  /** Whole wall-clock seconds since the start of the period for an activity time in [0, length). */
  toWall(activity: number): number {
    if (activity <= 0) return 0;
    if (activity >= this.length) return this.length - 1;
    const c = this.cumulative;
    let lo = 0;
    let hi = this.hours - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((c[mid] as number) <= activity) lo = mid;
      else hi = mid - 1;
    }
    const from = c[lo] as number;
    const to = c[lo + 1] as number;
    return Math.min(this.length - 1, lo * SECONDS_PER_HOUR + Math.floor(((activity - from) / (to - from)) * SECONDS_PER_HOUR));
  }
}
