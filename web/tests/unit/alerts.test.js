// Alerts: reading the answer (contract shape), grouping per host, the panel's and the fleet
// column's texts, and the fleet's order with alerts.
import { describe, expect, it } from 'vitest';
import {
  alertCounts,
  alertsByHost,
  badgeText,
  clockText,
  conditionText,
  countsText,
  DISABLED_TEXT,
  formatMetricValue,
  labelsText,
  NO_ALERTS,
  panelStatus,
  parseAlerts,
  severityText,
  sinceText,
  sortAlerts,
  stateText,
  timesTitle,
} from '../../app/lib/alerts.js';
import { DEFAULT_SORT, FLEET_COLUMNS, fleetSummary, parseFleet, sortFleet } from '../../app/lib/fleet.js';
import { alertsAnswer, fleetAnswer, T0 } from './fixtures.js';

const iso = (s) => new Date(s * 1000).toISOString();
const keys = (list) => list.map((a) => `${a.host}/${a.rule}/${a.state}`);

const answer = alertsAnswer(
  [
    { host: 'vm-1', rule: 'HostHighCpu' },
    { host: 'vm-1', rule: 'HostHighRam', severity: 'warning', metric: 'ram', threshold: 80, clear: null, value: 82 },
    { host: 'vm-2', rule: 'HostHighLoad', severity: 'warning', metric: 'load_per_core', threshold: 1.5, clear: 1, value: 2.125 },
    { host: 'vm-1', rule: 'Zombies', state: 'pending', severity: 'info', metric: 'zombies', op: '>=', threshold: 1, clear: null, value: 3, fired_at: null, active_at: iso(T0 - 12) },
    { host: 'vm-3', rule: 'HostStale', severity: 'critical', metric: 'stale', op: null, threshold: null, clear: null, value: null },
    { host: 'bad host', rule: 'HostHighCpu' },
    { host: 'vm-4', rule: '' },
  ],
  [
    { host: 'vm-2', rule: 'HostHighRam', resolved_at: iso(T0 - 900) },
    { host: 'vm-1', rule: 'HostHighSwap', metric: 'swap', resolved_at: iso(T0 - 300) },
  ],
);

describe('parseAlerts', () => {
  it('reads the contract shape; drops entries without a valid host or rule name', () => {
    const a = parseAlerts(answer);
    expect(a.enabled).toBe(true);
    expect(a.rules).toBe(3);
    expect(a.serverMs).toBe(T0 * 1000);
    expect(a.rejected).toBe(2);
    expect(a.active).toHaveLength(5);
    const cpu = a.active.find((x) => x.rule === 'HostHighCpu');
    expect(cpu).toEqual({
      rule: 'HostHighCpu',
      host: 'vm-1',
      state: 'firing',
      severity: 'critical',
      metric: 'cpu',
      op: '>',
      threshold: 90,
      clear: 85.5,
      value: 97.5,
      activeMs: (T0 - 120) * 1000,
      firedMs: (T0 - 60) * 1000,
      resolvedMs: null,
      summary: 'CPU above 90 %',
      labels: [['team', 'infra']],
    });
    const stale = a.active.find((x) => x.metric === 'stale');
    expect(stale).toMatchObject({ op: null, threshold: null, clear: null, value: null });
    expect(() => parseAlerts({})).toThrow(/no alerts list/);
    expect(() => parseAlerts(null)).toThrow(/no alerts list/);
  });

  it('active in the contract order (firing, severity, host, rule); resolved newest first', () => {
    const a = parseAlerts(answer);
    expect(keys(a.active)).toEqual(['vm-1/HostHighCpu/firing', 'vm-3/HostStale/firing', 'vm-1/HostHighRam/firing', 'vm-2/HostHighLoad/firing', 'vm-1/Zombies/pending']);
    expect(keys(a.resolved)).toEqual(['vm-1/HostHighSwap/resolved', 'vm-2/HostHighRam/resolved']);
  });

  it('without rules: enabled false and empty lists; a missing resolved list is empty', () => {
    const off = parseAlerts({ server_time: iso(T0), enabled: false, rules: 0, alerts: [], resolved: [] });
    expect(off).toMatchObject({ enabled: false, rules: 0, active: [], resolved: [] });
    expect(parseAlerts({ enabled: true, alerts: [] }).resolved).toEqual([]);
  });

  it('labels: strings and numbers kept, sorted by name; anything else dropped', () => {
    const a = parseAlerts(alertsAnswer([{ host: 'vm-1', rule: 'R', labels: { z: 'last', a: 1, o: { no: 1 } } }]));
    expect(a.active[0].labels).toEqual([['a', '1'], ['z', 'last']]);
    expect(labelsText(a.active[0])).toBe('a=1 · z=last');
    expect(labelsText(parseAlerts(alertsAnswer([{ host: 'vm-1', rule: 'R', labels: null }])).active[0])).toBe('');
  });
});

