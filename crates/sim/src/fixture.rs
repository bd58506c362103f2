//! The smoke scenario with a CKM of the true paths, for the unit tests of
//! the epoch's steps and the agents.

use std::sync::Arc;

use sdusc_ckm::query::CkmMap;
use sdusc_ckm::truth::oracle_ckm;
use sdusc_formats::traj::rows_of_drop;
use sdusc_model::Scenario;
use sdusc_model::geometry::Cells;
use sdusc_model::mobility::generate_drop;

use crate::world::{DropTruth, World};
use crate::{RunOptions, Scheme};

pub(crate) struct Fixture {
    pub world: World,
    pub truth: DropTruth,
    pub ckms: Vec<Option<Arc<CkmMap>>>,
    pub opts: RunOptions,
}

/// The smoke scenario cut to `epochs` epochs, drop 0, CKMs of the truth.
pub(crate) fn smoke(epochs: usize) -> Fixture {
    let mut raw = Scenario::from_toml(include_str!("../../../pipelines/smoke.toml"), "smoke")
        .unwrap()
        .raw;
    raw.epochs.count = epochs;
    let s = Scenario::validate(raw).unwrap();
    let cells = Cells::from_scenario(&s);
    let rows = rows_of_drop(0, &generate_drop(&s, &cells, 3, 0));
    let world = World::new(s);
    let truth = world.drop_truth(&rows, 0, 5).unwrap();
    let ckms = (0..world.scenario.num_bs())
        .map(|b| {
            Some(Arc::new(CkmMap::new(oracle_ckm(
                &world.scenario,
                &world.env,
                b,
            ))))
        })
        .collect();
    let opts = RunOptions {
        seed: 5,
        timing: false,
        ..RunOptions::default()
    };
    Fixture {
        world,
        truth,
        ckms,
        opts,
    }
}

pub(crate) fn scheme(name: &str) -> Scheme {
    Scheme::parse(name).unwrap()
}
