export interface AdamWState {
  t: number;
  m: Float64Array[];
  v: Float64Array[];
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * AdamW exactly as torch.optim.AdamW (amsgrad off, maximize off): decoupled weight decay
 * p ← p·(1 - lr·wd), then p ← p - lr/(1-β1ᵗ) · m / (√v / √(1-β2ᵗ) + eps).
 * Defaults are PyTorch's: betas 0.9/0.999, eps 1e-8, weight decay 0.01.
 * Parameters are updated in place; the moments are kept in float64 (the state is tiny).
 */
export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(
    private readonly params: Array<Float32Array | Float64Array>,
    options: AdamWOptions,
  ) {
    this.lr = options.lr;
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    if (!(this.lr >= 0)) throw new Error(`AdamW: lr must be >= 0, got ${this.lr}`);
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  get stepCount(): number {
    return this.t;
  }

  /** The moments and step count (copies), to resume an interrupted run with `restore`. */
  state(): AdamWState {
    return { t: this.t, m: this.m.map((x) => Float64Array.from(x)), v: this.v.map((x) => Float64Array.from(x)) };
  }

  restore(state: AdamWState): void {
    const fits = (xs: Float64Array[]) => xs.length === this.params.length && xs.every((x, i) => x.length === this.params[i].length);
    if (!fits(state.m) || !fits(state.v)) throw new Error('AdamW: the saved state does not fit these parameters');
    this.t = state.t;
    for (let i = 0; i < this.params.length; i++) {
      this.m[i].set(state.m[i]);
      this.v[i].set(state.v[i]);
    }
  }

  /** One update with `grads[i]` the gradient of `params[i]`. */
  step(grads: ArrayLike<number>[]): void {
    if (grads.length !== this.params.length) throw new Error(`AdamW: ${grads.length} gradients for ${this.params.length} parameters`);
    this.t++;
    const { lr, beta1, beta2, eps } = this;
    const decay = 1 - lr * this.weightDecay;
    const stepSize = lr / (1 - beta1 ** this.t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.t);
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      const g = grads[i];
      const m = this.m[i];
      const v = this.v[i];
      if (g.length !== p.length) throw new Error(`AdamW: gradient ${i} has ${g.length} values, parameter has ${p.length}`);
      for (let j = 0; j < p.length; j++) {
        m[j] = beta1 * m[j] + (1 - beta1) * g[j];
        v[j] = beta2 * v[j] + (1 - beta2) * g[j] * g[j];
        p[j] = p[j] * decay - (stepSize * m[j]) / (Math.sqrt(v[j]) / bc2Sqrt + eps);
      }
    }
  }
}
