//! The Parquet tables of the experiments: a column builder for writing and
//! typed column readers for the report. Every file carries the experiment's
//! facts (id, claim, definition) in its key-value metadata, so the report
//! needs nothing but the Parquet files.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use sdusc_formats::parquet_io::{ParquetSource, column_f64, column_u64, write_batch};
use sdusc_formats::provenance::Provenance;

use crate::{ExperimentError, Result};

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    Str(Vec<String>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    /// Nullable float (null where a value does not exist, never NaN).
    OptF64(Vec<Option<f64>>),
}

/// A table being built column by column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub cols: Vec<(String, Col)>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn col(mut self, name: &str, col: Col) -> Self {
        self.cols.push((name.to_string(), col));
        self
    }

    /// As an Arrow batch (columns must have equal lengths).
    pub fn batch(&self) -> Result<RecordBatch> {
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (name, col) in &self.cols {
            let (dt, nullable, arr): (DataType, bool, ArrayRef) = match col {
                Col::Str(v) => (
                    DataType::Utf8,
                    false,
                    Arc::new(StringArray::from_iter_values(v)),
                ),
                Col::U32(v) => (
                    DataType::UInt32,
                    false,
                    Arc::new(UInt32Array::from(v.clone())),
                ),
                Col::U64(v) => (
                    DataType::UInt64,
                    false,
                    Arc::new(UInt64Array::from(v.clone())),
                ),
                Col::F64(v) => (
                    DataType::Float64,
                    false,
                    Arc::new(Float64Array::from(v.clone())),
                ),
                Col::OptF64(v) => (
                    DataType::Float64,
                    true,
                    Arc::new(Float64Array::from(v.clone())),
                ),
            };
            fields.push(Field::new(name, dt, nullable));
            arrays.push(arr);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(ExperimentError::Table)
    }

    /// Write atomically as Parquet with `provenance` in the key-value metadata.
    pub fn write(&self, path: &Path, provenance: &Provenance) -> Result<()> {
        Ok(write_batch(path, &self.batch()?, provenance)?)
    }
}

/// A whole Parquet file read back: one batch and its provenance.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub batch: RecordBatch,
    pub provenance: Provenance,
    pub path: std::path::PathBuf,
}

impl Loaded {
    pub fn read(path: &Path) -> Result<Self> {
        let mut src = ParquetSource::open(path)?;
        let schema = src.schema.clone();
        let mut batches = Vec::new();
        while let Some(b) = src.next_batch() {
            batches.push(b?);
        }
        let batch = arrow::compute::concat_batches(&schema, &batches).map_err(|cause| {
            ExperimentError::Arrow {
                path: path.to_path_buf(),
                what: "joining the row groups".into(),
                cause,
            }
        })?;
        Ok(Self {
            batch,
            provenance: src.provenance,
            path: path.to_path_buf(),
        })
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn f64(&self, name: &str) -> Result<Vec<f64>> {
        Ok(column_f64(&self.batch, name, &self.path)?)
    }

    pub fn u64(&self, name: &str) -> Result<Vec<u64>> {
        Ok(column_u64(&self.batch, name, &self.path)?)
    }

    /// A nullable float column (nulls as `None`).
    pub fn opt_f64(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let col = self.column(name)?;
        let cast = arrow::compute::cast(col, &DataType::Float64).map_err(|cause| {
            ExperimentError::Arrow {
                path: self.path.clone(),
                what: format!("column `{name}`"),
                cause,
            }
        })?;
        let arr = cast
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| {
                ExperimentError::Data(format!(
                    "{}: column `{name}` is not numeric",
                    self.path.display()
                ))
            })?;
        Ok((0..arr.len())
            .map(|i| (!arr.is_null(i)).then(|| arr.value(i)))
            .collect())
    }

    pub fn str(&self, name: &str) -> Result<Vec<String>> {
        let col = self.column(name)?;
        let arr = col.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
            ExperimentError::Data(format!(
                "{}: column `{name}` has type {}; expected a string",
                self.path.display(),
                col.data_type()
            ))
        })?;
        Ok((0..arr.len()).map(|i| arr.value(i).to_string()).collect())
    }

    /// A metadata value written with `Provenance::with` (key without `sdusc.`).
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.provenance
            .extra
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| {
                ExperimentError::Data(format!(
                    "{}: no `sdusc.{key}` in the key-value metadata",
                    self.path.display()
                ))
            })
    }

    fn column(&self, name: &str) -> Result<&ArrayRef> {
        self.batch.column_by_name(name).ok_or_else(|| {
            ExperimentError::Data(format!("{}: no column `{name}`", self.path.display()))
        })
    }
}
