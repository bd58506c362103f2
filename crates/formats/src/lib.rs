//! Artifact formats: Parquet schemas, the CKM file, atomic writes, provenance metadata
