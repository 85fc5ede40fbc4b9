/**
 * The reference implementation the snapshot is compared with (test/reference/), checked on
 * hand-made logs whose answers follow from docs/availability.md, and run as the command the
 * Airflow tests use.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEventLog, referenceSnapshot } from '../reference/availability-snapshot.mjs';

const HEADER = 'event_id;event_type;professional_id_anonymized;created_at;meta_data';
const SCRIPT = path.resolve('test/reference/availability-snapshot.mjs');

function counts(lines: string[], from: string, to: string): [number, number][] {
  const days = referenceSnapshot(parseEventLog([HEADER, ...lines].join('\n')), from, to);
  return days.map((d) => [d.active, d.ableAtAnyMoment]);
}

describe('availability reference', () => {
  it('only availability events change the state', () => {
    expect(counts(['1;created_account;7;2020-01-01 08:00:00;', '2;proposed;7;2020-01-01 09:00:00;12_schilderen_painting_5.00'], '2020-01-01', '2020-01-01')).toEqual([[0, 0]]);
  });

  it('becoming able then unable within a day counts only as able at any moment', () => {
    const log = ['1;became_able_to_propose;7;2020-01-02 08:00:00;', '2;became_unable_to_propose;7;2020-01-02 17:00:00;'];
    expect(counts(log, '2020-01-01', '2020-01-03')).toEqual([[0, 0], [0, 1], [0, 0]]);
  });

  it('able at the start of a day counts even if unable later that day', () => {
    const log = [
      '1;became_able_to_propose;7;2020-01-01 08:00:00;',
      '2;became_unable_to_propose;7;2020-01-02 10:00:00;',
      '3;became_able_to_propose;8;2020-01-02 23:59:59;',
    ];
    expect(counts(log, '2020-01-01', '2020-01-03')).toEqual([[1, 1], [1, 2], [1, 1]]);
  });

  it('events at the same instant are ordered by event id', () => {
    // Listed out of order on purpose: event 11 is the later one.
    const log = ['11;became_unable_to_propose;7;2020-01-01 12:00:00;', '10;became_able_to_propose;7;2020-01-01 12:00:00;'];
    expect(counts(log, '2020-01-01', '2020-01-02')).toEqual([[0, 1], [0, 0]]);
  });

  it('an event at midnight belongs to the day it starts', () => {
    expect(counts(['1;became_able_to_propose;7;2020-01-02 00:00:00;'], '2020-01-01', '2020-01-02')).toEqual([[0, 0], [1, 1]]);
  });

  it('an event delivered twice counts once; a conflicting repeat is an error', () => {
    const event = '1;became_able_to_propose;7;2020-01-01 08:00:00;';
    expect(parseEventLog([HEADER, event, event].join('\n'))).toHaveLength(1);
    expect(() => parseEventLog([HEADER, event, '1;became_unable_to_propose;7;2020-01-01 08:00:00;'].join('\n'), 'log.csv')).toThrow('log.csv:3: event_id 1 repeated with other content');
  });

  it('runs as a command that prints the days as JSON', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'instapro-reference-'));
    const file = path.join(dir, 'event_log.csv');
    writeFileSync(file, [HEADER, '1;became_able_to_propose;7;2020-01-01 08:00:00;', ''].join('\n'));
    const printed = JSON.parse(execFileSync(process.execPath, [SCRIPT, file, '2020-01-01', '2020-01-02'], { encoding: 'utf8' }));
    expect(printed).toEqual([
      { date: '2020-01-01', active: 1, ableAtAnyMoment: 1 },
      { date: '2020-01-02', active: 1, ableAtAnyMoment: 1 },
    ]);
  });
});
