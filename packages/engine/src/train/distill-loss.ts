import type { Ops } from './ops.js';

/**
 * Graph inputs of the distillation objective (TrainingGraphOptions.distill). Like `labels`, entry t of each is about
 * the token at position t, so it is scored from the logits at t − 1 (shifted inside the loss).
 */
export const DISTILL_IO = {
  /** int64 [B, S, K]: the teacher's top-k token ids for the token at position t. */
  teacherIds: 'teacher_ids',
  /**
   * [B, S, K]: the teacher's probabilities of those ids, as its softmax gave them (not renormalised): 1 − Σ_k is the
   * teacher's mass on every other token (the tail), which the loss matches against the student's own tail.
   */
  teacherProbs: 'teacher_probs',
  /** int64 [B, S]: 1 = position t is distilled, 0 = not. */
  teacherMask: 'teacher_mask',
  /** Scalar λ: loss = CE + λ·KL. */
  distillWeight: 'distill_weight',
  /** Output: the batch's KL (mean over distilled positions, unweighted), for logging. */
  distillKl: 'distill_kl',
} as const;

export interface DistillLossSaved {
  /** Flat row indices of the positions with a label or a teacher target [M, 1]. */
  rows: string;
  /** Label target per row, 0 where the row has none (its CE weight is 0) [M, 1]. */
  targets: string;
  /** −CE weight per row [M, 1]. */
  minusCeWeight: string;
  /** Teacher ids per row [M, K]. */
  ids: string;
  /** −KL weight · teacher probs [M, K]. */
  minusWeightedProbs: string;
  /** dlogits before the two scatters: (wCE + wKL)·q − wKL·t·q_tail, [M, V]. */
  dense: string;
  hShape: string;
  /** LM head [V, H]. */
  head: string;
}

/**
 * Hard and soft targets in one pass over the LM head: loss = CE + λ·KL, each a mean over its own positions (a batch
 * with none of one kind has 0 for that term, not 0/0, so distill-only and mixed batches both work).
 *
 * CE is cross-entropy.ts's (labels −100 = ignored). KL is KL(teacher ‖ student) on K + 1 bins: the teacher's top-k ids
 * and "any other token". With p_k the teacher's probabilities of its top-k ids, t = 1 − Σp its tail mass, q the
 * student's softmax and Q_tail = Σ_{j ∉ ids} q_j:
 *   KL = Σ_k p_k (log p_k − log q_{id_k}) + t (log t − log Q_tail).
 * Why the tail bin rather than renormalising p over the k: both have the same minimiser on the k ids, but with the
 * bin the student is also told how much mass the teacher left outside them (a flat teacher stays flat), and with
 * t = 0 (renormalised targets, or K covering all the teacher's mass) it is exactly the renormalised loss.
 * Its gradient wrt the logits is q − p̃, where p̃ is the teacher's probs at its ids and, off them, t spread in
 * proportion to the student's own tail: q_j · t / Q_tail. log Q_tail is a logsumexp over the logits with the k ids
 * masked out, so it does not cancel when the student puts nearly all its mass on the k ids.
 *
 * h [N = B·S, H], labels int64 [B, S], teacherIds int64 [B, S, K] (K < vocabulary), teacherProbs [B, S, K],
 * teacherMask int64 [B, S], head [V, H], weight scalar → loss [], kl [] (the unweighted KL mean).
 */
