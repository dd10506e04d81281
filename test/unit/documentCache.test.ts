/**
 * What the language server derives from a document (its model, its own types) is kept per document
 * and version, and dropped when the document closes: the cache holds the open documents only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { cachedDocuments, derived, forgetDocument } from '../../language-server/documentCache';
import { modelOf } from '../../language-server/documentModel';
import { documentTypes } from '../../language-server/expressionTypes';

const program = `struct event { __u32 pid; };
SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

test('the model and the types of one version are computed once; a new version computes them again', () => {
  const first = TextDocument.create('file:///cache/one.bpf.c', 'c', 1, program);
  assert.equal(modelOf(first), modelOf(first));
  assert.equal(documentTypes(first), documentTypes(first));
  assert.deepEqual(modelOf(first).programs.map((p) => p.name), ['on_exec']);
  assert.deepEqual([...documentTypes(first).structs.keys()], ['struct event']);

  const firstTypes = documentTypes(first);

  const second = TextDocument.create(first.uri, 'c', 2, program.replace('on_exec', 'on_process_exec'));
  assert.deepEqual(modelOf(second).programs.map((p) => p.name), ['on_process_exec']);
  assert.notEqual(documentTypes(second), firstTypes, 'a new version is scanned anew');
  assert.deepEqual(cachedDocuments(), [first.uri], 'one entry per document, whatever its version');
  forgetDocument(first.uri);
});

test('closing a document drops everything computed from it, and only from it', () => {
  const documents = Array.from({ length: 50 }, (_, i) => TextDocument.create(`file:///cache/many-${i}.bpf.c`, 'c', 1, program));
  for (const document of documents) {
    modelOf(document);
    documentTypes(document);
  }
  const uris = documents.map((d) => d.uri);
  assert.deepEqual(cachedDocuments().filter((uri) => uri.startsWith('file:///cache/many-')), uris);
  for (const document of documents.slice(1)) forgetDocument(document.uri);
  assert.deepEqual(cachedDocuments().filter((uri) => uri.startsWith('file:///cache/many-')), [uris[0]]);
  forgetDocument(uris[0]);
  assert.deepEqual(cachedDocuments(), []);
});

test('each computation is keyed by its function: two derivations of one version do not mix', () => {
  const document = TextDocument.create('file:///cache/keyed.bpf.c', 'c', 7, 'abc');
  const length = (text: string) => text.length;
  const upper = (text: string) => text.toUpperCase();
  assert.equal(derived(document, length), 3);
  assert.equal(derived(document, upper), 'ABC');
  forgetDocument(document.uri);
});
