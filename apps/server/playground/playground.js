// The rg playground: one question answered by the four serving methods side by side, and documents added and
// deleted live. It speaks the server's public API only (the same requests a client would send). Everything that
// comes from the server or the model is put on the page as text (textContent), never parsed as markup.

const METHODS = [
  { method: 'wo_param', label: 'Base', note: 'the model alone' },
  { method: 'icl', label: 'RAG', note: 'retrieved passages in the prompt' },
  { method: 'cat_all_one', label: 'RG', note: "retrieved documents' adapters applied" },
  { method: 'combine', label: 'RG + RAG', note: 'adapters and passages' },
];
// sessionStorage: the key lives as long as this tab and is never written to disk or shared with other tabs.
const KEY_STORAGE = 'rg.playground.apiKey';
const JOB_POLL_MS = 500;

const $ = (id) => document.getElementById(id);

/** An element with text content and attributes; children are elements or strings (appended as text). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') node.textContent = value;
    else if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const headers = {};
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(path, { ...init, headers });
  if (res.status === 401) {
    showKeyForm(key ? 'The server refused this key.' : '');
    throw new ApiError(401, 'an API key is needed');
  }
  return res;
}

/** The JSON body of a response, or an ApiError with the server's message (which names the field at fault). */
async function json(res) {
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const state = {
  collection: '',
  lastQuestion: '',
  /** The answers in flight: a new question (or a re-ask) aborts them, and the server stops their generation. */
  asking: undefined,
  /** Documents shown in the list: id -> list item. */
  documents: new Map(),
};

function setStatus(text, failed = false) {
  const status = $('server-status');
  status.textContent = text;
  status.dataset.state = failed ? 'failed' : 'ok';
}

function showKeyForm(message) {
  $('main').hidden = true;
  $('key-section').hidden = false;
  $('key-error').textContent = message;
  setStatus('Waiting for an API key.');
  $('api-key').focus();
}

async function connect() {
  let models;
  try {
    models = await json(await api('/v1/models'));
  } catch (e) {
    if (e.status !== 401) setStatus(`Cannot reach the server: ${e.message}`, true);
    return;
  }
  $('key-section').hidden = true;
  $('main').hidden = false;
  $('forget-key').hidden = !sessionStorage.getItem(KEY_STORAGE);
  const select = $('collection');
  select.replaceChildren();
  for (const model of models.data) {
    const name = model.rg?.collection ?? model.id.replace(/^rg:/, '');
    const option = el('option', { value: name, text: collectionLabel(name, model) });
    if (model.rg?.default) option.selected = true;
    select.append(option);
  }
  state.collection = select.value;
  const base = models.data[0]?.rg?.base_model;
  setStatus(`Connected${base ? `: ${base}` : ''}.`);
}

function buildPanels() {
  $('panels').replaceChildren(
    ...METHODS.map(({ method, label, note }) =>
      el(
        'article',
        { class: 'panel', 'data-method': method, 'data-state': 'idle' },
        el('h3', { text: label }),
        el('p', { class: 'note', text: `${method}: ${note}` }),
        el('p', { class: 'answer' }),
        el('div', { class: 'details' }),
      ),
    ),
  );
}

function panel(method) {
  return document.querySelector(`.panel[data-method="${method}"]`);
}

function optionalNumber(id) {
  const raw = $(id).value.trim();
  return raw === '' ? undefined : Number(raw);
}

function ask(question) {
  state.asking?.abort();
  const controller = new AbortController();
  state.asking = controller;
  state.lastQuestion = question;
  // Rounds let a reader (and the browser test) tell this round's finished answers from the previous round's.
  const round = String(Number($('panels').dataset.round ?? 0) + 1);
  $('panels').dataset.round = round;
  const rg = { k: optionalNumber('k') };
  const maxTokens = optionalNumber('max-tokens');
  return Promise.all(
    METHODS.map(({ method }) => streamAnswer(panel(method), question, { ...rg, method }, maxTokens, controller.signal, round)),
  );
}

/** One method's answer, streamed (server-sent events) into its panel, then what it retrieved and applied. */
async function streamAnswer(target, question, rg, maxTokens, signal, round) {
  const answer = target.querySelector('.answer');
  const details = target.querySelector('.details');
  answer.textContent = '';
  details.replaceChildren(el('p', { class: 'meta', text: 'waiting for the model…' }));
  target.dataset.state = 'streaming';
  target.dataset.round = round;
  const body = {
    model: `rg:${state.collection}`,
    stream: true,
    messages: [{ role: 'user', content: question }],
    rg,
    ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
  };
  try {
    const res = await api('/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal });
    if (!res.ok) await json(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split('\n')) {
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          const chunk = JSON.parse(line.slice('data: '.length));
          if (chunk.error) throw new ApiError(500, chunk.error.message);
          const delta = chunk.choices?.[0]?.delta?.content;
          if (delta) answer.append(delta);
          if (chunk.rg) showDetails(details, chunk.rg, chunk.choices[0].finish_reason);
        }
      }
    }
    target.dataset.state = 'done';
  } catch (e) {
    if (signal.aborted) return;
    target.dataset.state = 'error';
    answer.textContent = e.message;
    details.replaceChildren();
  }
}

