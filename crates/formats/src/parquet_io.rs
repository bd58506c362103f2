//! Streaming Parquet I/O shared by every artifact: zstd-compressed, provenance
//! in the key-value metadata, written atomically, bounded row groups so memory
//! stays flat however many rows a stage produces.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::atomic::AtomicFile;
use crate::provenance::Provenance;

/// Rows per row group: large enough for good compression, small enough
/// that a writer's memory stays bounded.
pub const ROW_GROUP_ROWS: usize = 1 << 17;

/// Errors of Parquet artifacts, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ParquetIoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Schema { path: PathBuf, message: String },
}

impl ParquetIoError {
    pub fn schema(path: &Path, message: impl Into<String>) -> Self {
        Self::Schema {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
    fn parquet(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// A Parquet file being written atomically; visible on [`finish`](Self::finish).
pub struct ParquetSink {
    path: PathBuf,
    file: AtomicFile,
    writer: ArrowWriter<File>,
}

impl std::fmt::Debug for ParquetSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("path", &self.path)
            .finish()
    }
}

impl ParquetSink {
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        provenance: &Provenance,
    ) -> Result<Self, ParquetIoError> {
        let io = |source| ParquetIoError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = AtomicFile::create(path).map_err(io)?;
        let handle = file.try_clone().map_err(io)?;
        let kv = provenance
            .to_key_values()
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid zstd level"),
            ))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_key_value_metadata(Some(kv))
            .build();
        let writer = ArrowWriter::try_new(handle, schema, Some(props))
            .map_err(|e| ParquetIoError::parquet(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            writer,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetIoError> {
        self.writer
            .write(batch)
            .map_err(|e| ParquetIoError::parquet(&self.path, e))
    }

    /// Close the Parquet footer, fsync and rename into place.
    pub fn finish(self) -> Result<(), ParquetIoError> {
        let Self { path, file, writer } = self;
        writer
            .close()
            .map_err(|e| ParquetIoError::parquet(&path, e))?;
        file.commit()
            .map_err(|source| ParquetIoError::Io { path, source })
    }
}

/// Write one batch as a whole artifact.
pub fn write_batch(
    path: &Path,
    batch: &RecordBatch,
    provenance: &Provenance,
) -> Result<(), ParquetIoError> {
    let mut sink = ParquetSink::create(path, batch.schema(), provenance)?;
    sink.write(batch)?;
    sink.finish()
}

/// An opened Parquet file: its provenance and a batch iterator.
pub struct ParquetSource {
    pub path: PathBuf,
    pub provenance: Provenance,
    pub schema: SchemaRef,
    pub rows: usize,
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSource")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

impl ParquetSource {
    pub fn open(path: &Path) -> Result<Self, ParquetIoError> {
        let file = File::open(path).map_err(|source| ParquetIoError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| ParquetIoError::parquet(path, e))?;
        let meta = builder.metadata().file_metadata();
        let rows = usize::try_from(meta.num_rows()).unwrap_or(0);
        let provenance = Provenance::from_key_values(
            meta.key_value_metadata()
                .into_iter()
                .flatten()
                .filter_map(|kv| kv.value.as_deref().map(|v| (kv.key.as_str(), v))),
        );
        let schema = Arc::clone(builder.schema());
        let reader = builder
            .with_batch_size(65_536)
            .build()
            .map_err(|e| ParquetIoError::parquet(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            provenance,
            schema,
            rows,
            reader,
        })
    }

    /// The next batch, or `None` at the end.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ParquetIoError>> {
        let path = self.path.clone();
        self.reader
            .next()
            .map(|r| r.map_err(|e| ParquetIoError::parquet(&path, e)))
    }
}

/// Column `name` of `batch` as f64, accepting any numeric Arrow type;
/// a missing column or nulls are errors naming the file and column.
pub fn column_f64(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<f64>, ParquetIoError> {
    let arr = numeric_column(batch, name, path, &arrow::datatypes::DataType::Float64)?;
    let arr = arr
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .expect("cast to Float64 yields a Float64Array");
    Ok(arr.values().to_vec())
}

/// Column `name` of `batch` as u64, accepting any integer Arrow type;
/// negative values are errors.
pub fn column_u64(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<u64>, ParquetIoError> {
    use arrow::datatypes::DataType;
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| missing_column(batch, name, path))?;
    if !col.data_type().is_integer() {
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` has type {}; expected an integer type",
                col.data_type()
            ),
        ));
    }
    let as_i64 = arrow::compute::cast(col, &DataType::Int64);
    let values: Vec<u64> = match as_i64 {
        Ok(a) => {
            check_no_nulls(&a, name, path)?;
            let a = a
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .expect("Int64");
            let mut out = Vec::with_capacity(a.len());
            for (row, &v) in a.values().iter().enumerate() {
                if v < 0 {
                    return Err(ParquetIoError::schema(
                        path,
                        format!(
                            "column `{name}` row {row} (in this batch) is {v}; expected a non-negative integer"
                        ),
                    ));
                }
                out.push(v as u64);
            }
            out
        }
        Err(_) => {
            // UInt64 values above i64::MAX.
            let a = arrow::compute::cast(col, &DataType::UInt64)
                .map_err(|e| ParquetIoError::schema(path, e.to_string()))?;
            check_no_nulls(&a, name, path)?;
            a.as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
                .expect("UInt64")
                .values()
                .to_vec()
        }
    };
    Ok(values)
}

fn missing_column(batch: &RecordBatch, name: &str, path: &Path) -> ParquetIoError {
    let present: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    ParquetIoError::schema(
        path,
        format!(
            "missing column `{name}` (columns present: {})",
            present.join(", ")
        ),
    )
}

fn check_no_nulls(
    arr: &arrow::array::ArrayRef,
    name: &str,
    path: &Path,
) -> Result<(), ParquetIoError> {
    if arr.null_count() > 0 {
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` has {} null values; expected none",
                arr.null_count()
            ),
        ));
    }
    Ok(())
}

fn numeric_column(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
    to: &arrow::datatypes::DataType,
) -> Result<arrow::array::ArrayRef, ParquetIoError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| missing_column(batch, name, path))?;
    if !col.data_type().is_numeric() {
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` has type {}; expected a numeric type",
                col.data_type()
            ),
        ));
    }
    let out = arrow::compute::cast(col, to)
        .map_err(|e| ParquetIoError::schema(path, format!("column `{name}`: {e}")))?;
    check_no_nulls(&out, name, path)?;
    Ok(out)
}
