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
//!
//! [`read`] refuses a repeated column, and any position or velocity a
//! scenario cannot produce: positions finite with |x|, |y| ≤
//! [`MAX_POSITION_M`] (the farthest site plus the largest cell radius),
//! velocity components finite with |v| ≤ [`MAX_SPEED_MPS`] (the largest
//! `users.speed_mps`). Errors name the file, the row (0-based, counted over
//! the whole file) and the column.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use sdusc_model::scenario::{MAX_CELL_RADIUS_M, MAX_SITE_COORDINATE_M, MAX_SPEED_MPS};

use crate::parquet_io::{ParquetIoError, ParquetSource, column_f64, column_u64};
use crate::provenance::Provenance;

/// Largest |x_m|, |y_m| of a trajectory row, m.
pub const MAX_POSITION_M: f64 = MAX_SITE_COORDINATE_M + MAX_CELL_RADIUS_M;

const COLUMNS: [&str; 8] = [
    "drop", "epoch", "user_id", "bs_id", "x_m", "y_m", "vx_mps", "vy_mps",
];

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
    for name in COLUMNS {
        let count = src.columns_named(name);
        if count > 1 {
            return Err(ParquetIoError::schema(
                path,
                format!("column `{name}` appears {count} times; expected exactly one"),
            ));
        }
    }
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
            check_row(&row, rows.len(), path)?;
            rows.push(row);
        }
    }
    Ok((rows, src.provenance))
}

/// Positions and velocities in range (see the module docs); `index` is the
/// row's 0-based position in the file.
fn check_row(row: &TrajRow, index: usize, path: &Path) -> Result<(), ParquetIoError> {
    for (column, value, limit, what, unit) in [
        ("x_m", row.x_m, MAX_POSITION_M, "position", "m"),
        ("y_m", row.y_m, MAX_POSITION_M, "position", "m"),
        (
            "vx_mps",
            row.vx_mps,
            MAX_SPEED_MPS,
            "velocity component",
            "m/s",
        ),
        (
            "vy_mps",
            row.vy_mps,
            MAX_SPEED_MPS,
            "velocity component",
            "m/s",
        ),
    ] {
        if !(value.is_finite() && value.abs() <= limit) {
            return Err(ParquetIoError::schema(
                path,
                format!(
                    "row {index} (counting from 0), column `{column}` = {value:?}: \
                     expected a finite {what} within ±{limit} {unit}"
                ),
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parquet_io::write_batch;

    fn rows(n: usize) -> Vec<TrajRow> {
        (0..n)
            .map(|i| TrajRow {
                drop: 0,
                epoch: 1,
                user_id: i as u32,
                bs_id: 0,
                x_m: 50.0,
                y_m: 20.0,
                vx_mps: 3.0,
                vy_mps: -4.0,
            })
            .collect()
    }

    fn refused(rows: &[TrajRow]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_batch(&path, &to_batch(rows), &Provenance::default()).unwrap();
        read(&path).unwrap_err().to_string()
    }

    #[test]
    fn out_of_range_positions_and_velocities_name_row_and_column() {
        type Spoil = fn(&mut TrajRow);
        let cases: [(&str, Spoil); 5] = [
            ("vx_mps", |r| r.vx_mps = 1e300),
            ("vy_mps", |r| r.vy_mps = -2.0 * MAX_SPEED_MPS),
            ("vx_mps", |r| r.vx_mps = f64::NAN),
            ("x_m", |r| r.x_m = f64::INFINITY),
            ("y_m", |r| r.y_m = -1e12),
        ];
        for (column, spoil) in cases {
            let mut rs = rows(5);
            spoil(&mut rs[3]);
            let err = refused(&rs);
            assert!(
                err.contains("t.parquet")
                    && err.contains("row 3 ")
                    && err.contains(&format!("`{column}`"))
                    && err.contains("expected"),
                "{column}: {err}"
            );
        }
        // Rows in range read back as written.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ok.parquet");
        let mut rs = rows(3);
        rs[1].vx_mps = MAX_SPEED_MPS;
        write_batch(&path, &to_batch(&rs), &Provenance::default()).unwrap();
        assert_eq!(read(&path).unwrap().0, rs);
    }

    #[test]
    fn repeated_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twice.parquet");
        let batch = to_batch(&rows(2));
        let mut cols: Vec<(String, arrow::array::ArrayRef)> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(batch.columns().iter().cloned())
            .collect();
        cols.push(("vx_mps".into(), batch.column(6).clone()));
        let twice = RecordBatch::try_from_iter(cols).unwrap();
        write_batch(&path, &twice, &Provenance::default()).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("twice.parquet") && err.contains("`vx_mps` appears 2 times"),
            "{err}"
        );
    }
}