export function distillLossForward(
  o: Ops,
  h: string,
  labels: string,
  teacherIds: string,
  teacherProbs: string,
  teacherMask: string,
  head: string,
  weight: string,
): { loss: string; kl: string; saved: DistillLossSaved } {
  const g = o.g;
  // Position t is scored from the logits at t − 1: drop position 0, pad one "ignored" entry at the end.
  const shift = (x: string, pad: string, rank: 2 | 3) =>
    g.op('Slice', [
      g.op('Pad', [x, g.ints(rank === 2 ? [0, 0, 0, 1] : [0, 0, 0, 0, 1, 0]), pad]),
      g.ints([1]),
      g.ints([2 ** 62]),
      g.ints([1]),
    ]);
  const label = o.reshape(shift(labels, g.int(-100), 2), [-1]);
  const tmask = o.reshape(shift(teacherMask, g.int(0), 2), [-1]);
  const k = g.op('Shape', [teacherIds], { start: 2, end: 3 });
  const flatK = o.concat([g.ints([-1]), k], 0);
  const tids = o.reshape(shift(teacherIds, g.int(0), 3), flatK);
  const tprobs = o.reshape(shift(teacherProbs, o.c(0), 3), flatK);

  const hasLabel = g.op('Not', [g.op('Equal', [label, g.int(-100)])]);
  const hasTeacher = g.op('Not', [g.op('Equal', [tmask, g.int(0)])]);
  const rows = o.transpose(g.op('NonZero', [g.op('Or', [hasLabel, hasTeacher])]), [1, 0]);
  const column = (x: string) => g.op('Unsqueeze', [g.op('GatherND', [x, rows]), g.ints([1])]);
  const labelAt = o.cast(hasLabel, o.dtype);
  const teacherAt = o.cast(hasTeacher, o.dtype);
  const positive = (count: string) => g.op('Max', [count, o.c(1)]);
  const ceCount = positive(o.reduceSum(labelAt, [0], false));
  const klCount = positive(o.reduceSum(teacherAt, [0], false));
  const ceWeight = o.div(column(labelAt), ceCount);
  const klMean = o.div(column(teacherAt), klCount);
  const klWeight = o.mul(klMean, weight);
  // A row without a label gets target 0 at CE weight 0, so the gathers stay in range.
  const targets = column(g.op('Where', [hasLabel, label, g.int(0)]));
  const ids = g.op('GatherND', [tids, rows]);
  const probs = g.op('GatherND', [tprobs, rows]);

  const logits = o.gemm(g.op('GatherND', [h, rows]), head, { transB: true });
  const picked = g.op('GatherElements', [logits, targets], { axis: 1 });
  const teacherLogits = g.op('GatherElements', [logits, ids], { axis: 1 });
  const masked = g.op('ScatterElements', [logits, ids, g.op('Expand', [o.c(-1e30), o.unary('Shape', ids)])], { axis: 1 });
  const max = o.reduceMax(logits, [-1]);
  const e = o.unary('Exp', o.sub(logits, max));
  const sum = o.reduceSum(e, [-1]);
  const lse = o.add(max, o.unary('Log', sum));
  const tailMax = o.reduceMax(masked, [-1]);
  const tailE = o.unary('Exp', o.sub(masked, tailMax));
  const tailSum = o.reduceSum(tailE, [-1]);
  const tailLse = o.add(tailMax, o.unary('Log', tailSum));

  const mass = o.reduceSum(probs, [-1]);
  const tail = g.op('Max', [o.sub(o.c(1), mass), o.c(0)]);
  const xlogx = (x: string) => o.mul(x, o.unary('Log', g.op('Max', [x, o.c(1e-30)])));
  const entropyTerms = o.add(o.reduceSum(xlogx(probs), [-1]), xlogx(tail));
  const crossTerms = o.add(
    o.sub(o.mul(o.add(mass, tail), lse), o.reduceSum(o.mul(probs, teacherLogits), [-1])),
    o.mul(tail, o.unary('Neg', tailLse)),
  );
  const klRow = o.add(entropyTerms, crossTerms);
  const ceRow = o.sub(lse, picked);
  const kl = o.reduceSum(o.mul(klRow, klMean), [0, 1], false);
  const loss = o.add(o.reduceSum(o.mul(ceRow, ceWeight), [0, 1], false), o.mul(kl, weight));

  const q = o.div(e, sum);
  const qTail = o.div(tailE, tailSum);
  const dense = o.sub(o.mul(q, o.add(ceWeight, klWeight)), o.mul(qTail, o.mul(klWeight, tail)));
  return {
    loss,
    kl,
    saved: {
      rows,
      targets,
      minusCeWeight: o.unary('Neg', ceWeight),
      ids,
      minusWeightedProbs: o.unary('Neg', o.mul(probs, klWeight)),
      dense,
      hShape: o.unary('Shape', h),
      head,
    },
  };
}

/** dh for dloss = 1: dlogits = wCE·(q − onehot(label)) + wKL·(q − p̃), scattered back to the scored rows. */
export function distillLossBackward(o: Ops, s: DistillLossSaved): string {
  const g = o.g;
  const withLabels = g.op('ScatterElements', [s.dense, s.targets, s.minusCeWeight], { axis: 1, reduction: 'add' });
  const dlogits = g.op('ScatterElements', [withLabels, s.ids, s.minusWeightedProbs], { axis: 1, reduction: 'add' });
  const zeros = g.op('ConstantOfShape', [s.hShape], {
    value: {
      tensor:
        o.dtype === 'float64'
          ? { dtype: 'float64' as const, dims: [1], data: Float64Array.of(0) }
          : { dtype: 'float32' as const, dims: [1], data: Float32Array.of(0) },
    },
  });
  return g.op('ScatterND', [zeros, s.rows, o.gemm(dlogits, s.head)]);
}