function showDetails(details, rg, finishReason) {
  const t = rg.timings;
  const documents = rg.documents.length
    ? el('ul', { class: 'documents' }, ...rg.documents.map((d) => el('li', {}, el('code', { text: d.id }), ` ${d.score.toFixed(2)}`)))
    : el('p', { class: 'meta', text: 'none' });
  const adapters = rg.adapters.length
    ? el(
        'ul',
        { class: 'adapters' },
        ...rg.adapters.map((a) => el('li', {}, el('code', { text: a.id }), ` × ${Number(a.weight.toFixed(3))}`)),
      )
    : el('p', { class: 'meta', text: 'none' });
  details.replaceChildren(
    el('p', { class: 'meta', text: 'Documents retrieved (score)' }),
    documents,
    el('p', { class: 'meta', text: 'Adapters applied (weight)' }),
    adapters,
    ...(rg.missing_adapters.length ? [el('p', { class: 'meta', text: `Not encoded yet: ${rg.missing_adapters.join(', ')}` })] : []),
    el('p', {
      class: 'meta',
      text:
        `${finishReason}${rg.timed_out ? ' (timed out)' : ''} · retrieve ${t.retrieve_ms} ms · fetch ${t.fetch_ms} ms · ` +
        `compose ${t.compose_ms} ms · prefill ${t.prefill_ms} ms · decode ${t.decode_ms} ms`,
    }),
  );
  for (const d of rg.documents) if (!state.documents.has(d.id)) void rememberDocument(d.id);
}

const collectionQuery = () => `collection=${encodeURIComponent(state.collection)}`;

/** Puts a document in the list (once), with its title and whether its adapter exists yet. */
async function rememberDocument(id) {
  let item = state.documents.get(id);
  if (!item) {
    item = el('li', { 'data-id': id });
    state.documents.set(id, item);
    $('documents').prepend(item);
  }
  let doc;
  try {
    doc = await json(await api(`/v1/documents/${encodeURIComponent(id)}?${collectionQuery()}`));
  } catch (e) {
    if (e.status === 404) {
      item.remove();
      state.documents.delete(id);
    }
    return;
  }
  const remove = el('button', { type: 'button', class: 'delete', text: 'Delete', 'aria-label': `Delete ${id}` });
  remove.addEventListener('click', () => deleteDocument(id, remove));
  item.replaceChildren(
    el(
      'span',
      { class: 'doc' },
      el('code', { text: id }),
      el('small', { text: `${doc.title ? `${doc.title} · ` : ''}${doc.has_adapter ? 'adapter ready' : 'no adapter yet'}` }),
    ),
    remove,
  );
}

async function deleteDocument(id, button) {
  button.disabled = true;
  const status = $('job-status');
  try {
    await json(await api(`/v1/documents/${encodeURIComponent(id)}?${collectionQuery()}`, { method: 'DELETE' }));
  } catch (e) {
    button.disabled = false;
    status.dataset.state = 'failed';
    status.textContent = `Delete ${id}: ${e.message}`;
    return;
  }
  state.documents.get(id)?.remove();
  state.documents.delete(id);
  status.dataset.state = 'deleted';
  status.textContent = `Deleted ${id}: its passage and adapter are gone from the next answer.`;
  reaskAfterChange();
}

async function addDocument() {
  const text = $('doc-text').value;
  const title = $('doc-title').value.trim();
  const id = $('doc-id').value.trim();
  const status = $('job-status');
  const button = $('add');
  button.disabled = true;
  status.dataset.state = 'queued';
  status.textContent = 'Adding…';
  try {
    const job = await json(
      await api('/v1/documents', {
        method: 'POST',
        body: JSON.stringify({ text, collection: state.collection, ...(title ? { title } : {}), ...(id ? { id } : {}) }),
      }),
    );
    $('add-form').reset();
    void rememberDocument(job.document_id);
    const end = await watchJob(job.job_id, job.document_id, status);
    await rememberDocument(job.document_id);
    if (end.state === 'done') reaskAfterChange();
  } catch (e) {
    status.dataset.state = 'failed';
    status.textContent = `Add: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Polls the job until it ends, showing its state and step (ingest, index, augment, encode). */
async function watchJob(jobId, documentId, status) {
  for (;;) {
    const job = await json(await api(`/v1/jobs/${encodeURIComponent(jobId)}?${collectionQuery()}`));
    status.dataset.state = job.state;
    const step = job.step ? ` (${job.step})` : '';
    status.textContent =
      job.state === 'failed'
        ? `${documentId}: failed: ${job.error}`
        : job.state === 'done'
          ? `${documentId}: done: indexed and encoded.`
          : `${documentId}: ${job.state}${step}…`;
    if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') return job;
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
  }
}

/** The collection changed: ask the last question again, so the four answers show the difference. */
function reaskAfterChange() {
  if (state.lastQuestion) void ask(state.lastQuestion);
  void refreshCounts();
}

/** Updates the document counts in the collection picker, leaving the choice as it is. */
async function refreshCounts() {
  let models;
  try {
    models = await json(await api('/v1/models'));
  } catch {
    return;
  }
  for (const option of $('collection').options) {
    const model = models.data.find((m) => m.rg?.collection === option.value);
    if (model) option.textContent = collectionLabel(option.value, model);
  }
}

const collectionLabel = (name, model) => `${name} (${model.rg?.documents ?? '?'} documents)`;

function wire() {
  buildPanels();
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $('api-key').value);
    $('api-key').value = '';
    void connect();
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    void connect();
  });
  $('collection').addEventListener('change', () => {
    state.collection = $('collection').value;
    for (const item of state.documents.values()) item.remove();
    state.documents.clear();
  });
  $('ask-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const question = $('question').value.trim();
    if (question) void ask(question);
  });
  $('add-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void addDocument();
  });
  void connect();
}

wire();
