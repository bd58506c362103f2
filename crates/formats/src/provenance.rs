//! What produced an artifact: tool, version, scenario name and hash, seed.
//! Stored as Parquet key-value metadata (keys prefixed `sdusc.`) and in the
//! CKM header.

use std::collections::BTreeMap;

/// Provenance of one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    pub tool: String,
    pub tool_version: String,
    pub scenario_name: String,
    pub scenario_hash: String,
    pub seed: u64,
    /// Extra facts (e.g. `drops`, `noise_power_w`).
    pub extra: BTreeMap<String, String>,
}

impl Provenance {
    pub fn new(tool: &str, scenario_name: &str, scenario_hash: &str, seed: u64) -> Self {
        Self {
            tool: tool.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario_name: scenario_name.to_string(),
            scenario_hash: scenario_hash.to_string(),
            seed,
            extra: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.extra.insert(key.to_string(), value.to_string());
        self
    }

    /// As Parquet key-value pairs.
    pub fn to_key_values(&self) -> Vec<(String, String)> {
        let mut kv = vec![
            ("sdusc.tool".to_string(), self.tool.clone()),
            ("sdusc.tool_version".to_string(), self.tool_version.clone()),
            (
                "sdusc.scenario_name".to_string(),
                self.scenario_name.clone(),
            ),
            (
                "sdusc.scenario_hash".to_string(),
                self.scenario_hash.clone(),
            ),
            ("sdusc.seed".to_string(), self.seed.to_string()),
        ];
        for (k, v) in &self.extra {
            kv.push((format!("sdusc.{k}"), v.clone()));
        }
        kv
    }

    /// From Parquet key-value pairs (missing keys stay empty: foreign files have none).
    pub fn from_key_values<'a>(kv: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut p = Provenance::default();
        for (k, v) in kv {
            let Some(k) = k.strip_prefix("sdusc.") else {
                continue;
            };
            match k {
                "tool" => p.tool = v.to_string(),
                "tool_version" => p.tool_version = v.to_string(),
                "scenario_name" => p.scenario_name = v.to_string(),
                "scenario_hash" => p.scenario_hash = v.to_string(),
                "seed" => p.seed = v.parse().unwrap_or(0),
                other => {
                    p.extra.insert(other.to_string(), v.to_string());
                }
            }
        }
        p
    }
}

/// The shortest prefixes (at least 12 characters) of two hashes that tell
/// them apart, for mismatch messages.
pub fn distinct_prefixes<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    let common = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let n = (common + 1).max(12);
    let cut = |s: &'a str| s.get(..n.min(s.len())).unwrap_or(s);
    (cut(a), cut(b))
}
