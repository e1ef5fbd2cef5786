import { describe, expect, it } from 'vitest'
import { createMetricsRegistry, METRICS_CONTENT_TYPE } from '../../core/metrics.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

describe('metrics registry renders the Prometheus text format', () => {
  it('counters, gauges, histograms; escaping; zero before the first change', () => {
    const r = createMetricsRegistry()
    const bytes = r.counter({ name: 'x_bytes_total', help: 'Bytes.\nSecond line \\ end', initial: [{ from: 'a' }, { from: 'b' }] })
    const plain = r.counter({ name: 'x_events_total', help: 'Events.' })
    const g = r.gauge({ name: 'x_level', help: 'Level.' })
    r.gauge({ name: 'x_collected', help: 'Read at scrape.', collect: () => [{ labels: { path: 'a"b\\c\nd' }, value: 7 }] })
    const h = r.histogram({ name: 'x_duration_seconds', help: 'Durations.', buckets: [0.1, 1] })
    bytes.inc({ from: 'a' }, 10)
    bytes.inc({ from: 'a' }, 5)
    g.set(-2.5)
    for (const v of [0.05, 0.5, 3]) h.observe(v)
    const families = parsePromText(r.render())
    expect(sampleValue(families, 'x_bytes_total', { from: 'a' })).toBe(15)
    expect(sampleValue(families, 'x_bytes_total', { from: 'b' })).toBe(0)
    expect(sampleValue(families, 'x_events_total')).toBe(0)
    expect(sampleValue(families, 'x_level')).toBe(-2.5)
    expect(sampleValue(families, 'x_collected', { path: 'a"b\\c\nd' })).toBe(7)
    expect(sampleValue(families, 'x_duration_seconds_bucket', { le: '0.1' })).toBe(1)
    expect(sampleValue(families, 'x_duration_seconds_bucket', { le: '1' })).toBe(2)
    expect(sampleValue(families, 'x_duration_seconds_bucket', { le: '+Inf' })).toBe(3)
    expect(sampleValue(families, 'x_duration_seconds_count')).toBe(3)
    expect(sampleValue(families, 'x_duration_seconds_sum')).toBeCloseTo(3.55)
    expect(families.get('x_bytes_total')).toMatchObject({ type: 'counter', help: 'Bytes.\nSecond line \\ end' })
    expect(families.get('x_duration_seconds')?.type).toBe('histogram')
    expect(plain.get()).toBe(0)
    expect(METRICS_CONTENT_TYPE).toMatch(/^text\/plain; version=0\.0\.4/)
  })

  it('refuses what a scraper would choke on', () => {
    const r = createMetricsRegistry()
    expect(() => r.counter({ name: 'no_suffix', help: '' })).toThrow(/_total/)
    expect(() => r.gauge({ name: 'bad-name', help: '' })).toThrow()
    r.gauge({ name: 'twice', help: '' })
    expect(() => r.gauge({ name: 'twice', help: '' })).toThrow(/twice/)
    expect(() => r.counter({ name: 'c_total', help: '' }).inc({}, -1)).toThrow()
    expect(() => r.histogram({ name: 'h', help: '', buckets: [1, 0.5] })).toThrow()
  })

  it('the test parser is strict', () => {
    expect(() => parsePromText('x 1')).toThrow(/newline/)
    expect(() => parsePromText('x 1\n')).toThrow(/TYPE/)
    expect(() => parsePromText('# TYPE x gauge\nx{a="1",a="2"} 1\n')).toThrow(/duplicate/)
    expect(() => parsePromText('# TYPE x counter\nx 1\n')).toThrow(/counter/)
    expect(() => parsePromText('# TYPE x gauge\nx one\n')).toThrow(/value/)
  })
})
