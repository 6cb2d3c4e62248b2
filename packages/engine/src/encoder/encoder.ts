import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readSafetensors, readSafetensorsHeader } from '@rg/lora';
import * as ort from 'onnxruntime-node';
import { createSession } from '../runtime/session.js';
import { BERT_IO, bertConfigFromJson, buildBertEncoderGraph } from './bert.js';
import { ensureSentenceEncoder } from './pull.js';

export interface SentenceEncoderOptions {
  /** onnxruntime intra-op threads. */
  threads?: number;
  /** Longest input in tokens, [CLS] and [SEP] included; longer texts are cut (sentence-transformers' max_seq_length). */
  maxTokens?: number;
  /** Texts per forward pass. */
  batchSize?: number;
}

/**
 * Sentence embeddings from a BERT sentence-transformers model folder (config.json,
 * model.safetensors, tokenizer.json): WordPiece tokens -> BERT on onnxruntime -> mean pooling ->
 * unit length. Cosine similarity of two embeddings is their dot product.
 */
export class SentenceEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    readonly dim: number,
    private readonly maxTokens: number,
    private readonly batchSize: number,
    private readonly sepId: number,
  ) {}

  static async load(dir: string, options: SentenceEncoderOptions = {}): Promise<SentenceEncoder> {
    const config = bertConfigFromJson(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    const sepId = tokenizer.token_to_id('[SEP]');
    if (sepId === undefined) throw new Error(`${join(dir, 'tokenizer.json')}: no [SEP] token (not a BERT WordPiece tokenizer)`);
    const weightsFile = join(dir, 'model.safetensors');
    // The file also holds int64 position ids (a buffer, not a weight) and the unused pooler.
    const names = [...readSafetensorsHeader(weightsFile).tensors.keys()].filter(
      (n) => n.startsWith('embeddings.') || n.startsWith('encoder.'),
    );
    const graph = buildBertEncoderGraph(
      config,
      readSafetensors(
        weightsFile,
        names.filter((n) => n !== 'embeddings.position_ids'),
      ),
    );
    const session = await createSession(graph, { threads: options.threads });
    const maxTokens = Math.min(options.maxTokens ?? 256, config.maxPositions);
    return new SentenceEncoder(session, tokenizer, config.hiddenSize, maxTokens, options.batchSize ?? 32, sepId);
  }

  /** The pinned all-MiniLM-L6-v2, fetched into `${home}/models/` on first use. */
  static async miniLM(home: string, options: SentenceEncoderOptions & { log?: (line: string) => void } = {}): Promise<SentenceEncoder> {
    return SentenceEncoder.load(await ensureSentenceEncoder(home, { log: options.log }), options);
  }

  /** Token ids as the model sees them: [CLS] text [SEP], cut to maxTokens keeping the final [SEP]. */
  tokenize(text: string): number[] {
    const ids = this.tokenizer.encode(text).ids;
    return ids.length <= this.maxTokens ? ids : [...ids.slice(0, this.maxTokens - 1), this.sepId];
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const tokens = texts.map((t) => this.tokenize(t));
    // Batches of similar length waste little work on padding.
    const order = tokens.map((_, i) => i).sort((a, b) => tokens[a].length - tokens[b].length);
    const out: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch = order.slice(start, start + this.batchSize);
      const seq = Math.max(...batch.map((i) => tokens[i].length));
      const ids = new BigInt64Array(batch.length * seq);
      const mask = new BigInt64Array(batch.length * seq);
      batch.forEach((t, row) => {
        tokens[t].forEach((id, j) => {
          ids[row * seq + j] = BigInt(id);
          mask[row * seq + j] = 1n;
        });
      });
      const result = await this.session.run({
        [BERT_IO.inputIds]: new ort.Tensor('int64', ids, [batch.length, seq]),
        [BERT_IO.attentionMask]: new ort.Tensor('int64', mask, [batch.length, seq]),
      });
      const emb = result[BERT_IO.embedding].data as Float32Array;
      batch.forEach((t, row) => {
        out[t] = emb.slice(row * this.dim, (row + 1) * this.dim);
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
