// A time-series chart (uPlot, canvas): the device's bytes out / in per minute.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { Traffic } from './api.ts';
import { fmtBytes } from './util.tsx';

export function TrafficChart(props: { traffic: Traffic }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const items = props.traffic.items;
    const data: uPlot.AlignedData = [
      items.map((p) => Date.parse(p.minute) / 1000),
      items.map((p) => p.bytesOut),
      items.map((p) => p.bytesIn),
      items.map((p) => p.extBytesOut),
    ];
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 220,
        axes: [{}, { values: (_u, ticks) => ticks.map((t) => fmtBytes(t)), size: 70 }],
        series: [
          {},
          { label: 'bytes out', stroke: '#2563eb', width: 1.5, value: (_u, v) => fmtBytes(v) },
          { label: 'bytes in', stroke: '#16a34a', width: 1.5, value: (_u, v) => fmtBytes(v) },
          { label: 'to the internet', stroke: '#dc2626', width: 1.5, value: (_u, v) => fmtBytes(v) },
        ],
      },
      data,
      el,
    );
    el.dataset['points'] = String(items.length);
    return () => plot.destroy();
  }, [props.traffic]);
  return <div class="chart" ref={box} data-testid="traffic-chart" />;
}