describe('sortAlerts', () => {
  it('others after info; ties by host then rule; a new array', () => {
    const a = parseAlerts(
      alertsAnswer([
        { host: 'b', rule: 'X', severity: 'page-me' },
        { host: 'b', rule: 'A', severity: 'info' },
        { host: 'a', rule: 'Y', severity: 'info' },
        { host: 'a', rule: 'P', severity: 'critical', state: 'pending' },
      ]),
    ).active;
    expect(keys(a)).toEqual(['a/Y/firing', 'b/A/firing', 'b/X/firing', 'a/P/pending']);
    const rev = [...a].reverse();
    const sorted = sortAlerts(rev);
    expect(sorted).not.toBe(rev);
    expect(keys(sorted)).toEqual(keys(a));
  });
});

describe('alertsByHost', () => {
  it('groups active and resolved alerts per host with firing and pending counts', () => {
    const g = alertsByHost(parseAlerts(answer));
    expect([...g.keys()].sort()).toEqual(['vm-1', 'vm-2', 'vm-3']);
    const vm1 = g.get('vm-1');
    expect({ firing: vm1.firing, pending: vm1.pending }).toEqual({ firing: 2, pending: 1 });
    expect(keys(vm1.active)).toEqual(['vm-1/HostHighCpu/firing', 'vm-1/HostHighRam/firing', 'vm-1/Zombies/pending']);
    expect(keys(vm1.resolved)).toEqual(['vm-1/HostHighSwap/resolved']);
    expect(g.get('vm-2')).toMatchObject({ firing: 1, pending: 0 });
    expect(keys(g.get('vm-2').resolved)).toEqual(['vm-2/HostHighRam/resolved']);
    expect(alertCounts(vm1.active)).toEqual({ firing: 2, pending: 1 });
    expect(alertsByHost(parseAlerts(alertsAnswer([]))).size).toBe(0);
  });
});

