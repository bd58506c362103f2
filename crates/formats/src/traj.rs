//! `trajectories.parquet` (written by `gen-traj`): one row per (drop, epoch, user).
//!
//! | column | type | meaning |
//! |---|---|---|
//! | drop | uint32 | drop index, 0-based |
//! | epoch | uint32 | epoch, 1-based (1…N) |
//! | user_id | uint32 | global user id = bs_id · users_per_cell + index in cell |
//! | bs_id | uint32 | serving BS (fixed for the run) |
//! | x_m, y_m | float64 | true position, m |
//! | vx_mps, vy_mps | float64 | true velocity, m/s |

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::parquet_io::{ParquetIoError, ParquetSource, column_f64, column_u64};
use crate::provenance::Provenance;

/// One row of the trajectory table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajRow {
    pub drop: u32,
    pub epoch: u32,
    pub user_id: u32,
    pub bs_id: u32,
    pub x_m: f64,
    pub y_m: f64,
    pub vx_mps: f64,
    pub vy_mps: f64,
}

pub fn schema() -> SchemaRef {
    let u = |n| Field::new(n, DataType::UInt32, false);
    let f = |n| Field::new(n, DataType::Float64, false);
    Arc::new(Schema::new(vec![
        u("drop"),
        u("epoch"),
        u("user_id"),
        u("bs_id"),
        f("x_m"),
        f("y_m"),
        f("vx_mps"),
        f("vy_mps"),
    ]))
}

pub fn to_batch(rows: &[TrajRow]) -> RecordBatch {
    let u =
        |g: fn(&TrajRow) -> u32| Arc::new(UInt32Array::from_iter_values(rows.iter().map(g))) as _;
    let f =
        |g: fn(&TrajRow) -> f64| Arc::new(Float64Array::from_iter_values(rows.iter().map(g))) as _;
    RecordBatch::try_new(
        schema(),
        vec![
            u(|r| r.drop),
            u(|r| r.epoch),
            u(|r| r.user_id),
            u(|r| r.bs_id),
            f(|r| r.x_m),
            f(|r| r.y_m),
            f(|r| r.vx_mps),
            f(|r| r.vy_mps),
        ],
    )
    .expect("columns match the schema")
}

/// Read a whole trajectory file (validated: columns, types, finite values).
pub fn read(path: &Path) -> Result<(Vec<TrajRow>, Provenance), ParquetIoError> {
    let mut src = ParquetSource::open(path)?;
    let mut rows = Vec::with_capacity(src.rows);
    while let Some(batch) = src.next_batch() {
        let batch = batch?;
        let u32col = |name: &str| -> Result<Vec<u32>, ParquetIoError> {
            column_u64(&batch, name, path)?
                .into_iter()
                .map(|v| {
                    u32::try_from(v).map_err(|_| {
                        ParquetIoError::schema(
                            path,
                            format!("column `{name}` value {v} exceeds u32"),
                        )
                    })
                })
                .collect()
        };
        let (drop, epoch, user, bs) = (
            u32col("drop")?,
            u32col("epoch")?,
            u32col("user_id")?,
            u32col("bs_id")?,
        );
        let (x, y, vx, vy) = (
            column_f64(&batch, "x_m", path)?,
            column_f64(&batch, "y_m", path)?,
            column_f64(&batch, "vx_mps", path)?,
            column_f64(&batch, "vy_mps", path)?,
        );
        for i in 0..batch.num_rows() {
            let row = TrajRow {
                drop: drop[i],
                epoch: epoch[i],
                user_id: user[i],
                bs_id: bs[i],
                x_m: x[i],
                y_m: y[i],
                vx_mps: vx[i],
                vy_mps: vy[i],
            };
            if ![row.x_m, row.y_m, row.vx_mps, row.vy_mps]
                .iter()
                .all(|v| v.is_finite())
            {
                return Err(ParquetIoError::schema(
                    path,
                    format!(
                        "row {} has a non-finite position or velocity; expected finite numbers",
                        rows.len()
                    ),
                ));
            }
            rows.push(row);
        }
    }
    Ok((rows, src.provenance))
}

/// The rows of one drop's tracks, epoch-major (all users of epoch 1, then
/// epoch 2, …), the order `gen-traj` writes.
pub fn rows_of_drop(drop: u32, tracks: &[sdusc_model::mobility::Track]) -> Vec<TrajRow> {
    let epochs = tracks.first().map_or(0, |t| t.states.len());
    let mut rows = Vec::with_capacity(tracks.len() * epochs);
    for e in 0..epochs {
        for t in tracks {
            let st = t.states[e];
            rows.push(TrajRow {
                drop,
                epoch: e as u32 + 1,
                user_id: t.user as u32,
                bs_id: t.bs as u32,
                x_m: st.position.x,
                y_m: st.position.y,
                vx_mps: st.velocity.x,
                vy_mps: st.velocity.y,
            });
        }
    }
    rows
}
