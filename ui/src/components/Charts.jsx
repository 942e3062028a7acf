// The console's charts: one definition's throughput, attempt times and
// failures by error code, and the queues' depths, over a window ending now.
// uPlot draws them (small, canvas, well kept); each chart also says its
// figures in a sentence, which is what a screen reader reads.

import { useCallback, useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import { api, query } from '../api.js';
import { WINDOWS, attemptTimes, depthSummary, failureSummary, failuresByCode, queueDepths, summary, throughput } from '../charts.js';
import { Notice } from './Notice.jsx';

/** Line colours with at least 3:1 against the page (WCAG 1.4.11). */
const PALETTE = ['#0b57d0', '#a30f0f', '#146c2e', '#7a4b00', '#6a3d9a', '#00707a', '#4d4d4d'];
const THROUGHPUT_COLOURS = ['#4d4d4d', '#146c2e', '#a30f0f', '#7a4b00'];
const HEIGHT = 200;

/** One chart: `series` is `{ labels, data }` as `charts.js` makes it. */
function Chart({ id, title, caption, series, unit, colours = PALETTE }) {
  const holder = useRef(null);
  useEffect(() => {
    const element = holder.current;
    if (!element) return undefined;
    const options = {
      width: Math.max(element.clientWidth, 240),
      height: HEIGHT,
      scales: { x: { time: true } },
      series: [{}, ...series.labels.map((label, i) => ({ label, stroke: colours[i % colours.length], width: 2, points: { size: 4 } }))],
      axes: [{}, { label: unit, size: 60 }],
    };
    const plot = new uPlot(options, series.data, element);
    const resized = new ResizeObserver(() => plot.setSize({ width: Math.max(element.clientWidth, 240), height: HEIGHT }));
    resized.observe(element);
    return () => {
      resized.disconnect();
      plot.destroy();
    };
  }, [series, unit, colours]);
  return (
    <figure className="chart" aria-labelledby={`${id}-title`} data-chart={id}>
      <figcaption>
        <h3 id={`${id}-title`}>{title}</h3>
        <p className="chart-summary">{caption}</p>
      </figcaption>
      {/* The drawing repeats the sentence above for the eye. */}
      <div ref={holder} className="chart-plot" aria-hidden="true" />
    </figure>
  );
}

export function Charts({ definitions }) {
  const [definition, setDefinition] = useState('');
  const [minutes, setMinutes] = useState('60');
  const [figures, setFigures] = useState(null);
  const [depths, setDepths] = useState(null);
  const [error, setError] = useState(null);
  const shown = definition || definitions[0] || '';
  const load = useCallback(() => {
    setError(null);
    api
      .get(`/admin/queue-depths${query({ minutes })}`)
      .then(setDepths)
      .catch((e) => setError(e.message));
    if (!shown) return;
    api
      .get(`/definitions/${encodeURIComponent(shown)}/figures${query({ minutes })}`)
      .then(setFigures)
      .catch((e) => setError(e.message));
  }, [shown, minutes]);
  useEffect(load, [load]);
  const step = figures ? figures.stepMinutes : depths ? depths.stepMinutes : 1;
  const per = step === 1 ? 'per minute' : `per ${step} minutes`;
  return (
    <section className="panel" aria-labelledby="charts-title">
      <h2 id="charts-title">Charts</h2>
      <div className="toolbar">
        <label htmlFor="charts-definition">Definition</label>
        <select id="charts-definition" value={shown} onChange={(e) => setDefinition(e.target.value)}>
          {definitions.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <label htmlFor="charts-window">Over</label>
        <select id="charts-window" value={minutes} onChange={(e) => setMinutes(e.target.value)}>
          {WINDOWS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <button type="button" onClick={load}>
          Refresh charts
        </button>
      </div>
      <Notice kind="error">{error}</Notice>
      <div className="charts">
        {figures && figures.definition === shown ? (
          <>
            <Chart id="chart-throughput" title={`Tasks ${per}`} caption={summary(figures)} series={throughput(figures)} unit="tasks" colours={THROUGHPUT_COLOURS} />
            <Chart id="chart-times" title="Attempt time, p50 and p95" caption={figures.totals.attempts ? `Over the window: p50 ${figures.totals.p50Ms} ms, p95 ${figures.totals.p95Ms} ms of ${figures.totals.attempts} attempts.` : 'No attempt ended in this window.'} series={attemptTimes(figures)} unit="ms" />
            <Chart id="chart-failures" title={`Failed attempts by error code, ${per}`} caption={failureSummary(figures)} series={failuresByCode(figures)} unit="attempts" />
          </>
        ) : null}
        {depths ? <Chart id="chart-queues" title="Messages waiting, by queue (deepest sample)" caption={depthSummary(depths)} series={queueDepths(depths)} unit="messages" /> : null}
      </div>
    </section>
  );
}