describe('texts', () => {
  it('counts: firing and pending in words, — when none or unknown', () => {
    expect(countsText({ firing: 2, pending: 1 })).toBe('2 firing · 1 pending');
    expect(countsText({ firing: 1, pending: 0 })).toBe('1 firing');
    expect(countsText({ firing: 0, pending: 3 })).toBe('3 pending');
    expect(countsText({ firing: 0, pending: 0 })).toBe('—');
    expect(countsText(null)).toBe('—');
    expect(countsText(NO_ALERTS)).toBe('—');
    expect(countsText({ firing: 1200, pending: 0 })).toBe('1\u2009200 firing');
  });

  it('state and severity in words (with a symbol)', () => {
    expect(stateText('firing')).toBe('FIRING');
    expect(stateText('pending')).toBe('pending');
    expect(stateText('resolved')).toBe('resolved');
    expect(severityText('critical')).toBe('✖ critical');
    expect(severityText('warning')).toBe('▲ warning');
    expect(severityText('info')).toBe('ℹ info');
    expect(severityText('page-me')).toBe('• page-me');
  });

  it('values: percent with %, counts as integers, load with 2 decimals, stale in words', () => {
    expect(formatMetricValue('cpu', 97.54)).toBe('97.5 %');
    expect(formatMetricValue('ram', 80)).toBe('80.0 %');
    expect(formatMetricValue('swap', 0)).toBe('0.0 %');
    expect(formatMetricValue('zombies', 3)).toBe('3');
    expect(formatMetricValue('disk_sleep', 2.6)).toBe('3');
    expect(formatMetricValue('load1', 4)).toBe('4.00');
    expect(formatMetricValue('load_per_core', 2.125)).toBe('2.13');
    expect(formatMetricValue('stale', null)).toBe('no recent samples');
    expect(formatMetricValue('cpu', null)).toBe('–');
    expect(formatMetricValue('something_new', 1.23456)).toBe('1.23');
  });

  it('value against the rule: op, threshold, clear; stale in words', () => {
    const a = parseAlerts(answer).active;
    const by = (rule) => a.find((x) => x.rule === rule);
    expect(conditionText(by('HostHighCpu'))).toBe('CPU 97.5 % (threshold > 90.0 %, clears past 85.5 %)');
    expect(conditionText(by('HostHighRam'))).toBe('RAM 82.0 % (threshold > 80.0 %)');
    expect(conditionText(by('HostHighLoad'))).toBe('load / core 2.13 (threshold > 1.50, clears past 1.00)');
    expect(conditionText(by('Zombies'))).toBe('zombies 3 (threshold >= 1)');
    expect(conditionText(by('HostStale'))).toBe('host stale: no recent samples');
    expect(conditionText({ ...by('HostHighCpu'), value: null })).toBe('CPU – (threshold > 90.0 %, clears past 85.5 %)');
    // no hysteresis: the broadcaster sends clear = threshold, nothing to add
    expect(conditionText({ ...by('HostHighCpu'), clear: 90 })).toBe('CPU 97.5 % (threshold > 90.0 %)');
  });

  it('since when, against server_time; absolute local times for the tooltip', () => {
    const a = parseAlerts(answer);
    const cpu = a.active[0];
    expect(sinceText(cpu, a.serverMs)).toBe('firing for 1 min');
    expect(sinceText(a.active.find((x) => x.state === 'pending'), a.serverMs)).toBe('pending for 12 s');
    expect(sinceText(a.resolved[0], a.serverMs)).toBe('resolved 5 min ago');
    expect(sinceText(cpu, NaN)).toBe('firing');
    // a firing alert without fired_at counts from active_at
    expect(sinceText({ ...cpu, firedMs: null }, a.serverMs)).toBe('firing for 2 min');
    expect(timesTitle(cpu)).toBe(`active since ${clockText((T0 - 120) * 1000)} · fired ${clockText((T0 - 60) * 1000)} (local time)`);
    expect(timesTitle(a.resolved[0])).toMatch(/· resolved \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(local time\)$/);
    const d = new Date(2026, 11, 1, 9, 5, 7);
    expect(clockText(d.getTime())).toBe('2026-12-01 09:05:07');
  });

  it('panel status: loading, not configured, no host, none, counts; badge only with active alerts', () => {
    const a = parseAlerts(answer);
    const g = alertsByHost(a);
    expect(panelStatus(null, null)).toBe('loading alerts…');
    const off = parseAlerts({ enabled: false, rules: 0, alerts: [], resolved: [] });
    expect(panelStatus(off, NO_ALERTS)).toBe(DISABLED_TEXT);
    expect(DISABLED_TEXT).toMatch(/not configured.*--alert-rules/);
    expect(panelStatus(a, null)).toBe('waiting for a host');
    expect(panelStatus(a, NO_ALERTS)).toBe('No active alerts');
    expect(panelStatus(a, g.get('vm-1'))).toBe('2 firing · 1 pending');
    expect(badgeText(g.get('vm-1'))).toBe('✖ 2 firing · 1 pending');
    const pendingOnly = alertsByHost(parseAlerts(alertsAnswer([{ host: 'vm-9', rule: 'R', state: 'pending', fired_at: null }]))).get('vm-9');
    expect(badgeText(pendingOnly)).toBe('◷ 1 pending');
    expect(badgeText(NO_ALERTS)).toBe('');
    expect(badgeText(null)).toBe('');
  });
});

