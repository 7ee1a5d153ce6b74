// A small time-series line chart drawn on a <canvas>: push(values) adds a point per series and redraws.
// It keeps the last `points` values, scales to the largest one (or a fixed max), and follows the page's
// colours. The canvas carries an aria-label that tells the latest values in words.

/**
 * @typedef {{label: string, color: string}} Series
 */
export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{series: Series[], points?: number, max?: number, format?: (v: number) => string, label?: string}} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.series = opts.series;
    this.points = opts.points || 60;
    this.fixedMax = opts.max;
    this.format = opts.format || ((v) => v.toFixed(1));
    this.label = opts.label || '';
    /** @type {number[][]} */
    this.data = this.series.map(() => []);
    this.pushes = 0;
    canvas.setAttribute('role', 'img');
    this.describe();
  }

  /** Add one value per series and redraw. */
  push(values) {
    values.forEach((v, i) => {
      const d = this.data[i];
      d.push(Number.isFinite(v) ? v : 0);
      if (d.length > this.points) d.shift();
    });
    this.pushes += 1;
    this.canvas.dataset.points = String(this.pushes);
    this.describe();
    this.draw();
  }

  describe() {
    const now = this.series.map((s, i) => {
      const d = this.data[i];
      return `${s.label} ${d.length ? this.format(d[d.length - 1]) : 'no data'}`;
    }).join(', ');
    this.canvas.setAttribute('aria-label', `${this.label}: ${now}`);
  }

  /** The latest values, formatted. */
  latest() {
    return this.series.map((s, i) => {
      const d = this.data[i];
      return d.length ? this.format(d[d.length - 1]) : '–';
    });
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 300;
    const height = canvas.clientHeight || 140;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const style = getComputedStyle(canvas);
    const grid = style.getPropertyValue('--border').trim() || '#ccc';
    const text = style.getPropertyValue('--muted').trim() || '#666';
    const top = 14;
    const bottom = height - 4;
    const left = 2;
    const right = width - 2;
    let max = this.fixedMax || 0;
    if (!this.fixedMax) {
      for (const d of this.data) for (const v of d) if (v > max) max = v;
      max = max > 0 ? max * 1.15 : 1;
    }
    ctx.strokeStyle = grid;
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i += 1) {
      const y = Math.round(top + ((bottom - top) * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(right, y);
      ctx.stroke();
    }
    ctx.fillStyle = text;
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'top';
    ctx.fillText(this.format(max), left + 2, 1);
    const step = (right - left) / Math.max(1, this.points - 1);
    this.data.forEach((d, si) => {
      if (!d.length) return;
      const color = this.series[si].color;
      const x0 = right - (d.length - 1) * step;
      const yOf = (v) => bottom - (Math.min(v, max) / max) * (bottom - top);
      ctx.beginPath();
      d.forEach((v, i) => {
        const x = x0 + i * step;
        if (i === 0) ctx.moveTo(x, yOf(v));
        else ctx.lineTo(x, yOf(v));
      });
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.stroke();
      if (this.data.length === 1) {
        ctx.lineTo(right, bottom);
        ctx.lineTo(x0, bottom);
        ctx.closePath();
        ctx.globalAlpha = 0.15;
        ctx.fillStyle = color;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
    });
  }
}
