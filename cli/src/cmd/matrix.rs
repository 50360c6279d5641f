//! `matrix`: every ordered pair of pods (or workloads) on each port column.

use crate::args::{GroupBy, MatrixArgs, MatrixFormat};
use crate::input;
use crate::output::matrix_out::{self, Grid, Group};
use crate::query;
use anyhow::{bail, Result};
use netfence_analyzer::{Matrix, MatrixPort};
use netfence_model::ports::PortRef;
use netfence_model::{EndpointId, Model};
use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

pub fn run(args: MatrixArgs) -> Result<ExitCode> {
    let input = input::load(&args.input)?;
    let model = &input.model;
    let cluster = &model.cluster;
    let shown: Vec<EndpointId> = cluster
        .endpoints
        .iter()
        .filter(|e| {
            input
                .only_namespace
                .as_deref()
                .is_none_or(|ns| cluster.namespace(e.namespace).name == ns)
        })
        .map(|e| e.id)
        .collect();
    if shown.is_empty() {
        match &input.only_namespace {
            Some(ns) => bail!("no pods or workloads in namespace {ns}"),
            None => bail!("no pods or workloads in the input"),
        }
    }
    let ports = if args.ports.is_empty() {
        default_ports(model, &shown)
    } else {
        args.ports
            .iter()
            .map(|p| query::matrix_port(p))
            .collect::<Result<Vec<_>>>()?
    };
    let matrix = Matrix::compute(model, &ports);
    let groups = groups(model, &shown, args.by);
    let grid = Grid::new(model, &matrix, groups);
    let out = match args.output {
        MatrixFormat::Table => matrix_out::table(&grid),
        MatrixFormat::Json => matrix_out::json(&grid, args.by == GroupBy::Workload)?,
        MatrixFormat::Csv => matrix_out::csv(&grid),
        MatrixFormat::Dot => matrix_out::dot(&grid),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Every container port the shown endpoints declare, or 80/TCP when none does.
fn default_ports(model: &Model, shown: &[EndpointId]) -> Vec<MatrixPort> {
    let set: BTreeSet<(u16, netfence_model::Protocol)> = shown
        .iter()
        .flat_map(|e| model.cluster.endpoint(*e).ports.iter())
        .map(|p| (p.port, p.protocol))
        .collect();
    if set.is_empty() {
        return vec![MatrixPort {
            port: PortRef::Number(80),
            protocol: netfence_model::Protocol::Tcp,
        }];
    }
    set.into_iter()
        .map(|(port, protocol)| MatrixPort {
            port: PortRef::Number(port),
            protocol,
        })
        .collect()
}

fn groups(model: &Model, shown: &[EndpointId], by: GroupBy) -> Vec<Group> {
    let cluster = &model.cluster;
    match by {
        GroupBy::Pod => shown
            .iter()
            .map(|&e| Group {
                name: cluster.endpoint_name(e),
                namespace: cluster
                    .namespace(cluster.endpoint(e).namespace)
                    .name
                    .clone(),
                members: vec![e],
            })
            .collect(),
        GroupBy::Workload => {
            let mut by_name: BTreeMap<String, Group> = BTreeMap::new();
            for &e in shown {
                let ep = cluster.endpoint(e);
                let name = match ep.workload {
                    Some(w) => cluster.workload_key(w),
                    None => cluster.endpoint_name(e),
                };
                by_name
                    .entry(name.clone())
                    .or_insert_with(|| Group {
                        name,
                        namespace: cluster.namespace(ep.namespace).name.clone(),
                        members: Vec::new(),
                    })
                    .members
                    .push(e);
            }
            by_name.into_values().collect()
        }
    }
}
