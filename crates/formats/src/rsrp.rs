//! `rsrp.parquet` (written by `gen-rsrp`): the drive test, long format, one
//! row per (BS, measured location, beam).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | bs_id | uint32 | measured BS |
//! | x_m, y_m | float64 | measurement location, m (grid-cell centre for generated data) |
//! | beam_id | uint32 | beam index b of the codebook (column b) |
//! | rsrp_dbm | float64 | RSRP of beam b, dBm (snapshot average incl. measurement noise) |
//!
//! The minimum a foreign (real) file needs is exactly these five columns
//! (any order, extra columns ignored, any int/float widths): see `rsrp_read`.

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// One row of the RSRP table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RsrpRow {
    pub bs_id: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub beam_id: u32,
    pub rsrp_dbm: f64,
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("bs_id", DataType::UInt32, false),
        Field::new("x_m", DataType::Float64, false),
        Field::new("y_m", DataType::Float64, false),
        Field::new("beam_id", DataType::UInt32, false),
        Field::new("rsrp_dbm", DataType::Float64, false),
    ]))
}

pub fn to_batch(rows: &[RsrpRow]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.bs_id))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.x_m))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.y_m))),
            Arc::new(UInt32Array::from_iter_values(
                rows.iter().map(|r| r.beam_id),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|r| r.rsrp_dbm),
            )),
        ],
    )
    .expect("columns match the schema")
}
