-- Document chunks and their embeddings, one row per chunk.
-- {dimension} is replaced by the configured embedding dimension.
-- Statements are split on ";" at line ends: keep semicolons out of bodies.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS rag_chunks (
    -- Chunk ids are unique per tenant only.
    tenant_id   text        NOT NULL,
    id          text        NOT NULL,
    document_id text        NOT NULL,
    chunk_index integer     NOT NULL,
    category    text        NOT NULL,
    content     text        NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    embedding   vector({dimension}) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX IF NOT EXISTS rag_chunks_tenant_category ON rag_chunks (tenant_id, category);

CREATE INDEX IF NOT EXISTS rag_chunks_tenant_document ON rag_chunks (tenant_id, document_id);

CREATE INDEX IF NOT EXISTS rag_chunks_embedding_hnsw ON rag_chunks USING hnsw (embedding vector_cosine_ops);