describe('fleet with alerts', () => {
  const fleet = fleetAnswer([
    { host: 'calm', cpu: 5, ram: 5 },
    { host: 'busy', cpu: 95, ram: 20 },
    { host: 'one', cpu: 10, ram: 10 },
    { host: 'two', cpu: 1, ram: 1 },
    { host: 'waiting', cpu: 60, ram: 1 },
    { host: 'gone', cpu: 1, ram: 1, stale: true },
  ]);
  const alerts = alertsByHost(
    parseAlerts(
      alertsAnswer([
        { host: 'two', rule: 'A' },
        { host: 'two', rule: 'B' },
        { host: 'one', rule: 'A' },
        { host: 'one', rule: 'P', state: 'pending', fired_at: null },
        { host: 'waiting', rule: 'P', state: 'pending', fired_at: null },
        { host: 'not-in-fleet', rule: 'A' },
      ]),
    ),
  );
  const col = FLEET_COLUMNS.find((c) => c.key === 'alerts');
  const hostsOf = (rows) => rows.map((r) => r.host);

  it('rows carry their counts; the column says them in words, — when none or unknown', () => {
    const rows = parseFleet(fleet, alerts).rows;
    const text = Object.fromEntries(rows.map((r) => [r.host, col.text(r)]));
    expect(text).toEqual({ calm: '—', busy: '—', one: '1 firing · 1 pending', two: '2 firing', waiting: '1 pending', gone: '—' });
    expect(rows.filter((r) => col.alert(r)).map((r) => r.host).sort()).toEqual(['one', 'two']);
    expect(rows.find((r) => r.host === 'calm').alerts).toEqual({ firing: 0, pending: 0 });
    // Unknown (request failed, or no rules): null, shown as —, never marked.
    const unknown = parseFleet(fleet).rows;
    expect(unknown.every((r) => r.alerts === null && col.text(r) === '—' && !col.alert(r))).toBe(true);
  });

  it('worst first: stale, then more firing alerts, then the highest of CPU/RAM', () => {
    const rows = parseFleet(fleet, alerts).rows;
    expect(hostsOf(sortFleet(rows, DEFAULT_SORT.key, DEFAULT_SORT.dir))).toEqual(['gone', 'two', 'one', 'busy', 'waiting', 'calm']);
    // Without alert data the order is the old one.
    expect(hostsOf(sortFleet(parseFleet(fleet).rows, DEFAULT_SORT.key, DEFAULT_SORT.dir))).toEqual(['gone', 'busy', 'waiting', 'one', 'calm', 'two']);
  });

  it('the alerts column sorts by firing, then pending; unknown last either way', () => {
    const rows = parseFleet(fleet, alerts).rows;
    expect(col.first).toBe('desc');
    expect(hostsOf(sortFleet(rows, 'alerts'))).toEqual(['two', 'one', 'waiting', 'busy', 'calm', 'gone']);
    expect(hostsOf(sortFleet(rows, 'alerts', 'asc'))).toEqual(['busy', 'calm', 'gone', 'waiting', 'one', 'two']);
    const mixed = [...parseFleet(fleet).rows.slice(0, 2), ...rows.slice(2)];
    expect(hostsOf(sortFleet(mixed, 'alerts')).slice(-2)).toEqual(['busy', 'calm']);
    expect(hostsOf(sortFleet(mixed, 'alerts', 'asc')).slice(-2)).toEqual(['busy', 'calm']);
  });

  it('summary: hosts with firing alerts, or why the alerts are unknown', () => {
    const rows = parseFleet(fleet, alerts).rows;
    expect(fleetSummary(rows)).toBe('6 hosts · 1 stale');
    expect(fleetSummary(rows, { state: 'ok' })).toBe('6 hosts · 1 stale · 2 hosts with firing alerts');
    expect(fleetSummary(rows.slice(0, 3), { state: 'ok' })).toBe('3 hosts · 0 stale · 1 host with firing alerts');
    expect(fleetSummary(rows, { state: 'disabled' })).toBe('6 hosts · 1 stale · alert rules not configured');
    expect(fleetSummary(rows, { state: 'failed', error: 'HTTP 404' })).toBe('6 hosts · 1 stale · alerts unavailable: HTTP 404');
  });
});
