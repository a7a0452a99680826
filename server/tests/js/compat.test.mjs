// The official chromadb npm client (3.5.x) against a running chromite.
// Usage: CHROMITE_URL=http://127.0.0.1:8000 node --test compat.test.mjs
// (run.sh starts a server and runs this).
import test from "node:test";
import assert from "node:assert/strict";
import { ChromaClient } from "chromadb";

const url = new URL(process.env.CHROMITE_URL ?? "http://127.0.0.1:8000");
const client = new ChromaClient({ host: url.hostname, port: Number(url.port), ssl: url.protocol === "https:" });
const suffix = Math.random().toString(16).slice(2, 10);

test("heartbeat and version", async () => {
  const hb = await client.heartbeat();
  assert.ok(hb > 1_600_000_000_000, `heartbeat ${hb}`);
  assert.match(await client.version(), /^\d+\.\d+\.\d+$/);
});

test("collection lifecycle, records, query, errors", async () => {
  const name = `js-main-${suffix}`;
  const col = await client.createCollection({ name, metadata: { owner: "js" }, embeddingFunction: null,
    configuration: { hnsw: { space: "l2" } } });
  assert.equal(col.name, name);
  assert.deepEqual(col.metadata, { owner: "js" });

  // duplicates are 409 -> ChromaUniqueError; missing is 404 -> ChromaNotFoundError
  await assert.rejects(client.createCollection({ name, embeddingFunction: null }), (e) => e.name === "ChromaUniqueError");
  await assert.rejects(client.getCollection({ name: `js-missing-${suffix}` }), (e) => e.name === "ChromaNotFoundError");
  const same = await client.getOrCreateCollection({ name, embeddingFunction: null });
  assert.equal(same.id, col.id);

  await col.add({
    ids: ["a", "b", "c"],
    embeddings: [[1, 0], [0, 2], [3, 4]],
    documents: ["apple", "banana", "cherry"],
    metadatas: [{ n: 1 }, { n: 2 }, { n: 3, tags: ["x"] }],
  });
  assert.equal(await col.count(), 3);

  const got = await col.get({ ids: ["c", "a"], include: ["embeddings", "documents", "metadatas"] });
  assert.deepEqual(got.ids, ["a", "c"]);
  assert.deepEqual(got.embeddings, [[1, 0], [3, 4]]);
  assert.deepEqual(got.documents, ["apple", "cherry"]);
  assert.deepEqual(got.metadatas[1], { n: 3, tags: ["x"] });

  const q = await col.query({ queryEmbeddings: [[1, 1]], nResults: 3, include: ["distances", "documents"] });
  assert.deepEqual(q.ids, [["a", "b", "c"]]);
  assert.deepEqual(q.distances, [[1, 2, 13]]);

  const filtered = await col.get({ where: { n: { $gte: 2 } }, whereDocument: { $contains: "an" } });
  assert.deepEqual(filtered.ids, ["b"]);

  await col.update({ ids: ["a"], metadatas: [{ n: 10 }] });
  await col.upsert({ ids: ["d"], embeddings: [[5, 5]], documents: ["date"] });
  assert.equal(await col.count(), 4);
  assert.deepEqual((await col.get({ ids: ["a"], include: ["metadatas"] })).metadatas, [{ n: 10 }]);

  await col.delete({ ids: ["d"] });
  assert.equal(await col.count(), 3);

  const peek = await col.peek({ limit: 2 });
  assert.equal(peek.ids.length, 2);

  await assert.rejects(col.add({ ids: ["bad"], embeddings: [[1, 2, 3]] }), /dimension of 2, got 3/);

  await col.modify({ name: `${name}-renamed`, metadata: { owner: "js2" } });
  const renamed = await client.getCollection({ name: `${name}-renamed`, embeddingFunction: null });
  assert.equal(renamed.id, col.id);
  assert.deepEqual(renamed.metadata, { owner: "js2" });

  const names = (await client.listCollections()).map((c) => c.name);
  assert.ok(names.includes(`${name}-renamed`));
  assert.ok((await client.countCollections()) >= 1);

  await client.deleteCollection({ name: `${name}-renamed` });
  await assert.rejects(client.getCollection({ name: `${name}-renamed` }), (e) => e.name === "ChromaNotFoundError");
});

