//! Artifact formats shared by every CLI: the Parquet schemas (one module per
//! artifact), the CKM file, atomic writes and provenance metadata.
//! The schemas are documented for users in `docs/artifacts.md`.

pub mod atomic;
pub mod ckm_file;
pub mod manifest;
pub mod metrics;
pub mod parquet_io;
pub mod provenance;
pub mod quality;
pub mod rsrp;
pub mod rsrp_read;
pub mod traj;
