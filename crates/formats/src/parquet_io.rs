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
    /// The cause is the source, not part of the message, so an error chain
    /// (`{:#}`) prints it once.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet { path: PathBuf, message: String },
    #[error("{path}: cannot write the Parquet file: {message}")]
    Write { path: PathBuf, message: String },
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
    fn write(path: &Path, e: impl std::fmt::Display) -> Self {
        Self::Write {
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
            .map_err(|e| ParquetIoError::write(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            writer,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetIoError> {
        self.writer
            .write(batch)
            .map_err(|e| ParquetIoError::write(&self.path, e))
    }

    /// Close the Parquet footer, fsync and rename into place.
    pub fn finish(self) -> Result<(), ParquetIoError> {
        let Self { path, file, writer } = self;
        writer
            .close()
            .map_err(|e| ParquetIoError::write(&path, e))?;
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
    /// Rows delivered so far: the file row of the next batch's first row.
    next_row: usize,
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
    /// How many columns of the file are called `name` (a repeated name
    /// would otherwise be read as its first column, the others ignored).
    pub fn columns_named(&self, name: &str) -> usize {
        self.schema
            .fields()
            .iter()
            .filter(|f| f.name() == name)
            .count()
    }

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
            next_row: 0,
        })
    }

    /// The next batch, or `None` at the end. Its schema metadata records
    /// its first row in the file, for the row numbers of `column_*` errors.
    pub fn next_batch(&mut self) -> Option<Result<RecordBatch, ParquetIoError>> {
        let batch = match self.reader.next()? {
            Ok(b) => b,
            Err(e) => return Some(Err(ParquetIoError::parquet(&self.path, e))),
        };
        let mut schema = batch.schema_ref().as_ref().clone();
        schema
            .metadata
            .insert(FIRST_ROW_KEY.to_string(), self.next_row.to_string());
        self.next_row += batch.num_rows();
        Some(
            batch
                .with_schema(Arc::new(schema))
                .map_err(|e| ParquetIoError::parquet(&self.path, e)),
        )
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

/// Column `name` of `batch` as f64 like [`column_f64`], with nulls read as
/// NaN (for columns where an empty cell means "not reported").
pub fn column_f64_or_nan(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<f64>, ParquetIoError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| missing_column(batch, name, path))?;
    if !col.data_type().is_numeric() && *col.data_type() != arrow::datatypes::DataType::Null {
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` has type {}; expected a numeric type",
                col.data_type()
            ),
        ));
    }
    let out = arrow::compute::cast(col, &arrow::datatypes::DataType::Float64)
        .map_err(|e| ParquetIoError::schema(path, format!("column `{name}`: {e}")))?;
    let arr = out
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .expect("cast to Float64 yields a Float64Array");
    Ok(arr.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

/// Column `name` of `batch` as u64, accepting any integer Arrow type;
/// negative values and nulls are errors naming the row in the file.
pub fn column_u64(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<u64>, ParquetIoError> {
    use arrow::array::{Int64Array, UInt64Array};
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
    check_no_nulls(batch, col, name, path)?;
    if let Some(a) = col.as_any().downcast_ref::<UInt64Array>() {
        return Ok(a.values().to_vec());
    }
    // Every other integer type fits in i64 (a lossless cast).
    let a = arrow::compute::cast(col, &arrow::datatypes::DataType::Int64)
        .map_err(|e| ParquetIoError::schema(path, format!("column `{name}`: {e}")))?;
    let a = a
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("cast to Int64 yields an Int64Array");
    if let Some((row, &v)) = a.values().iter().enumerate().find(|(_, v)| **v < 0) {
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` row {} is {v}; expected a non-negative integer",
                first_row(batch) + row
            ),
        ));
    }
    Ok(a.values().iter().map(|&v| v as u64).collect())
}

/// Schema metadata key of a batch read by [`ParquetSource`]: the row of the
/// file its first row is, so errors name rows in the file, not in the batch.
const FIRST_ROW_KEY: &str = "sdusc.first_row";

/// The row in the file of `batch`'s first row (0 for batches not read by
/// [`ParquetSource`]).
fn first_row(batch: &RecordBatch) -> usize {
    batch
        .schema_ref()
        .metadata()
        .get(FIRST_ROW_KEY)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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
    batch: &RecordBatch,
    arr: &arrow::array::ArrayRef,
    name: &str,
    path: &Path,
) -> Result<(), ParquetIoError> {
    if arr.null_count() > 0 {
        let row = (0..arr.len()).find(|&i| arr.is_null(i)).unwrap_or(0);
        return Err(ParquetIoError::schema(
            path,
            format!(
                "column `{name}` has {} null values (first at row {}); expected none",
                arr.null_count(),
                first_row(batch) + row
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
    check_no_nulls(batch, col, name, path)?;
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
    check_no_nulls(batch, &out, name, path)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, UInt64Array};

    /// Write `col` as column `id` to a fresh file; read it back batch by batch.
    fn read_back(col: ArrayRef) -> Result<Vec<u64>, ParquetIoError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.parquet");
        let batch = RecordBatch::try_from_iter([("id", col)]).unwrap();
        write_batch(&path, &batch, &Provenance::default()).unwrap();
        let mut src = ParquetSource::open(&path).unwrap();
        let mut out = Vec::new();
        while let Some(b) = src.next_batch() {
            out.extend(column_u64(&b.unwrap(), "id", &path)?);
        }
        Ok(out)
    }

    // Past the first read batch (65 536 rows): rows are counted in the file.
    const BAD_ROW: usize = 70_000;
    const ROWS: usize = 70_010;

    #[test]
    fn u64_above_i64_max_is_kept_not_turned_into_a_null() {
        let mut v = vec![1u64; ROWS];
        v[BAD_ROW] = u64::MAX;
        let got = read_back(Arc::new(UInt64Array::from(v.clone()))).unwrap();
        assert_eq!(got, v);
    }

    #[test]
    fn negative_and_null_ids_name_the_row_in_the_file() {
        let mut v = vec![Some(1i64); ROWS];
        v[BAD_ROW] = Some(-3);
        let err = read_back(Arc::new(Int64Array::from(v.clone())))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("row {BAD_ROW} is -3; expected a non-negative")),
            "{err}"
        );
        v[BAD_ROW] = None;
        let err = read_back(Arc::new(Int64Array::from(v)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("1 null values (first at row {BAD_ROW})")),
            "{err}"
        );
    }

    #[test]
    fn a_full_disk_is_a_write_error_naming_the_file() {
        let Ok(full) = File::create("/dev/full") else {
            return; // no /dev/full on this system
        };
        let batch =
            RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![7i64; 1000])) as _)])
                .unwrap();
        let mut writer = ArrowWriter::try_new(full, batch.schema(), None).unwrap();
        let path = Path::new("/dev/full");
        let res = writer
            .write(&batch)
            .and_then(|()| writer.close().map(drop))
            .map_err(|e| ParquetIoError::write(path, e));
        let err = res.unwrap_err().to_string();
        assert!(err.starts_with("/dev/full: cannot write"), "{err}");
        assert!(!err.contains("readable"), "{err}");
    }

    #[test]
    fn io_errors_print_their_cause_once_in_a_chain() {
        let dir = tempfile::tempdir().unwrap();
        let err = ParquetSource::open(&dir.path().join("missing.parquet")).unwrap_err();
        let mut chain = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            chain = format!("{chain}: {c}");
            cause = c.source();
        }
        let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
        assert!(chain.contains("missing.parquet"), "{chain}");
        assert_eq!(chain.matches("No such file").count(), 1, "{chain} ({os})");
    }
}