test("cosine and ip spaces", async () => {
  for (const [space, want] of [["cosine", [0, 1 - Math.SQRT1_2]], ["ip", [0, 0.5]]]) {
    const col = await client.createCollection({ name: `js-${space}-${suffix}`, embeddingFunction: null,
      configuration: { hnsw: { space } } });
    await col.add({ ids: ["x", "y"], embeddings: [[1, 0], [0.5, 0.5]] });
    const q = await col.query({ queryEmbeddings: [[1, 0]], nResults: 2, include: ["distances"] });
    assert.deepEqual(q.ids, [["x", "y"]]);
    q.distances[0].forEach((d, i) => assert.ok(Math.abs(d - want[i]) < 1e-5, `${space} ${d} vs ${want[i]}`));
    await client.deleteCollection({ name: col.name });
  }
});

test("a schema is created, read back and enforced", async () => {
  const { Schema, FtsIndexConfig, StringInvertedIndexConfig, VectorIndexConfig } = await import("chromadb");
  const name = `js-schema-${suffix}`;
  const schema = new Schema()
    .createIndex(new VectorIndexConfig({ space: "cosine" }))
    .deleteIndex(new FtsIndexConfig(), "#document")
    .deleteIndex(new StringInvertedIndexConfig(), "raw");
  const col = await client.createCollection({ name, schema, embeddingFunction: null });
  const json = col.schema.serializeToJSON();
  assert.equal(json.keys["#embedding"].float_list.vector_index.config.space, "cosine");
  assert.equal(json.keys["#document"].string.fts_index.enabled, false);
  assert.equal(json.keys.raw.string.string_inverted_index.enabled, false);
  assert.equal(json.keys["#embedding"].float_list.vector_index.config.hnsw.ef_construction, 100);

  await col.add({ ids: ["a"], embeddings: [[1, 0]], documents: ["alpha"], metadatas: [{ raw: "x", year: 2020 }] });
  await assert.rejects(col.get({ whereDocument: { $contains: "alpha" } }), (e) => /FTS indexing is disabled/.test(e.message));
  await assert.rejects(col.get({ where: { raw: "x" } }), (e) => /Cannot filter using metadata key 'raw'/.test(e.message));

  const again = await client.getCollection({ name, embeddingFunction: null });
  const back = again.schema.serializeToJSON();
  assert.equal(back.keys["#document"].string.fts_index.enabled, false);
  assert.equal(back.keys.year.int.int_inverted_index.enabled, true, "key discovered on write");
  await client.deleteCollection({ name });
});

test("collection.search: dense and sparse Knn, RRF, filters, select", async () => {
  const { Search, Knn, Rrf, K, Schema, SparseVectorIndexConfig } = await import("chromadb");
  const name = `js-search-${suffix}`;
  const schema = new Schema().createIndex(new SparseVectorIndexConfig(), "sp");
  const col = await client.createCollection({ name, embeddingFunction: null, schema });
  await col.add({
    ids: ["r0", "r1", "r2", "r3"],
    embeddings: [[0, 1], [1, 1], [2, 1], [3, 1]],
    documents: ["doc 0", "doc 1", "doc 2", "doc 3"],
    metadatas: [0, 1, 2, 3].map((i) => ({ cat: i % 2 ? "a" : "b", sp: { indices: [i, 10], values: [1, 0.5] } })),
  });
  const dense = await col.search(new Search().rank(Knn({ query: [2, 1], limit: 2 })).select(K.DOCUMENT, K.SCORE));
  assert.deepEqual(dense.ids, [["r2", "r1"]]);
  assert.deepEqual(dense.rows()[0].map((r) => [r.id, r.document, r.score]), [["r2", "doc 2", 0], ["r1", "doc 1", 1]]);
  const sparse = await col.search(new Search().rank(Knn({ query: { indices: [3, 10], values: [1, 1] }, key: "sp", limit: 2 })).select(K.SCORE));
  assert.deepEqual(sparse.ids, [["r3", "r0"]]);
  assert.deepEqual(sparse.scores, [[-0.5, 0.5]]);
  const hybrid = await col.search(new Search()
    .rank(Rrf({ ranks: [Knn({ query: [2, 1], returnRank: true, default: 1000 }), Knn({ query: { indices: [3], values: [1] }, key: "sp", returnRank: true, default: 1000 })] }))
    .where(K("cat").eq("a"))
    .limit(1));
  assert.deepEqual(hybrid.ids, [["r3"]]);
  await client.deleteCollection({ name });
});
